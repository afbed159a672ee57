-- Search over PostgreSQL: full text (tsvector + GIN), typo correction (pg_trgm), suggestions,
-- and query statistics.

-- name: search_products
-- Matches, one page of them and the facets of all of them, in one round trip. The facets come
-- back as the matches' codes concatenated, 4 bytes each, for the worker to count and label: a
-- product's facet codes, then, when it is priced in the currency of the buckets, its price
-- bucket b as the code -1 - b.
-- $1 tsquery text of the whole words; filters: $2 category ids, $3 vendor, $4/$5 price bounds,
-- $6 currency, $7 tags (all), $8 attribute groups (jsonb: every group has a document the
-- attributes contain), $9 in stock; $10 sort, $11 limit, $12 offset; $13 the currency of the
-- price buckets, $14 their edges. What is searched ("found_by"): the whole words; when they find
-- nothing and no active product holds them (not just the filters left nothing), $15, the same
-- words with the last one as a prefix, if an active product matches that; else the words $16,
-- each of at least 3 letters replaced by the nearest dictionary word of similarity at least $17
-- ("words"), when that changed any. The filters are written out twice, for the whole words and
-- for the fallback: the search of the fallback runs only when the first found nothing.
WITH whole AS MATERIALIZED (
    SELECT p.id, p.price_amount, p.created_at, p.units_sold_30d,
           p.facet_codes || CASE WHEN p.currency = $13
                                 THEN int4send(-1 - width_bucket(p.price_amount, $14::bigint[]))
                                 ELSE ''::bytea END AS codes,
           CASE WHEN $10 = 'relevance' THEN ts_rank(p.search_vector, w.query) END AS rank
    FROM products p, to_tsquery('english', $1) AS w (query)
    WHERE p.search_vector @@ w.query
      AND p.status = 'active'
      AND ($2::uuid[] IS NULL OR p.category_id = ANY ($2))
      AND ($3::uuid IS NULL OR p.vendor_id = $3)
      AND ($4::bigint IS NULL OR p.price_amount >= $4)
      AND ($5::bigint IS NULL OR p.price_amount <= $5)
      AND ($6::text IS NULL OR p.currency = $6)
      AND ($7::text[] IS NULL OR p.tags @> $7)
      AND ($8::jsonb IS NULL OR NOT EXISTS (
              SELECT 1 FROM jsonb_array_elements($8) AS wanted (grp)
              WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(wanted.grp) AS alt (doc)
                                WHERE p.attributes @> alt.doc)))
      AND ($9::boolean IS NULL OR p.in_stock = $9)
),
-- (the probes count rather than ask EXISTS: for a first row, a generic plan may choose to scan
-- the whole table, which for words nothing holds is the worst plan there is)
probe AS MATERIALIZED (
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM whole) THEN 'whole'
        WHEN (SELECT count(*) FROM products p
              WHERE p.search_vector @@ to_tsquery('english', $1) AND p.status = 'active') > 0
            THEN 'whole'
        WHEN (SELECT count(*) FROM products p
              WHERE p.search_vector @@ to_tsquery('english', $15) AND p.status = 'active') > 0
            THEN 'prefix'
        ELSE 'corrected' END AS found_by
),
corrected AS MATERIALIZED (
    SELECT array_agg(CASE WHEN length(w.word) >= 3
                          THEN COALESCE((SELECT t.term FROM search_terms t
                                         WHERE similarity(t.term, w.word) >= $17
                                         ORDER BY t.term <-> w.word
                                         LIMIT 1), w.word)
                          ELSE w.word END
                     ORDER BY w.n) AS words
    FROM unnest($16::text[]) WITH ORDINALITY AS w (word, n)
    WHERE (SELECT found_by FROM probe) = 'corrected'
),
chosen AS MATERIALIZED (
    SELECT x.found_by, x.words,
           to_tsquery('english', CASE x.found_by WHEN 'prefix' THEN $15
                                                 ELSE array_to_string(x.words, ' & ') END) AS query
    FROM (SELECT CASE WHEN p.found_by <> 'corrected' THEN p.found_by
                      WHEN c.words IS DISTINCT FROM $16::text[] THEN 'corrected'
                      ELSE 'whole' END AS found_by,
                 c.words
          FROM probe p, corrected c) x
),
fallback AS MATERIALIZED (
    SELECT p.id, p.price_amount, p.created_at, p.units_sold_30d,
           p.facet_codes || CASE WHEN p.currency = $13
                                 THEN int4send(-1 - width_bucket(p.price_amount, $14::bigint[]))
                                 ELSE ''::bytea END AS codes,
           CASE WHEN $10 = 'relevance' THEN ts_rank(p.search_vector, w.query) END AS rank
    FROM products p, chosen w
    WHERE w.found_by <> 'whole' AND p.search_vector @@ w.query
      AND p.status = 'active'
      AND ($2::uuid[] IS NULL OR p.category_id = ANY ($2))
      AND ($3::uuid IS NULL OR p.vendor_id = $3)
      AND ($4::bigint IS NULL OR p.price_amount >= $4)
      AND ($5::bigint IS NULL OR p.price_amount <= $5)
      AND ($6::text IS NULL OR p.currency = $6)
      AND ($7::text[] IS NULL OR p.tags @> $7)
      AND ($8::jsonb IS NULL OR NOT EXISTS (
              SELECT 1 FROM jsonb_array_elements($8) AS wanted (grp)
              WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(wanted.grp) AS alt (doc)
                                WHERE p.attributes @> alt.doc)))
      AND ($9::boolean IS NULL OR p.in_stock = $9)
),
matches AS NOT MATERIALIZED (
    SELECT * FROM whole UNION ALL SELECT * FROM fallback
),
page AS (
    SELECT m.id, m.rank, row_number() OVER () AS n
    FROM (SELECT id, rank FROM matches m
          ORDER BY (CASE WHEN $10 = 'relevance' THEN m.rank END) DESC NULLS LAST,
                   (CASE WHEN $10 = 'price_asc' THEN m.price_amount END) ASC NULLS LAST,
                   (CASE WHEN $10 = 'price_desc' THEN m.price_amount END) DESC NULLS LAST,
                   (CASE WHEN $10 = 'newest' THEN m.created_at END) DESC NULLS LAST,
                   (CASE WHEN $10 = 'popular' THEN m.units_sold_30d END) DESC NULLS LAST,
                   m.id DESC
          LIMIT $11 OFFSET $12) m
)
SELECT
    (SELECT found_by FROM chosen) AS found_by,
    (SELECT words FROM chosen) AS words,
    (SELECT count(*) FROM matches) AS total,
    (SELECT COALESCE(json_agg(json_build_object(
                'id', p.id, 'slug', p.slug, 'name', p.name, 'brand', p.brand, 'vendorId', p.vendor_id,
                'categoryId', p.category_id, 'status', p.status, 'priceAmount', p.price_amount,
                'compareAtAmount', p.compare_at_amount, 'currency', p.currency, 'image', p.images -> 0,
                'tags', p.tags, 'createdAt', p.created_at,
                'inStock', p.in_stock)
            ORDER BY page.n), '[]')
     FROM page JOIN products p ON p.id = page.id)::text AS items,
    (SELECT COALESCE(string_agg(codes, ''::bytea), ''::bytea) FROM matches) AS codes;

-- name: key_lexeme
-- The longest lexeme the search configuration makes of the words (NULL if all are stop words).
SELECT w FROM unnest(tsvector_to_array(to_tsvector('english', $1))) AS w ORDER BY length(w) DESC, w LIMIT 1;

-- name: correct_words
-- Each word, or the nearest dictionary word by trigram distance when it is close enough ($2).
SELECT w.word,
       (SELECT t.term FROM search_terms t
        WHERE similarity(t.term, w.word) >= $2
        ORDER BY t.term <-> w.word
        LIMIT 1) AS nearest
FROM unnest($1::text[]) WITH ORDINALITY AS w (word, n)
ORDER BY w.n;

-- name: suggest_terms
SELECT term FROM search_terms WHERE term LIKE $1 ORDER BY length(term), term LIMIT $2;

-- name: suggest_products
SELECT id, slug, name
FROM products, to_tsquery('english', $1) AS query
WHERE status = 'active' AND search_vector @@ query
ORDER BY units_sold_30d DESC, ts_rank(search_vector, query) DESC, id
LIMIT $2;

-- name: record_query_stats
-- Counts a worker gathered, added to the day's totals (parallel arrays: one element per query).
-- Rows are written in key order: workers flushing the same queries at once then lock them in
-- the same order and wait for each other instead of deadlocking.
INSERT INTO search_query_stats AS s (day, query, searches, zero_results, last_searched_at)
SELECT q.day, q.query, q.searches, q.zero_results, now()
FROM unnest($1::date[], $2::text[], $3::int[], $4::int[]) AS q (day, query, searches, zero_results)
ORDER BY q.day, q.query
ON CONFLICT (day, query) DO UPDATE
SET searches = s.searches + EXCLUDED.searches,
    zero_results = s.zero_results + EXCLUDED.zero_results,
    last_searched_at = now();

-- name: query_totals
SELECT COALESCE(sum(searches), 0)::bigint AS searches, COALESCE(sum(zero_results), 0)::bigint AS zero_results
FROM search_query_stats WHERE day BETWEEN $1 AND $2;

-- name: popular_queries
SELECT query, sum(searches)::int AS searches, sum(zero_results)::int AS zero_results
FROM search_query_stats WHERE day BETWEEN $1 AND $2
GROUP BY query ORDER BY sum(searches) DESC, query LIMIT $3;

-- name: zero_result_queries
SELECT query, sum(searches)::int AS searches, sum(zero_results)::int AS zero_results
FROM search_query_stats WHERE day BETWEEN $1 AND $2 AND zero_results > 0
GROUP BY query ORDER BY sum(zero_results) DESC, query LIMIT $3;

-- name: product_documents
-- What the Elasticsearch index holds of each product (active or not: the index drops the rest).
SELECT p.id, p.slug, p.name, p.description, p.brand, p.tags, p.attributes, p.status, p.vendor_id,
       ven.name AS vendor_name, p.category_id, c.path AS category_path, c.name AS category_name,
       p.price_amount, p.compare_at_amount, p.currency, p.images -> 0 AS image, p.created_at,
       p.units_sold_30d,
       p.in_stock
FROM products p
JOIN vendors ven ON ven.id = p.vendor_id
LEFT JOIN categories c ON c.id = p.category_id
WHERE p.id = ANY ($1::uuid[]);

-- name: all_product_ids_after
-- Active product ids in id order, a batch at a time (for a full reindex).
SELECT id FROM products WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2;

-- name: products_of_categories
-- Products filed anywhere under these categories (their documents carry the category path).
SELECT p.id FROM products p JOIN categories c ON c.id = p.category_id WHERE c.path && $1::uuid[];

-- name: facet_labels
-- Facet values by code, labelled (a vendor by its name); codes are never renumbered.
SELECT fv.id, fv.kind, fv.key, fv.value, ven.name AS vendor_name
FROM facet_values fv
LEFT JOIN vendors ven ON fv.kind = 'vendor' AND ven.id::text = fv.key
WHERE fv.id = ANY ($1::int[]);

-- Vendors' bulk writes: set-wise, through temporary tables and arrays, never row by row.

-- Products ----------------------------------------------------------------------------------------

-- name: plan_for_keyed_batches
-- A batch touches rows by unique keys, whose index pages are hot: an index probe costs little
-- more than a sequential page. Planned with the default cost (4), joins of 10,000 keys to a big
-- vendor's rows read all of them instead (UPDATE ... FROM unnest: 660 ms against ~60 ms).
-- And the statements are planned for any vendor, not for this one: a vendor the statistics do
-- not know yet (new since the last ANALYZE) is estimated at one row, and a probe by
-- (vendor, key) then walks the vendor's index (vendor_id, created_at) filtering every key,
-- quadratic in the batch once the vendor has its rows: 26 s for 10,000 products, against 30 ms
-- for the unique key the generic plan probes.
-- (set_config(..., true) is SET LOCAL, both in one statement)
SELECT set_config('random_page_cost', '1.1', true), set_config('plan_cache_mode', 'force_generic_plan', true);

-- Lookups by many keys probe a unique index once per key: LATERAL ... LIMIT 1 keeps the probe a
-- nested loop whatever the planner thinks of the vendor's size ("= ANY(array)", or a plain join,
-- read every row of a big vendor: 150-190 ms for 10,000 keys among 200,000 products, against
-- 25 ms for the probes).

-- name: categories_by_slug
SELECT c.slug, c.id
FROM unnest($1::text[]) AS k (slug)
CROSS JOIN LATERAL (SELECT slug, id FROM categories WHERE slug = k.slug LIMIT 1) c;

-- name: products_by_key
SELECT p.id, p.vendor_sku, p.slug, p.status, p.price_amount, p.compare_at_amount, p.currency
FROM unnest($2::text[]) AS k (key)
CROSS JOIN LATERAL (SELECT * FROM products WHERE vendor_id = $1 AND vendor_sku = k.key LIMIT 1) p;

-- name: variants_by_sku
SELECT v.sku, v.id, v.product_id, p.vendor_sku, p.slug, p.status, p.price_amount, p.currency,
       p.compare_at_amount
FROM unnest($2::text[]) AS k (sku)
CROSS JOIN LATERAL (SELECT * FROM product_variants WHERE vendor_id = $1 AND sku = k.sku LIMIT 1) v
JOIN products p ON p.id = v.product_id;

-- name: slugs_taken
SELECT p.slug, p.id
FROM unnest($1::text[]) AS k (slug)
CROSS JOIN LATERAL (SELECT slug, id FROM products WHERE slug = k.slug LIMIT 1) p;

-- name: adopt_products
-- Products made before they had a key (through the product API) take the key of their variant's SKU.
UPDATE products p SET vendor_sku = t.key
FROM unnest($2::uuid[], $3::text[]) AS t (id, key)
WHERE p.id = t.id AND p.vendor_id = $1 AND p.vendor_sku IS NULL;

-- name: create_bulk_products
CREATE TEMPORARY TABLE bulk_products (
    id uuid, vendor_sku text, category_id uuid, name text, slug text, description text, brand text,
    tags text[], attributes jsonb, options jsonb, images jsonb, status text, price_amount bigint,
    compare_at_amount bigint, currency text, weight_grams integer, length_mm integer,
    width_mm integer, height_mm integer, known boolean
) ON COMMIT DROP;

-- name: create_bulk_variants
CREATE TEMPORARY TABLE bulk_variants (
    id uuid, vendor_sku text, sku text, name text, option_values jsonb, price_amount bigint,
    price_adjustment bigint, barcode text, weight_grams integer, position integer, known boolean
) ON COMMIT DROP;

-- name: insert_bulk_facet_values
-- The facet values the batch's products name (category, vendor $1, attributes), numbered once.
INSERT INTO facet_values (kind, key, value)
SELECT DISTINCT f.kind, f.key, f.value
FROM bulk_products b
CROSS JOIN LATERAL (
    SELECT 'category', b.category_id::text, '' WHERE b.category_id IS NOT NULL
    UNION ALL SELECT 'vendor', $1::uuid::text, ''
    UNION ALL SELECT 'attribute', a.key, a.value FROM jsonb_each_text(b.attributes) a
) AS f (kind, key, value)
ORDER BY 1, 2, 3
ON CONFLICT DO NOTHING;

-- name: derived_columns_given
-- The next statements compute every product's search document and facet codes themselves: the
-- update triggers skip their rows (migration 0009). Reset by derived_columns_left_to_triggers.
SELECT set_config('citadel.derived_columns', 'given', true);

-- name: derived_columns_left_to_triggers
SELECT set_config('citadel.derived_columns', '', true);

-- Products the batch found by their key ("known": their id is the one found) are updated in
-- place where they differ, and only those: an identical product is neither locked nor given a
-- new version, and its search document and facet codes are not computed. New keys are
-- inserted; one a concurrent call made a moment ago still meets ON CONFLICT. (Products and
-- variants are never deleted, so a known key is still there.)

-- name: update_known_products
-- The batch's known products that differ, changed in place, their search documents and facet
-- codes computed here where their sources changed (the row triggers skip them). Returns the
-- products updated.
UPDATE products AS p SET
    category_id = b.category_id, name = b.name, slug = b.slug, description = b.description,
    brand = b.brand, tags = b.tags, attributes = b.attributes, options = b.options, images = b.images,
    status = b.status, price_amount = b.price_amount, compare_at_amount = b.compare_at_amount,
    currency = b.currency, weight_grams = b.weight_grams, length_mm = b.length_mm,
    width_mm = b.width_mm, height_mm = b.height_mm,
    published_at = COALESCE(p.published_at, CASE WHEN b.status = 'active' THEN now() END),
    updated_at = now(),
    -- each derived column is computed again only when what it is made of changed
    search_vector = CASE
        WHEN (p.name, p.brand, p.tags, p.category_id, p.description)
             IS NOT DISTINCT FROM (b.name, b.brand, b.tags, b.category_id, b.description)
        THEN p.search_vector
        ELSE product_search_document(b.name, b.brand, b.tags, c.name, b.description) END,
    facet_codes = CASE
        WHEN (p.category_id, p.attributes) IS NOT DISTINCT FROM (b.category_id, b.attributes)
        THEN p.facet_codes
        ELSE COALESCE((
            SELECT string_agg(int4send(fv.id), ''::bytea ORDER BY f.ord, fv.id)
            FROM (SELECT 1, 'category', b.category_id::text, '' WHERE b.category_id IS NOT NULL
                  UNION ALL SELECT 2, 'vendor', $1::uuid::text, ''
                  UNION ALL SELECT 3, 'attribute', a.key, a.value FROM jsonb_each_text(b.attributes) a)
                 AS f (ord, kind, key, value)
            CROSS JOIN LATERAL (SELECT id FROM facet_values
                                WHERE kind = f.kind AND key = f.key AND value = f.value LIMIT 1) fv
        ), ''::bytea) END
FROM bulk_products b
LEFT JOIN categories c ON c.id = b.category_id
WHERE b.known AND p.id = b.id AND p.vendor_id = $1
  AND (p.category_id, p.name, p.slug, p.description, p.brand, p.tags, p.attributes, p.options,
       p.images, p.status, p.price_amount, p.compare_at_amount, p.currency, p.weight_grams,
       p.length_mm, p.width_mm, p.height_mm)
      IS DISTINCT FROM
      (b.category_id, b.name, b.slug, b.description, b.brand, b.tags, b.attributes, b.options,
       b.images, b.status, b.price_amount, b.compare_at_amount, b.currency, b.weight_grams,
       b.length_mm, b.width_mm, b.height_mm)
RETURNING p.id, p.vendor_sku, false AS created;

-- name: insert_new_products
-- The batch's new products, keyed by (vendor $1, vendor_sku), with their search documents and
-- facet codes computed here for the whole batch. A key made meanwhile by a concurrent call is
-- updated if it differs (not returned if identical).
WITH fresh AS MATERIALIZED (
    SELECT * FROM bulk_products WHERE NOT known
), codes AS (
    SELECT b.id, string_agg(int4send(fv.id), ''::bytea ORDER BY f.ord, fv.id) AS facet_codes
    FROM fresh b
    CROSS JOIN LATERAL (
        SELECT 1, 'category', b.category_id::text, '' WHERE b.category_id IS NOT NULL
        UNION ALL SELECT 2, 'vendor', $1::uuid::text, ''
        UNION ALL SELECT 3, 'attribute', a.key, a.value FROM jsonb_each_text(b.attributes) a
    ) AS f (ord, kind, key, value)
    JOIN facet_values fv ON fv.kind = f.kind AND fv.key = f.key AND fv.value = f.value
    GROUP BY b.id
)
INSERT INTO products AS p (id, vendor_id, vendor_sku, category_id, name, slug, description, brand, tags,
                           attributes, options, images, status, price_amount, compare_at_amount,
                           currency, weight_grams, length_mm, width_mm, height_mm, published_at,
                           search_vector, facet_codes)
SELECT b.id, $1, b.vendor_sku, b.category_id, b.name, b.slug, b.description, b.brand, b.tags,
       b.attributes, b.options, b.images, b.status, b.price_amount, b.compare_at_amount, b.currency,
       b.weight_grams, b.length_mm, b.width_mm, b.height_mm,
       CASE WHEN b.status = 'active' THEN now() END,
       product_search_document(b.name, b.brand, b.tags, c.name, b.description),
       COALESCE(codes.facet_codes, ''::bytea)
FROM fresh b
LEFT JOIN codes ON codes.id = b.id
LEFT JOIN categories c ON c.id = b.category_id
ON CONFLICT (vendor_id, vendor_sku) DO UPDATE SET
    category_id = EXCLUDED.category_id, name = EXCLUDED.name, slug = EXCLUDED.slug,
    description = EXCLUDED.description, brand = EXCLUDED.brand, tags = EXCLUDED.tags,
    attributes = EXCLUDED.attributes, options = EXCLUDED.options, images = EXCLUDED.images,
    status = EXCLUDED.status, price_amount = EXCLUDED.price_amount,
    compare_at_amount = EXCLUDED.compare_at_amount, currency = EXCLUDED.currency,
    weight_grams = EXCLUDED.weight_grams, length_mm = EXCLUDED.length_mm,
    width_mm = EXCLUDED.width_mm, height_mm = EXCLUDED.height_mm,
    published_at = COALESCE(p.published_at, EXCLUDED.published_at), updated_at = now(),
    search_vector = EXCLUDED.search_vector, facet_codes = EXCLUDED.facet_codes
WHERE (p.category_id, p.name, p.slug, p.description, p.brand, p.tags, p.attributes, p.options,
       p.images, p.status, p.price_amount, p.compare_at_amount, p.currency, p.weight_grams,
       p.length_mm, p.width_mm, p.height_mm)
      IS DISTINCT FROM
      (EXCLUDED.category_id, EXCLUDED.name, EXCLUDED.slug, EXCLUDED.description, EXCLUDED.brand,
       EXCLUDED.tags, EXCLUDED.attributes, EXCLUDED.options, EXCLUDED.images, EXCLUDED.status,
       EXCLUDED.price_amount, EXCLUDED.compare_at_amount, EXCLUDED.currency, EXCLUDED.weight_grams,
       EXCLUDED.length_mm, EXCLUDED.width_mm, EXCLUDED.height_mm)
RETURNING p.id, p.vendor_sku, (p.xmax = 0) AS created;

-- name: update_known_variants
-- The batch's known variants (their id is the one found) that differ, changed in place.
-- Returns the products touched.
UPDATE product_variants AS v SET
    barcode = b.barcode, name = b.name, option_values = b.option_values, price_amount = b.price_amount,
    price_adjustment = b.price_adjustment, weight_grams = b.weight_grams, position = b.position,
    status = 'active', updated_at = now()
FROM bulk_variants b
WHERE b.known AND v.id = b.id AND v.vendor_id = $1
  AND (v.barcode, v.name, v.option_values, v.price_amount, v.price_adjustment, v.weight_grams,
       v.position, v.status)
      IS DISTINCT FROM
      (b.barcode, b.name, b.option_values, b.price_amount, b.price_adjustment, b.weight_grams,
       b.position, 'active')
RETURNING v.product_id;

-- name: insert_new_variants
-- The batch's new variants by (vendor $1, sku), each under its row's product; a SKU of another
-- product is never moved (the service refuses those rows before, and the WHERE below keeps a
-- SKU a concurrent call gave another product). Returns the products touched.
INSERT INTO product_variants AS v (id, product_id, vendor_id, sku, barcode, name, option_values,
                                   price_amount, price_adjustment, weight_grams, position)
SELECT b.id, p.id, $1, b.sku, b.barcode, b.name, b.option_values, b.price_amount, b.price_adjustment,
       b.weight_grams, b.position
FROM bulk_variants b
CROSS JOIN LATERAL (SELECT id FROM products WHERE vendor_id = $1 AND vendor_sku = b.vendor_sku LIMIT 1) p
WHERE NOT b.known
ON CONFLICT (vendor_id, sku) DO UPDATE SET
    barcode = EXCLUDED.barcode, name = EXCLUDED.name, option_values = EXCLUDED.option_values,
    price_amount = EXCLUDED.price_amount, price_adjustment = EXCLUDED.price_adjustment,
    weight_grams = EXCLUDED.weight_grams, position = EXCLUDED.position, status = 'active',
    updated_at = now()
WHERE v.product_id = EXCLUDED.product_id
  AND (v.barcode, v.name, v.option_values, v.price_amount, v.price_adjustment, v.weight_grams,
       v.position, v.status)
      IS DISTINCT FROM
      (EXCLUDED.barcode, EXCLUDED.name, EXCLUDED.option_values, EXCLUDED.price_amount,
       EXCLUDED.price_adjustment, EXCLUDED.weight_grams, EXCLUDED.position, 'active')
RETURNING v.product_id;

-- Stock -------------------------------------------------------------------------------------------

-- name: variants_of_vendor
SELECT v.sku, v.id
FROM unnest($2::text[]) AS k (sku)
CROSS JOIN LATERAL (SELECT sku, id FROM product_variants WHERE vendor_id = $1 AND sku = k.sku LIMIT 1) v;

-- name: warehouses_by_code
SELECT w.code, w.id FROM unnest($1::text[]) AS k (code) JOIN warehouses w ON w.code = k.code;

-- name: ensure_stock_rows
-- Rows the batch needs, made empty first so that all of them can be locked before any is read.
INSERT INTO stock (variant_id, warehouse_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[])
ON CONFLICT DO NOTHING;

-- name: apply_stock
-- New on-hand counts (and thresholds where $5 says so) for locked rows, with their ledger rows.
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::bool[], $6::int[],
                         $7::text[], $8::text[])
             AS t (variant_id, warehouse_id, on_hand, threshold, set_threshold, delta, reason, reference)
), changed AS (
    UPDATE stock s
    SET on_hand = i.on_hand,
        low_stock_threshold = CASE WHEN i.set_threshold THEN i.threshold ELSE s.low_stock_threshold END,
        updated_at = now()
    FROM input i
    WHERE s.variant_id = i.variant_id AND s.warehouse_id = i.warehouse_id
    RETURNING s.variant_id
)
INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reason, reference, actor_id)
SELECT variant_id, warehouse_id, delta, reason, reference, $9 FROM input WHERE delta <> 0;

-- name: lock_products
SELECT p.id FROM unnest($1::uuid[]) AS k (id) JOIN products p ON p.id = k.id ORDER BY p.id FOR UPDATE OF p;

-- name: refresh_products_in_stock
-- Whether each product has an active variant with stock to offer (after the batch's changes).
UPDATE products p
SET in_stock = EXISTS (SELECT 1 FROM product_variants v
                       JOIN stock s ON s.variant_id = v.id
                       JOIN warehouses w ON w.id = s.warehouse_id
                       WHERE v.product_id = p.id AND v.status = 'active' AND w.is_active
                         AND s.on_hand > s.reserved)
FROM unnest($1::uuid[]) AS k (id)
WHERE p.id = k.id
RETURNING p.id, p.in_stock, p.status;

-- Prices ------------------------------------------------------------------------------------------

-- name: price_targets
-- The variants of SKUs $2 of vendor $1 with their products, locked in the order of $2 (sorted by
-- the caller, so two batches lock what they share in the same order).
SELECT t.sku, t.variant_id, t.variant_price, t.product_id, t.vendor_sku, t.currency, t.price_amount,
       t.compare_at_amount,
       (SELECT count(*) FROM product_variants o WHERE o.product_id = t.product_id)::int AS variants
FROM unnest($2::text[]) WITH ORDINALITY AS k (sku, n)
CROSS JOIN LATERAL (
    SELECT v.sku, v.id AS variant_id, v.price_amount AS variant_price, p.id AS product_id,
           p.vendor_sku, p.currency, p.price_amount, p.compare_at_amount
    FROM product_variants v JOIN products p ON p.id = v.product_id
    WHERE v.vendor_id = $1 AND v.sku = k.sku
    LIMIT 1
    FOR UPDATE OF v, p
) t
ORDER BY k.n;

-- name: products_by_key_for_update
-- Products of keys $2 of vendor $1, locked in the order of $2 (sorted by the caller).
SELECT p.id, p.vendor_sku, p.currency, p.price_amount, p.compare_at_amount
FROM unnest($2::text[]) WITH ORDINALITY AS k (key, n)
CROSS JOIN LATERAL (
    SELECT id, vendor_sku, currency, price_amount, compare_at_amount FROM products
    WHERE vendor_id = $1 AND vendor_sku = k.key
    LIMIT 1
    FOR UPDATE
) p
ORDER BY k.n;

-- name: set_product_prices
UPDATE products p SET price_amount = t.price, compare_at_amount = t.compare_at, updated_at = now()
FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS t (id, price, compare_at)
WHERE p.id = t.id AND p.vendor_id = $1;

-- name: set_variant_prices
UPDATE product_variants v SET price_amount = t.price, updated_at = now()
FROM unnest($2::uuid[], $3::bigint[]) AS t (id, price)
WHERE v.id = t.id AND v.vendor_id = $1;

-- Jobs --------------------------------------------------------------------------------------------

-- name: find_job
SELECT * FROM bulk_jobs WHERE vendor_id = $1 AND idempotency_key = $2;

-- name: insert_job
INSERT INTO bulk_jobs (id, vendor_id, kind, format, idempotency_key, fingerprint, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (vendor_id, idempotency_key) DO NOTHING
RETURNING *;

-- name: discard_upload
DELETE FROM bulk_jobs WHERE id = $1 AND status = 'uploading';

-- name: queue_job
UPDATE bulk_jobs SET status = 'queued', total_rows = $2, updated_at = now()
WHERE id = $1 AND status = 'uploading'
RETURNING *;

-- name: get_job
SELECT * FROM bulk_jobs WHERE id = $1;

-- name: list_jobs_source
SELECT * FROM bulk_jobs;

-- name: claim_job
-- The job, if nobody else holds its lease: leased to $2 for $3 seconds.
UPDATE bulk_jobs
SET status = 'running', lease_owner = $2, leased_until = now() + make_interval(secs => $3),
    attempts = attempts + 1, started_at = COALESCE(started_at, now()), updated_at = now()
WHERE id = $1 AND status IN ('queued', 'running') AND (leased_until IS NULL OR leased_until < now())
RETURNING *;

-- name: next_runnable_job
-- A queued job, or a running one whose worker stopped renewing its lease.
SELECT id FROM bulk_jobs
WHERE status IN ('queued', 'running') AND (leased_until IS NULL OR leased_until < now())
ORDER BY created_at
LIMIT 1;

-- name: lock_job_lease
-- The job locked, if $2 still holds its lease (a worker that lost it stops).
SELECT * FROM bulk_jobs WHERE id = $1 AND lease_owner = $2 AND status = 'running' FOR UPDATE;

-- name: job_rows
SELECT row_no, line FROM bulk_job_rows WHERE job_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3;

-- name: insert_job_errors
INSERT INTO bulk_job_errors (job_id, row_no, key, errors)
SELECT $1, row_no, key, errors::jsonb FROM unnest($2::int[], $3::text[], $4::text[]) AS t (row_no, key, errors)
ON CONFLICT DO NOTHING;

-- name: advance_job
UPDATE bulk_jobs
SET processed_rows = $2, created_rows = created_rows + $3, updated_rows = updated_rows + $4,
    unchanged_rows = unchanged_rows + $5, error_rows = error_rows + $6,
    leased_until = now() + make_interval(secs => $7), updated_at = now()
WHERE id = $1;

-- name: finish_job
UPDATE bulk_jobs
SET status = $2, failure = $3, finished_at = now(), lease_owner = NULL, leased_until = NULL,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: drop_job_rows
DELETE FROM bulk_job_rows WHERE job_id = $1;

-- name: job_errors_page
SELECT row_no, key, errors FROM bulk_job_errors WHERE job_id = $1 AND row_no > $2 ORDER BY row_no LIMIT $3;

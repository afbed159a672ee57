-- SQL of the top-level commands: demo data.

-- name: collect_category_terms
-- Category names join the dictionary misspelt search words are corrected against.
INSERT INTO search_terms (term)
SELECT DISTINCT lexeme FROM categories, unnest(to_tsvector('simple', name))
WHERE length(lexeme) BETWEEN 3 AND 40 AND lexeme !~ '^[0-9]+$'
ON CONFLICT DO NOTHING;

-- name: analyze_catalog
-- Fresh statistics after a bulk load, so the planner picks the indexes.
ANALYZE categories, products, product_variants, stock, warehouses, search_terms;

-- name: vacuum_catalog
-- After a bulk load has committed: the loaded pages marked all-visible and their rows' hints set
-- now, rather than by the first reads (each of which would otherwise check and dirty them).
VACUUM products, product_variants, stock, stock_movements;

-- name: count_products
SELECT count(*) FROM products;

-- name: secondary_indexes
-- The indexes of the tables that back no constraint, as statements to drop and recreate them:
-- a bulk load into empty tables builds each index once at the end instead of row by row.
SELECT format('DROP INDEX %s', i.indexrelid::regclass) AS drop_statement,
       pg_get_indexdef(i.indexrelid) AS create_statement
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
WHERE i.indrelid = ANY ($1::regclass[]) AND c.oid IS NULL;

-- name: foreign_keys
-- The foreign keys of the tables, as statements to drop and add them again: a bulk load checks
-- each key once, by one join when it is added, instead of by one lookup per row it copies.
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_statement,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS create_statement
FROM pg_constraint c
WHERE c.conrelid = ANY ($1::regclass[]) AND c.contype = 'f'
ORDER BY c.conrelid, c.conname;

-- A chunk of products is copied into seed_products (shaped as products), given its search
-- documents and facet codes by set-wise statements, then moved into products. Copied straight
-- into products, each row ran the two PL/pgSQL insert triggers: three times as long.

-- name: create_seed_products
CREATE TEMPORARY TABLE seed_products (LIKE products INCLUDING DEFAULTS) ON COMMIT DROP;

-- name: insert_seed_facet_values
-- The facet values the chunk's products name (category, vendor, attributes), numbered once.
INSERT INTO facet_values (kind, key, value)
SELECT DISTINCT f.kind, f.key, f.value
FROM seed_products s
CROSS JOIN LATERAL (
    SELECT 'category', s.category_id::text, '' WHERE s.category_id IS NOT NULL
    UNION ALL SELECT 'vendor', s.vendor_id::text, ''
    UNION ALL SELECT 'attribute', a.key, a.value FROM jsonb_each_text(s.attributes) a
) AS f (kind, key, value)
ORDER BY 1, 2, 3
ON CONFLICT DO NOTHING;

-- name: derive_seed_products
-- What the insert triggers would compute: the search document and the facet codes (category,
-- vendor, then attributes, each group in code order).
UPDATE seed_products s SET
    search_vector = product_search_document(
        s.name, s.brand, s.tags, (SELECT c.name FROM categories c WHERE c.id = s.category_id),
        s.description),
    facet_codes = COALESCE((
        SELECT string_agg(int4send(fv.id), ''::bytea ORDER BY f.ord, fv.id)
        FROM (SELECT 1, 'category', s.category_id::text, '' WHERE s.category_id IS NOT NULL
              UNION ALL SELECT 2, 'vendor', s.vendor_id::text, ''
              UNION ALL SELECT 3, 'attribute', a.key, a.value FROM jsonb_each_text(s.attributes) a)
             AS f (ord, kind, key, value)
        CROSS JOIN LATERAL (SELECT id FROM facet_values
                            WHERE kind = f.kind AND key = f.key AND value = f.value LIMIT 1) fv
    ), ''::bytea);

-- name: move_seed_products
INSERT INTO products SELECT * FROM seed_products;

-- name: empty_seed_products
TRUNCATE seed_products;

-- name: bulk_load_settings
-- For the load's transaction: no JIT (its statements each run once per chunk, so compiling them
-- costs more than it saves) and memory enough to build each index in one pass at the end.
SELECT set_config('jit', 'off', true), set_config('maintenance_work_mem', '256MB', true);

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

-- name: index_build_memory
SELECT set_config('maintenance_work_mem', '256MB', true);

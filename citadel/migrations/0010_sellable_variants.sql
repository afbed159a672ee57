-- Variants as carts price them, as one view: the catalog's read of a cart's variants and
-- checkout's read of a cart's lines with their variants (one statement) both select from it, so
-- the two cannot disagree on what a variant costs, weighs or whether it is sold.
CREATE VIEW sellable_variants AS
SELECT v.id AS variant_id, v.product_id, v.vendor_id, v.sku,
       CASE WHEN v.option_values = '{}'::jsonb THEN p.name ELSE p.name || ' (' || v.name || ')' END AS name,
       p.slug AS product_slug, p.images -> 0 ->> 'url' AS image_url,
       (p.status = 'active' AND v.status = 'active' AND ven.status = 'active') AS sellable,
       p.currency, p.price_amount AS base_amount, v.price_amount AS own_amount,
       v.price_adjustment AS adjustment, COALESCE(v.weight_grams, p.weight_grams, 0) AS weight_grams,
       p.tax_category, COALESCE(c.path, '{}') AS category_path
FROM product_variants v
JOIN products p ON p.id = v.product_id
JOIN vendors ven ON ven.id = v.vendor_id
LEFT JOIN categories c ON c.id = p.category_id;

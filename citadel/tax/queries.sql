-- Tax rules.

-- name: list_tax_rules
SELECT id, name, country, region, postal_prefix, tax_category, rate_ppm, applies_to_shipping,
       is_active, created_at, updated_at
FROM tax_rules ORDER BY country, region NULLS FIRST, postal_prefix NULLS FIRST, name, id;

-- name: active_tax_rules
SELECT id, name, country, region, postal_prefix, tax_category, rate_ppm, applies_to_shipping,
       is_active, created_at, updated_at
FROM tax_rules WHERE is_active ORDER BY id;

-- name: get_tax_rule
SELECT id, name, country, region, postal_prefix, tax_category, rate_ppm, applies_to_shipping,
       is_active, created_at, updated_at
FROM tax_rules WHERE id = $1;

-- name: insert_tax_rule
INSERT INTO tax_rules (id, name, country, region, postal_prefix, tax_category, rate_ppm,
                       applies_to_shipping, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, name, country, region, postal_prefix, tax_category, rate_ppm, applies_to_shipping,
          is_active, created_at, updated_at;

-- name: update_tax_rule
UPDATE tax_rules
SET name = $2, country = $3, region = $4, postal_prefix = $5, tax_category = $6, rate_ppm = $7,
    applies_to_shipping = $8, is_active = $9, updated_at = now()
WHERE id = $1
RETURNING id, name, country, region, postal_prefix, tax_category, rate_ppm, applies_to_shipping,
          is_active, created_at, updated_at;

-- name: delete_tax_rule
DELETE FROM tax_rules WHERE id = $1 RETURNING id;

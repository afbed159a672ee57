-- Shipping zones and methods.

-- name: list_zones
SELECT id, name, countries, regions, priority, is_active, created_at, updated_at
FROM shipping_zones ORDER BY priority, name, id;

-- name: list_methods
SELECT id, zone_id, name, currency, base_amount, per_kg_amount, free_above_amount, max_weight_grams,
       min_delivery_days, max_delivery_days, position, is_active, created_at, updated_at
FROM shipping_methods ORDER BY zone_id, position, name, id;

-- name: get_zone
SELECT id, name, countries, regions, priority, is_active, created_at, updated_at
FROM shipping_zones WHERE id = $1;

-- name: zone_methods
SELECT id, zone_id, name, currency, base_amount, per_kg_amount, free_above_amount, max_weight_grams,
       min_delivery_days, max_delivery_days, position, is_active, created_at, updated_at
FROM shipping_methods WHERE zone_id = $1 ORDER BY position, name, id;

-- name: insert_zone
INSERT INTO shipping_zones (id, name, countries, regions, priority, is_active)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, name, countries, regions, priority, is_active, created_at, updated_at;

-- name: update_zone
UPDATE shipping_zones
SET name = $2, countries = $3, regions = $4, priority = $5, is_active = $6, updated_at = now()
WHERE id = $1
RETURNING id, name, countries, regions, priority, is_active, created_at, updated_at;

-- name: delete_zone
DELETE FROM shipping_zones WHERE id = $1 RETURNING id;

-- name: get_method
SELECT id, zone_id, name, currency, base_amount, per_kg_amount, free_above_amount, max_weight_grams,
       min_delivery_days, max_delivery_days, position, is_active, created_at, updated_at
FROM shipping_methods WHERE id = $1;

-- name: insert_method
INSERT INTO shipping_methods (id, zone_id, name, currency, base_amount, per_kg_amount,
                              free_above_amount, max_weight_grams, min_delivery_days,
                              max_delivery_days, position, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING id, zone_id, name, currency, base_amount, per_kg_amount, free_above_amount, max_weight_grams,
          min_delivery_days, max_delivery_days, position, is_active, created_at, updated_at;

-- name: update_method
UPDATE shipping_methods
SET name = $2, base_amount = $3, per_kg_amount = $4, free_above_amount = $5, max_weight_grams = $6,
    min_delivery_days = $7, max_delivery_days = $8, position = $9, is_active = $10, updated_at = now()
WHERE id = $1
RETURNING id, zone_id, name, currency, base_amount, per_kg_amount, free_above_amount, max_weight_grams,
          min_delivery_days, max_delivery_days, position, is_active, created_at, updated_at;

-- name: delete_method
DELETE FROM shipping_methods WHERE id = $1 RETURNING id;

-- name: active_zones
SELECT id, name, countries, regions, priority, is_active, created_at, updated_at
FROM shipping_zones WHERE is_active ORDER BY priority, id;

-- name: active_methods
SELECT m.id, m.zone_id, m.name, m.currency, m.base_amount, m.per_kg_amount, m.free_above_amount,
       m.max_weight_grams, m.min_delivery_days, m.max_delivery_days, m.position, m.is_active,
       m.created_at, m.updated_at
FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id
WHERE m.is_active AND z.is_active
ORDER BY m.zone_id, m.position, m.id;

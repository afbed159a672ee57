-- Inventory: warehouses, stock and its ledger.

-- name: list_warehouses
SELECT id, code, name, country, region, priority, is_active, created_at, updated_at
FROM warehouses ORDER BY priority, code;

-- name: insert_warehouse
INSERT INTO warehouses (id, code, name, country, region, priority)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (code) DO NOTHING
RETURNING id, code, name, country, region, priority, is_active, created_at, updated_at;

-- name: get_warehouse
SELECT id, code, name, country, region, priority, is_active, created_at, updated_at
FROM warehouses WHERE id = $1;

-- name: variant_owner
-- The variant's product and vendor, locked: stock writes of one variant take turns.
SELECT v.id, v.product_id, v.vendor_id, v.sku, p.status AS product_status
FROM product_variants v JOIN products p ON p.id = v.product_id
WHERE v.id = $1
FOR UPDATE OF v;

-- name: variant_stock
SELECT variant_id, warehouse_id, on_hand, reserved, low_stock_threshold, updated_at
FROM stock WHERE variant_id = $1 ORDER BY warehouse_id;

-- name: available_of_variant
-- What a variant offers now, over the active warehouses.
SELECT COALESCE(sum(s.on_hand - s.reserved), 0)::int
FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
WHERE s.variant_id = $1 AND w.is_active;

-- name: stock_for_update
SELECT variant_id, warehouse_id, on_hand, reserved, low_stock_threshold, updated_at
FROM stock WHERE variant_id = $1 AND warehouse_id = $2 FOR UPDATE;

-- name: upsert_stock
-- Set on hand (and, with $4 true, the low-stock threshold to $5).
INSERT INTO stock AS s (variant_id, warehouse_id, on_hand, low_stock_threshold)
VALUES ($1, $2, $3, CASE WHEN $4 THEN $5::int END)
ON CONFLICT (variant_id, warehouse_id) DO UPDATE
SET on_hand = EXCLUDED.on_hand,
    low_stock_threshold = CASE WHEN $4 THEN $5::int ELSE s.low_stock_threshold END,
    updated_at = now()
RETURNING variant_id, warehouse_id, on_hand, reserved, low_stock_threshold, updated_at;

-- name: insert_movement
INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reserved_delta, reason, reference, actor_id)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: lock_product
SELECT id FROM products WHERE id = $1 FOR UPDATE;

-- name: refresh_product_in_stock
-- The product is in stock when any of its active variants is (in an active warehouse).
UPDATE products p
SET in_stock = EXISTS (SELECT 1 FROM product_variants v
                       JOIN stock s ON s.variant_id = v.id
                       JOIN warehouses w ON w.id = s.warehouse_id
                       WHERE v.product_id = p.id AND v.status = 'active' AND w.is_active
                         AND s.on_hand > s.reserved)
WHERE p.id = $1
RETURNING in_stock;

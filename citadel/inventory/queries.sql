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

-- name: get_warehouse_for_update
SELECT id, code, name, country, region, priority, is_active, created_at, updated_at
FROM warehouses WHERE id = $1 FOR UPDATE;

-- name: update_warehouse
UPDATE warehouses SET name = $2, region = $3, priority = $4, is_active = $5, updated_at = now()
WHERE id = $1
RETURNING id, code, name, country, region, priority, is_active, created_at, updated_at;

-- name: products_stocked_in
-- The products with a variant stocked in the warehouse, in id order.
SELECT DISTINCT v.product_id AS id
FROM stock s JOIN product_variants v ON v.id = s.variant_id
WHERE s.warehouse_id = $1
ORDER BY 1;

-- name: lock_stock_of_variants
-- Every stock row of the variants ($1, sorted), locked in primary-key order, with what the
-- allocation and the announcements need.
SELECT s.variant_id, s.warehouse_id, v.product_id, v.vendor_id, p.status AS product_status,
       s.on_hand, s.reserved, s.low_stock_threshold, w.priority, w.is_active
FROM stock s
JOIN warehouses w ON w.id = s.warehouse_id
-- (the variants' own ANY keeps a generic plan on their primary key instead of a scan of them all)
JOIN product_variants v ON v.id = s.variant_id AND v.id = ANY($1::uuid[])
JOIN products p ON p.id = v.product_id
WHERE s.variant_id = ANY($1::uuid[])
ORDER BY s.variant_id, s.warehouse_id
FOR UPDATE OF s;

-- Holds -----------------------------------------------------------------------------------------

-- name: reserve_stock
-- Take units planned for holds under the stock rows' locks: per (variant $1, warehouse $2) row,
-- $3 more reserved where that many are still offered. The rows are locked in primary-key order
-- ($1, $2 come sorted so). Returns how many rows took their part. (The holds and their ledger
-- rows are written by checkout's placing statement, before this one.)
WITH taken AS (
    UPDATE stock s SET reserved = s.reserved + w.quantity, updated_at = now()
    FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS w (variant_id, warehouse_id, quantity)
    WHERE s.variant_id = w.variant_id AND s.warehouse_id = w.warehouse_id
      AND s.on_hand - s.reserved - w.quantity >= 0
    RETURNING 1
)
SELECT count(*)::int FROM taken;

-- name: reserve_placed_holds_and_commit
-- The placed order's holds taken on their stock rows, and the commit, in one simple-query message
-- (see migration 0016): the rows are locked for the update and the commit's flush only. When a
-- row no longer allows its hold the function raises CB409 and the COMMIT is not run.
SELECT reserve_placed_holds();
COMMIT;

-- name: order_holds
SELECT id, line_id, variant_id, warehouse_id, quantity, returned, status, expires_at
FROM stock_holds WHERE order_id = $1 ORDER BY variant_id, warehouse_id, id;

-- name: lock_stock_held_by_orders
-- The stock rows orders $1 have holds of status $2 on (of the order lines $3 only, unless NULL),
-- locked in primary-key order (the order every writer of stock locks in).
SELECT s.variant_id, s.warehouse_id
FROM stock s
WHERE (s.variant_id, s.warehouse_id) IN (SELECT variant_id, warehouse_id FROM stock_holds
                                         WHERE order_id = ANY($1::uuid[]) AND status = $2
                                           AND ($3::uuid[] IS NULL OR line_id = ANY($3)))
ORDER BY s.variant_id, s.warehouse_id
FOR UPDATE OF s;

-- name: settle_holds
-- Holds of orders $1 in status $2 (of the order lines $7 only, unless NULL) become status $3;
-- per (variant, warehouse), on hand changes by $4 × the units they still hold (their quantity
-- less those returned) and reserved by $5 × them, with a ledger row of reason $6 per order.
WITH settled AS (
    UPDATE stock_holds SET status = $3, updated_at = now()
    WHERE order_id = ANY($1::uuid[]) AND status = $2 AND ($7::uuid[] IS NULL OR line_id = ANY($7))
    RETURNING order_id, variant_id, warehouse_id, quantity - returned AS quantity
), by_order AS (
    SELECT order_id, variant_id, warehouse_id, sum(quantity)::int AS quantity FROM settled
    WHERE quantity > 0 GROUP BY 1, 2, 3
), summed AS (
    SELECT variant_id, warehouse_id, sum(quantity)::int AS quantity FROM by_order GROUP BY 1, 2
), changed AS (
    UPDATE stock s
    SET on_hand = s.on_hand + $4 * m.quantity, reserved = s.reserved + $5 * m.quantity, updated_at = now()
    FROM summed m WHERE s.variant_id = m.variant_id AND s.warehouse_id = m.warehouse_id
    RETURNING s.variant_id
), ledger AS (
    INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reserved_delta, reason, reference)
    SELECT variant_id, warehouse_id, $4 * quantity, $5 * quantity, $6, order_id::text FROM by_order
    ORDER BY order_id, variant_id, warehouse_id
)
SELECT variant_id, warehouse_id, quantity FROM summed;

-- name: allocate_holds
-- Orders $1 are paid: their held units become allocations, promised until they ship (the stock
-- rows do not change: the units stay on hand and reserved).
UPDATE stock_holds SET status = 'allocated', updated_at = now()
WHERE order_id = ANY($1::uuid[]) AND status = 'held';

-- name: return_held_units
-- Units of an order back on offer: per hold id $1, $2 more units returned; per (variant,
-- warehouse), on hand changes by $5 × them and reserved by $6 × them (shipped units come back on
-- the shelf: 1, 0; allocated units are no longer promised: 0, -1), with ledger rows of reason $3
-- for order $4.
WITH returned AS (
    UPDATE stock_holds h SET returned = h.returned + r.units, updated_at = now()
    FROM unnest($1::bigint[], $2::int[]) AS r (id, units)
    WHERE h.id = r.id
    RETURNING h.variant_id, h.warehouse_id, r.units
), summed AS (
    SELECT variant_id, warehouse_id, sum(units)::int AS units FROM returned GROUP BY 1, 2
), changed AS (
    UPDATE stock s SET on_hand = s.on_hand + $5 * m.units, reserved = s.reserved + $6 * m.units,
                       updated_at = now()
    FROM summed m WHERE s.variant_id = m.variant_id AND s.warehouse_id = m.warehouse_id
    RETURNING s.variant_id
)
INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reserved_delta, reason, reference)
SELECT variant_id, warehouse_id, $5 * units, $6 * units, $3, $4::text FROM summed;

-- Transfers -------------------------------------------------------------------------------------

-- name: insert_transfer
INSERT INTO stock_transfers (id, source_warehouse_id, destination_warehouse_id, note, created_by)
VALUES ($1, $2, $3, $4, $5);

-- name: insert_transfer_lines
INSERT INTO stock_transfer_lines (transfer_id, variant_id, quantity)
SELECT $1, l.variant_id, l.quantity FROM unnest($2::uuid[], $3::int[]) AS l (variant_id, quantity);

-- name: existing_variants
SELECT id FROM product_variants WHERE id = ANY($1::uuid[]);

-- name: get_transfer
SELECT id, source_warehouse_id, destination_warehouse_id, status, note, created_by, created_at,
       shipped_at, received_at, cancelled_at, updated_at
FROM stock_transfers WHERE id = $1;

-- name: get_transfer_for_update
SELECT id, source_warehouse_id, destination_warehouse_id, status, note, created_by, created_at,
       shipped_at, received_at, cancelled_at, updated_at
FROM stock_transfers WHERE id = $1 FOR UPDATE;

-- name: transfer_lines
SELECT transfer_id, variant_id, quantity FROM stock_transfer_lines
WHERE transfer_id = ANY($1::uuid[]) ORDER BY transfer_id, variant_id;

-- name: set_transfer_status
UPDATE stock_transfers
SET status = $2, updated_at = now(),
    shipped_at = CASE WHEN $2 = 'in_transit' THEN now() ELSE shipped_at END,
    received_at = CASE WHEN $2 = 'completed' THEN now() ELSE received_at END,
    cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END
WHERE id = $1;

-- name: transfer_list_source
SELECT id, source_warehouse_id, destination_warehouse_id, status, note, created_by, created_at,
       shipped_at, received_at, cancelled_at, updated_at
FROM stock_transfers;

-- name: ensure_stock_rows
INSERT INTO stock (variant_id, warehouse_id) SELECT v, $2 FROM unnest($1::uuid[]) AS v
ON CONFLICT DO NOTHING;

-- name: move_stock
-- On hand of each variant $1 in warehouse $2 changes by $3, with a ledger row of reason $4 and
-- reference $5 by actor $6 (the rows exist and are locked).
WITH moved AS (
    UPDATE stock s SET on_hand = s.on_hand + m.delta, updated_at = now()
    FROM unnest($1::uuid[], $3::int[]) AS m (variant_id, delta)
    WHERE s.variant_id = m.variant_id AND s.warehouse_id = $2
    RETURNING s.variant_id
)
INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reserved_delta, reason, reference, actor_id)
SELECT m.variant_id, $2, m.delta, 0, $4, $5, $6
FROM unnest($1::uuid[], $3::int[]) AS m (variant_id, delta);

-- name: available_of_variants
-- What each variant offers now over the active warehouses (variants without stock are absent).
SELECT s.variant_id, sum(s.on_hand - s.reserved)::int AS available
FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
WHERE s.variant_id = ANY($1::uuid[]) AND w.is_active
GROUP BY s.variant_id;

-- name: availability_of_products
-- What each active variant of the products offers now over the active warehouses.
SELECT v.product_id, v.id AS variant_id,
       COALESCE(sum(s.on_hand - s.reserved) FILTER (WHERE w.is_active), 0)::int AS available
FROM product_variants v
LEFT JOIN stock s ON s.variant_id = v.id
LEFT JOIN warehouses w ON w.id = s.warehouse_id
WHERE v.product_id = ANY($1::uuid[]) AND v.status = 'active'
GROUP BY v.product_id, v.id
ORDER BY v.product_id, v.id;

-- Orders, their lines, fulfilments and history.

-- name: get_order
SELECT id, number, user_id, email, cart_id, status, currency, subtotal_amount, discount_amount,
       tax_amount, shipping_amount, shipping_tax_amount, total_amount, refunded_amount,
       prices_include_tax, coupon_code, shipping_method_id, shipping_method_name, shipping_address,
       payment_provider, holds_expire_at, cancel_reason, placed_at, paid_at, cancelled_at, updated_at
FROM orders WHERE id = $1;

-- name: get_order_for_update
SELECT id, number, user_id, email, cart_id, status, currency, subtotal_amount, discount_amount,
       tax_amount, shipping_amount, shipping_tax_amount, total_amount, refunded_amount,
       prices_include_tax, coupon_code, shipping_method_id, shipping_method_name, shipping_address,
       payment_provider, holds_expire_at, cancel_reason, placed_at, paid_at, cancelled_at, updated_at
FROM orders WHERE id = $1 FOR UPDATE;

-- name: lock_orders_of_payments
-- The orders payments $1 pay for, locked in primary-key order.
SELECT id, number, user_id, email, cart_id, status, currency, subtotal_amount, discount_amount,
       tax_amount, shipping_amount, shipping_tax_amount, total_amount, refunded_amount,
       prices_include_tax, coupon_code, shipping_method_id, shipping_method_name, shipping_address,
       payment_provider, holds_expire_at, cancel_reason, placed_at, paid_at, cancelled_at, updated_at
FROM orders WHERE id IN (SELECT order_id FROM payments WHERE id = ANY($1::uuid[]))
ORDER BY id
FOR UPDATE;

-- name: order_by_number_and_email
SELECT id FROM orders WHERE number = upper($1) AND lower(email) = lower($2);

-- name: order_lines
SELECT id, order_id, fulfilment_id, position, product_id, variant_id, vendor_id, sku, name, quantity,
       unit_price_amount, subtotal_amount, discount_amount, tax_amount, total_amount, tax_rate_ppm,
       refunded_quantity
FROM order_lines WHERE order_id = $1 ORDER BY position;

-- name: orders_by_ids
SELECT id, number, user_id, email, cart_id, status, currency, subtotal_amount, discount_amount,
       tax_amount, shipping_amount, shipping_tax_amount, total_amount, refunded_amount,
       prices_include_tax, coupon_code, shipping_method_id, shipping_method_name, shipping_address,
       payment_provider, holds_expire_at, cancel_reason, placed_at, paid_at, cancelled_at, updated_at
FROM orders WHERE id = ANY($1::uuid[]);

-- name: lines_of_orders
SELECT id, order_id, fulfilment_id, position, product_id, variant_id, vendor_id, sku, name, quantity,
       unit_price_amount, subtotal_amount, discount_amount, tax_amount, total_amount, tax_rate_ppm,
       refunded_quantity
FROM order_lines WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, position;

-- name: order_fulfilments
SELECT id, order_id, vendor_id, status, carrier, tracking_number, shipped_at, delivered_at,
       created_at, updated_at
FROM fulfilments WHERE order_id = $1 ORDER BY vendor_id;

-- name: order_history
SELECT from_status, to_status, reason, actor_id, created_at
FROM order_history WHERE order_id = $1 ORDER BY id;

-- name: set_orders_status
-- A transition of orders $1: the new status ($2), each one's history entry (reason $3, actor $4)
-- and its dates.
WITH h AS (
    INSERT INTO order_history (order_id, from_status, to_status, reason, actor_id)
    SELECT id, status, $2, $3, $4 FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id
)
UPDATE orders
SET status = $2, updated_at = now(),
    paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END,
    cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() ELSE cancelled_at END,
    cancel_reason = CASE WHEN $2 = 'cancelled' THEN $3 ELSE cancel_reason END,
    holds_expire_at = CASE WHEN $2 = 'pending' THEN holds_expire_at END
WHERE id = ANY($1::uuid[]);

-- name: add_refunded
UPDATE orders SET refunded_amount = refunded_amount + $2, updated_at = now() WHERE id = $1;

-- name: add_refunded_quantities
UPDATE order_lines l SET refunded_quantity = l.refunded_quantity + r.quantity
FROM unnest($2::uuid[], $3::int[]) AS r (id, quantity)
WHERE l.order_id = $1 AND l.id = r.id;

-- name: get_fulfilment_for_update
SELECT id, order_id, vendor_id, status, carrier, tracking_number, shipped_at, delivered_at,
       created_at, updated_at
FROM fulfilments WHERE id = $1 FOR UPDATE;

-- name: set_fulfilment_status
UPDATE fulfilments
SET status = $2, updated_at = now(),
    carrier = COALESCE($3, carrier), tracking_number = COALESCE($4, tracking_number),
    packed_at = CASE WHEN $2 = 'packed' THEN now() ELSE packed_at END,
    shipped_at = CASE WHEN $2 = 'shipped' THEN now() ELSE shipped_at END,
    delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
WHERE id = $1;

-- name: cancel_open_fulfilments
UPDATE fulfilments SET status = 'cancelled', updated_at = now()
WHERE order_id = $1 AND status IN ('pending', 'processing');

-- name: order_list_source
-- Orders as lists show them; search_text is what the admin search matches.
SELECT o.id, o.number, o.status, o.email, o.currency, o.total_amount, o.placed_at, o.user_id,
       (SELECT COALESCE(sum(quantity), 0)::int FROM order_lines l WHERE l.order_id = o.id) AS item_count,
       lower(o.number || ' ' || o.email) AS search_text
FROM orders o;

-- name: expired_unpaid_orders
-- Unpaid orders whose holds expired, oldest first, locked and skipped by other sweepers (and
-- not the ones in $2, which failed before).
SELECT id FROM orders
WHERE status = 'pending' AND holds_expire_at < now() AND id <> ALL($2::uuid[])
ORDER BY holds_expire_at
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: vendor_fulfilments_source
-- Fulfilments with what their vendor ships by (the listed rows of /api/v1/vendor/fulfilments).
SELECT f.id, f.order_id, f.vendor_id, f.status, f.carrier, f.tracking_number, f.packed_at,
       f.shipped_at, f.delivered_at, f.created_at, o.number AS order_number, o.status AS order_status,
       o.shipping_address, o.shipping_method_name, o.placed_at
FROM fulfilments f JOIN orders o ON o.id = f.order_id;

-- name: lines_of_fulfilments
SELECT id, order_id, fulfilment_id, position, product_id, variant_id, vendor_id, sku, name, quantity,
       unit_price_amount, subtotal_amount, discount_amount, tax_amount, total_amount, tax_rate_ppm,
       refunded_quantity
FROM order_lines WHERE fulfilment_id = ANY($1::uuid[]) ORDER BY order_id, position;

-- name: vendor_fulfilment
SELECT f.id, f.order_id, f.vendor_id, f.status, f.carrier, f.tracking_number, f.packed_at,
       f.shipped_at, f.delivered_at, f.created_at, o.number AS order_number, o.status AS order_status,
       o.shipping_address, o.shipping_method_name, o.placed_at
FROM fulfilments f JOIN orders o ON o.id = f.order_id
WHERE f.id = $1;

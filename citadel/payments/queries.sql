-- Payments and refunds.

-- name: payment_of_order
SELECT id, order_id, provider, status, amount, currency, captured_amount, refunded_amount,
       method_details, provider_reference, failure_code, created_at, updated_at
FROM payments WHERE order_id = $1 ORDER BY created_at DESC LIMIT 1;

-- name: payments_of_orders
SELECT DISTINCT ON (order_id) id, order_id, provider, status, amount, currency, captured_amount,
       refunded_amount, method_details, provider_reference, failure_code, created_at, updated_at
FROM payments WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, created_at DESC;

-- name: get_payment_for_update
SELECT id, order_id, provider, status, amount, currency, captured_amount, refunded_amount,
       method_details, provider_reference, failure_code, created_at, updated_at
FROM payments WHERE id = $1 FOR UPDATE;

-- name: get_payment
SELECT id, order_id, provider, status, amount, currency, captured_amount, refunded_amount,
       method_details, provider_reference, failure_code, created_at, updated_at
FROM payments WHERE id = $1;

-- name: update_payments
-- Payments ($1) move to status $2, each with its captured ($3) and refunded ($4) amounts and its
-- failure code ($5).
UPDATE payments p
SET status = $2, captured_amount = u.captured, refunded_amount = u.refunded, failure_code = u.failure,
    updated_at = now()
FROM unnest($1::uuid[], $3::bigint[], $4::bigint[], $5::text[]) AS u (id, captured, refunded, failure)
WHERE p.id = u.id
RETURNING p.id, p.order_id, p.provider, p.status, p.amount, p.currency, p.captured_amount,
          p.refunded_amount, p.method_details, p.provider_reference, p.failure_code, p.created_at,
          p.updated_at;

-- name: lock_payments
-- Payments ($1), locked in primary-key order.
SELECT id, order_id, provider, status, amount, currency, captured_amount, refunded_amount,
       method_details, provider_reference, failure_code, created_at, updated_at
FROM payments WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: insert_refund
INSERT INTO refunds (id, payment_id, order_id, amount, restock, reason, lines, actor_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, payment_id, order_id, amount, restock, reason, lines, actor_id, created_at;

-- name: refunds_of_order
SELECT id, payment_id, order_id, amount, restock, reason, lines, actor_id, created_at
FROM refunds WHERE order_id = $1 ORDER BY created_at;

-- name: set_method_details
UPDATE payments SET method_details = $2, updated_at = now() WHERE id = $1;

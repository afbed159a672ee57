-- Carts and their lines.

-- name: user_cart
SELECT id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
       created_at, updated_at, expires_at
FROM carts WHERE user_id = $1 AND status = 'active';

-- name: user_cart_for_update
SELECT id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
       created_at, updated_at, expires_at
FROM carts WHERE user_id = $1 AND status = 'active' FOR UPDATE;

-- name: guest_cart
-- An active, unexpired guest cart by the hash of its token.
SELECT id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
       created_at, updated_at, expires_at
FROM carts WHERE token_hash = $1 AND user_id IS NULL AND status = 'active' AND expires_at > now();

-- name: guest_cart_for_update
SELECT id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
       created_at, updated_at, expires_at
FROM carts WHERE token_hash = $1 AND user_id IS NULL AND status = 'active' AND expires_at > now()
FOR UPDATE;

-- name: insert_user_cart
-- The user's active cart, made if there is none (a concurrent maker wins; then it is read).
INSERT INTO carts (id, user_id) VALUES ($1, $2)
ON CONFLICT (user_id) WHERE status = 'active' AND user_id IS NOT NULL DO NOTHING;

-- name: insert_guest_cart
INSERT INTO carts (id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(days => $3))
RETURNING id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
          created_at, updated_at, expires_at;

-- name: cart_lines
SELECT variant_id, quantity, seen_unit_amount, added_at
FROM cart_lines WHERE cart_id = $1 ORDER BY added_at, variant_id;

-- name: upsert_line
-- Add $3 units (or set the quantity to $3 when $5), remembering the unit price now shown ($4).
INSERT INTO cart_lines AS l (cart_id, variant_id, quantity, seen_unit_amount)
VALUES ($1, $2, $3, $4)
ON CONFLICT (cart_id, variant_id) DO UPDATE
SET quantity = CASE WHEN $5 THEN EXCLUDED.quantity ELSE l.quantity + EXCLUDED.quantity END,
    seen_unit_amount = EXCLUDED.seen_unit_amount, updated_at = now();

-- name: delete_line
DELETE FROM cart_lines WHERE cart_id = $1 AND variant_id = $2 RETURNING variant_id;

-- name: touch_cart
-- After a change: the currency ($2; null when the cart is empty), and a guest cart's new expiry.
UPDATE carts
SET currency = CASE WHEN EXISTS (SELECT 1 FROM cart_lines WHERE cart_id = $1) THEN $2 END,
    updated_at = now(),
    expires_at = CASE WHEN user_id IS NULL THEN now() + make_interval(days => $3) ELSE expires_at END
WHERE id = $1
RETURNING id, user_id, status, currency, coupon_code, email, shipping_address, shipping_method_id,
          created_at, updated_at, expires_at;

-- name: set_coupon
UPDATE carts SET coupon_code = $2, updated_at = now() WHERE id = $1;

-- name: set_details
UPDATE carts SET email = $2, shipping_address = $3, shipping_method_id = $4, updated_at = now()
WHERE id = $1;

-- name: lock_carts
SELECT id FROM carts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: merge_lines
-- Move the guest cart's ($1) lines into the user's ($2): quantities add up, capped at $3.
INSERT INTO cart_lines AS l (cart_id, variant_id, quantity, seen_unit_amount, added_at)
SELECT $2, g.variant_id, least(g.quantity, $3), g.seen_unit_amount, g.added_at
FROM cart_lines g WHERE g.cart_id = $1
ON CONFLICT (cart_id, variant_id) DO UPDATE
SET quantity = least(l.quantity + EXCLUDED.quantity, $3), updated_at = now();

-- name: merge_details
-- The user's cart keeps what it has and takes the guest cart's coupon, address and method
-- where it has none; the guest cart is marked merged.
WITH guest AS (
    UPDATE carts SET status = 'merged', updated_at = now() WHERE id = $1
    RETURNING currency, coupon_code, shipping_address, shipping_method_id
)
UPDATE carts c
SET currency = COALESCE(c.currency, guest.currency),
    coupon_code = COALESCE(c.coupon_code, guest.coupon_code),
    shipping_address = COALESCE(c.shipping_address, guest.shipping_address),
    shipping_method_id = COALESCE(c.shipping_method_id, guest.shipping_method_id),
    updated_at = now()
FROM guest WHERE c.id = $2;

-- name: purge_expired_guest_carts
DELETE FROM carts WHERE user_id IS NULL AND expires_at < now() - interval '1 day';

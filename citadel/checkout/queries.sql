-- Checkout: the cart read with its variants and stock, and the statement that places the order.
--
-- A checkout is a hot write, and every round trip costs both the worker and PostgreSQL: these
-- two statements read and write what the cart, catalog, orders, payments, inventory and outbox
-- domains would otherwise read and write one statement each. Each domain still decides its own
-- rows (orders: numbers and fulfilments; payments: the pending payment; inventory: where stock
-- is held; the outbox: how events are numbered); these statements only carry them.

-- name: cart_basket
-- The lines of cart $1 in their order, each with its variant as pricing reads it (``found``
-- false: no longer in the catalog) and its stock rows as the allocation reads them (arrays in
-- warehouse order; read without their locks: see ``inventory.reserve_at_commit``), and the
-- number the order will take. The number is drawn here so that the order's answer, which shows it, is
-- written with the order; a checkout refused after this read leaves a gap in the numbers, as a
-- rolled-back one always did.
SELECT l.variant_id, l.quantity, l.seen_unit_amount, l.added_at,
       v.variant_id IS NOT NULL AS found, v.product_id, v.vendor_id, v.sku, v.name, v.product_slug,
       v.image_url, v.sellable, v.currency, v.base_amount, v.own_amount, v.adjustment, v.weight_grams,
       v.tax_category, v.category_path,
       st.warehouses, st.on_hand, st.reserved, st.priorities, st.active,
       (SELECT nextval('order_numbers')) AS order_seq
FROM cart_lines l
LEFT JOIN sellable_variants v ON v.variant_id = l.variant_id
LEFT JOIN LATERAL (
    SELECT array_agg(s.warehouse_id ORDER BY s.warehouse_id) AS warehouses,
           array_agg(s.on_hand ORDER BY s.warehouse_id) AS on_hand,
           array_agg(s.reserved ORDER BY s.warehouse_id) AS reserved,
           array_agg(w.priority ORDER BY s.warehouse_id) AS priorities,
           array_agg(w.is_active ORDER BY s.warehouse_id) AS active
    FROM stock s JOIN warehouses w ON w.id = s.warehouse_id
    WHERE s.variant_id = l.variant_id
) st ON true
WHERE l.cart_id = $1
ORDER BY l.added_at, l.variant_id;

-- name: place_order
-- What a checkout writes, in one statement, but the units its holds take on the stock rows
-- (taken last, so that those rows are locked for the shortest time: by reserve_placed_holds(),
-- sent with the COMMIT, for the order this statement names in citadel.placed_order; or, under
-- the rows' locks, by ``inventory.reserve``):
--   the order ($1..$20: id, number, user, e-mail, cart, currency, subtotal, discount, tax,
--     shipping, shipping tax, total, prices include tax, coupon code, shipping method id and name,
--     address, payment provider, holds' expiry, placed at), its first history entry,
--   one fulfilment per vendor ($21 ids, $22 vendors),
--   its lines ($23..$36: id, fulfilment, product, variant, vendor, sku, name, quantity, unit
--     price, subtotal, discount, tax, total, tax rate; positioned in that order),
--   its pending payment ($37 id, $38 provider reference, $39 method details; the order's
--     provider, total and currency),
--   the cart's conversion,
--   the outbox events ($40 ids, $41 types, $42 aggregates, $43 sequences, $44 data) of its new
--     aggregates with their sequence rows ($45 aggregates, $46 last sequences),
--   the stock holds ($53 lines, $54 variants, $55 warehouses, $56 quantities; expiring at $19),
--     a ledger row each,
--   and the answer under the idempotency key ($47 scope, $48 route, $49 key, $50 fingerprint,
--     $51 status, $52 body; replacing an expired answer: the key's lock is held).
WITH o AS (
    INSERT INTO orders (id, number, user_id, email, cart_id, status, currency, subtotal_amount,
                        discount_amount, tax_amount, shipping_amount, shipping_tax_amount, total_amount,
                        prices_include_tax, coupon_code, shipping_method_id, shipping_method_name,
                        shipping_address, payment_provider, holds_expire_at, placed_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $20)
), history AS (
    INSERT INTO order_history (order_id, from_status, to_status, reason, actor_id, created_at)
    VALUES ($1, NULL, 'pending', 'placed', $3, $20)
), fulfilments AS (
    INSERT INTO fulfilments (id, order_id, vendor_id, created_at, updated_at)
    SELECT f.id, $1, f.vendor_id, $20, $20 FROM unnest($21::uuid[], $22::uuid[]) AS f (id, vendor_id)
), lines AS (
    INSERT INTO order_lines (id, order_id, fulfilment_id, position, product_id, variant_id, vendor_id,
                             sku, name, quantity, unit_price_amount, subtotal_amount, discount_amount,
                             tax_amount, total_amount, tax_rate_ppm)
    SELECT l.id, $1, l.fulfilment_id, l.position, l.product_id, l.variant_id, l.vendor_id, l.sku, l.name,
           l.quantity, l.unit_price, l.subtotal, l.discount, l.tax, l.total, l.rate
    FROM unnest($23::uuid[], $24::uuid[], $25::uuid[], $26::uuid[], $27::uuid[], $28::text[], $29::text[],
                $30::int[], $31::bigint[], $32::bigint[], $33::bigint[], $34::bigint[], $35::bigint[],
                $36::int[]) WITH ORDINALITY
         AS l (id, fulfilment_id, product_id, variant_id, vendor_id, sku, name, quantity, unit_price,
               subtotal, discount, tax, total, rate, position)
), payment AS (
    INSERT INTO payments (id, order_id, provider, amount, currency, method_details, provider_reference,
                          created_at, updated_at)
    VALUES ($37, $1, $18, $12, $6, $39, $38, $20, $20)
), cart AS (
    UPDATE carts SET status = 'converted', updated_at = now() WHERE id = $5
), sequences AS (
    INSERT INTO event_sequences (aggregate_id, last_sequence)
    SELECT * FROM unnest($45::text[], $46::bigint[])
), events AS (
    INSERT INTO outbox (id, event_type, aggregate_id, aggregate_sequence, data)
    SELECT e.id, e.event_type, e.aggregate_id, e.sequence, e.data
    FROM unnest($40::uuid[], $41::text[], $42::text[], $43::bigint[], $44::jsonb[]) WITH ORDINALITY
         AS e (id, event_type, aggregate_id, sequence, data, ord)
    ORDER BY e.ord
), wanted AS (
    SELECT * FROM unnest($53::uuid[], $54::uuid[], $55::uuid[], $56::int[])
             AS w (line_id, variant_id, warehouse_id, quantity)
), holds AS (
    INSERT INTO stock_holds (order_id, line_id, variant_id, warehouse_id, quantity, expires_at)
    SELECT $1, line_id, variant_id, warehouse_id, quantity, $19 FROM wanted
), ledger AS (
    INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reserved_delta, reason, reference)
    SELECT variant_id, warehouse_id, 0, quantity, 'reserved', $1::text FROM wanted
), placed AS (
    SELECT set_config('citadel.placed_order', $1::text, true)  -- for reserve_placed_holds()
)
INSERT INTO idempotency_keys (scope, route, key, fingerprint, status_code, body)
SELECT $47::text, $48::text, $49::text, $50::bytea, $51::int, $52::bytea FROM placed
ON CONFLICT (scope, route, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, status_code = EXCLUDED.status_code, body = EXCLUDED.body,
    created_at = now();

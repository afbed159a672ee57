-- Vendors.

-- name: insert_vendor
INSERT INTO vendors (id, owner_user_id, name, slug, status)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: apply_vendor
-- A new application: $1 id, $2 owner, $3 name, $4 slug, then the profile's contact fields.
INSERT INTO vendors (id, owner_user_id, name, slug, status, description, contact_email, phone, website)
VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: get_vendor
SELECT * FROM vendors WHERE id = $1;

-- name: get_vendor_for_update
SELECT * FROM vendors WHERE id = $1 FOR UPDATE;

-- name: get_vendor_of_user
SELECT * FROM vendors WHERE owner_user_id = $1;

-- name: slug_taken
SELECT EXISTS (SELECT 1 FROM vendors WHERE slug = $1);

-- name: list_vendors_source
SELECT *, lower(name) || ' ' || slug AS search_text FROM vendors;

-- name: set_vendor_status
UPDATE vendors
SET status = $2, status_reason = $3, commission_rate_ppm = COALESCE($4, commission_rate_ppm),
    approved_at = CASE WHEN $2 = 'active' THEN COALESCE(approved_at, now()) ELSE approved_at END,
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: update_vendor_profile
UPDATE vendors
SET description = COALESCE($2, description), contact_email = COALESCE($3, contact_email),
    phone = COALESCE($4, phone), website = COALESCE($5, website), settings = COALESCE($6, settings),
    payout_method = COALESCE($7, payout_method), payout_account = COALESCE($8, payout_account),
    updated_at = now()
WHERE id = $1
RETURNING *;

-- name: set_vendor_commission_rate
UPDATE vendors SET commission_rate_ppm = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- API keys ---------------------------------------------------------------------------------------

-- name: insert_api_key
INSERT INTO vendor_api_keys (id, vendor_id, name, prefix, secret_hash, scopes, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: list_api_keys
SELECT * FROM vendor_api_keys WHERE vendor_id = $1 ORDER BY created_at DESC, id DESC;

-- name: count_live_api_keys
SELECT count(*) FROM vendor_api_keys WHERE vendor_id = $1 AND revoked_at IS NULL;

-- name: revoke_api_key
UPDATE vendor_api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE id = $1 AND vendor_id = $2
RETURNING *;

-- name: api_key_principal
-- The key of secret hash $1 with what authenticating it needs: its vendor's state and owner's.
SELECT k.id, k.vendor_id, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,
       v.status AS vendor_status, v.owner_user_id, u.status AS owner_status
FROM vendor_api_keys k
JOIN vendors v ON v.id = k.vendor_id
JOIN users u ON u.id = v.owner_user_id
WHERE k.secret_hash = $1;

-- name: touch_api_key
UPDATE vendor_api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- Commission rules --------------------------------------------------------------------------------

-- name: insert_commission_rule
INSERT INTO commission_rules (id, name, vendor_id, category_id, currency, min_order_amount,
                              max_order_amount, rate_ppm, min_commission, max_commission, priority,
                              active, starts_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING *;

-- name: get_commission_rule
SELECT * FROM commission_rules WHERE id = $1;

-- name: get_commission_rule_for_update
SELECT * FROM commission_rules WHERE id = $1 FOR UPDATE;

-- name: replace_commission_rule
UPDATE commission_rules
SET name = $2, vendor_id = $3, category_id = $4, currency = $5, min_order_amount = $6,
    max_order_amount = $7, rate_ppm = $8, min_commission = $9, max_commission = $10, priority = $11,
    active = $12, starts_at = $13, ends_at = $14, updated_at = now()
WHERE id = $1
RETURNING *;

-- name: delete_commission_rule
-- Rules that booked commissions stay (the ledger names them): they are switched off instead.
WITH used AS (SELECT EXISTS (SELECT 1 FROM commission_ledger WHERE rule_id = $1) AS used),
deleted AS (DELETE FROM commission_rules WHERE id = $1 AND NOT (SELECT used FROM used) RETURNING id),
disabled AS (
    UPDATE commission_rules SET active = false, updated_at = now()
    WHERE id = $1 AND (SELECT used FROM used) RETURNING id
)
SELECT (SELECT count(*) FROM deleted) + (SELECT count(*) FROM disabled);

-- name: list_commission_rules
SELECT * FROM commission_rules
WHERE ($1::uuid IS NULL OR vendor_id = $1)
ORDER BY priority DESC, created_at, id;

-- name: rules_for_vendors
-- Rules that may apply to vendors $1 at time $2, by priority (highest first).
SELECT * FROM commission_rules
WHERE active AND (vendor_id IS NULL OR vendor_id = ANY($1::uuid[]))
  AND (starts_at IS NULL OR starts_at <= $2) AND (ends_at IS NULL OR ends_at > $2)
ORDER BY priority DESC, created_at, id;

-- name: category_paths
SELECT id, path FROM categories WHERE id = ANY($1::uuid[]);

-- Commission ledger -------------------------------------------------------------------------------

-- name: delivered_lines
-- The lines of fulfilment $1 with what their commission needs (goods after discounts, refunds
-- so far, the product's category, the vendor's own rate, the order's goods total).
SELECT l.id, l.order_id, l.vendor_id, l.quantity, l.refunded_quantity, l.subtotal_amount,
       l.discount_amount, o.currency, p.category_id, v.commission_rate_ppm,
       o.subtotal_amount - o.discount_amount AS order_amount
FROM order_lines l
JOIN orders o ON o.id = l.order_id
JOIN vendors v ON v.id = l.vendor_id
LEFT JOIN products p ON p.id = l.product_id
WHERE l.fulfilment_id = $1
ORDER BY l.position;

-- name: insert_commission_entries
INSERT INTO commission_ledger (id, vendor_id, order_id, line_id, refund_id, kind, currency,
                               gross_amount, commission_amount, rate_ppm, rule_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
                     $7::text[], $8::bigint[], $9::bigint[], $10::int[], $11::uuid[])
ON CONFLICT DO NOTHING;

-- name: booked_commissions
-- The commission entries of lines $1 (a refund reverses its share of them).
SELECT line_id, vendor_id, order_id, currency, gross_amount, commission_amount, rate_ppm, rule_id
FROM commission_ledger WHERE line_id = ANY($1::uuid[]) AND kind = 'commission';

-- name: reversed_so_far
SELECT line_id, -sum(gross_amount)::bigint AS gross, -sum(commission_amount)::bigint AS commission
FROM commission_ledger WHERE line_id = ANY($1::uuid[]) AND kind = 'reversal'
GROUP BY line_id;

-- name: list_commissions_source
SELECT * FROM commission_ledger;

-- Payouts -----------------------------------------------------------------------------------------

-- name: payable_vendors
-- The vendors and currencies with unpaid entries before $1 (vendors that may be paid).
SELECT DISTINCT c.vendor_id, c.currency
FROM commission_ledger c
JOIN vendors v ON v.id = c.vendor_id
WHERE c.payout_id IS NULL AND c.occurred_at < $1 AND v.status IN ('active', 'suspended')
ORDER BY c.vendor_id, c.currency;

-- name: lock_vendor_payouts
-- One payout run at a time per vendor (any period), until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended('payouts' || chr(31) || $1::uuid::text, 0));

-- name: unpaid_totals
-- What vendor $1's unpaid entries in currency $2 before $3 add up to (read under its lock).
SELECT v.payout_method,
       COALESCE(sum(c.gross_amount) FILTER (WHERE c.kind = 'commission'), 0)::bigint AS gross,
       COALESCE(sum(c.commission_amount), 0)::bigint AS commission,
       COALESCE(-sum(c.gross_amount) FILTER (WHERE c.kind = 'reversal'), 0)::bigint AS refunds,
       count(c.id)::int AS entries
FROM vendors v
LEFT JOIN commission_ledger c
       ON c.vendor_id = v.id AND c.currency = $2 AND c.payout_id IS NULL AND c.occurred_at < $3
WHERE v.id = $1
GROUP BY v.payout_method;

-- name: live_payout_of_period
SELECT id FROM payouts
WHERE vendor_id = $1 AND period_start = $2 AND period_end = $3 AND currency = $4 AND status <> 'failed';

-- name: insert_payout
INSERT INTO payouts (id, vendor_id, period_start, period_end, currency, gross_amount,
                     commission_amount, refund_amount, net_amount, entries, method, reference)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: claim_payout_entries
-- Entries of payout $1's vendor ($2) and currency ($3) before $4 become the payout's, and the
-- payout's amounts are what exactly those entries add up to.
WITH claimed AS (
    UPDATE commission_ledger SET payout_id = $1
    WHERE vendor_id = $2 AND currency = $3 AND payout_id IS NULL AND occurred_at < $4
    RETURNING kind, gross_amount, commission_amount
), sums AS (
    SELECT COALESCE(sum(gross_amount) FILTER (WHERE kind = 'commission'), 0)::bigint AS gross,
           COALESCE(sum(commission_amount), 0)::bigint AS commission,
           COALESCE(-sum(gross_amount) FILTER (WHERE kind = 'reversal'), 0)::bigint AS refunds,
           count(*)::int AS entries
    FROM claimed
)
UPDATE payouts p
SET gross_amount = s.gross, commission_amount = s.commission, refund_amount = s.refunds,
    net_amount = s.gross - s.commission - s.refunds, entries = s.entries
FROM sums s
WHERE p.id = $1
RETURNING p.*;

-- name: get_payout
SELECT * FROM payouts WHERE id = $1;

-- name: get_payout_for_update
SELECT * FROM payouts WHERE id = $1 FOR UPDATE;

-- name: settle_payout
UPDATE payouts SET status = $2, transaction_id = $3, failure_reason = $4, updated_at = now()
WHERE id = $1 RETURNING *;

-- name: release_payout_entries
UPDATE commission_ledger SET payout_id = NULL WHERE payout_id = $1;

-- name: delete_payout
DELETE FROM payouts WHERE id = $1;

-- name: list_payouts_source
SELECT * FROM payouts;

-- Analytics ---------------------------------------------------------------------------------------

-- name: vendor_sales_totals
-- Vendor $1's sales placed in [$2, $3): orders that were paid (not pending, not cancelled unpaid).
SELECT o.currency, count(DISTINCT o.id)::int AS orders, sum(l.quantity)::int AS units,
       sum(l.subtotal_amount - l.discount_amount)::bigint AS gross_amount,
       COALESCE(sum(r.refunded), 0)::bigint AS refunded_amount
FROM order_lines l
JOIN orders o ON o.id = l.order_id
LEFT JOIN LATERAL (
    SELECT -sum(c.gross_amount) AS refunded FROM commission_ledger c
    WHERE c.line_id = l.id AND c.kind = 'reversal'
) r ON true
WHERE l.vendor_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3
  AND o.status IN ('paid', 'processing', 'shipped', 'delivered', 'refunded')
GROUP BY o.currency
ORDER BY o.currency;

-- name: vendor_sales_daily
SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, o.currency,
       count(DISTINCT o.id)::int AS orders, sum(l.quantity)::int AS units,
       sum(l.subtotal_amount - l.discount_amount)::bigint AS gross_amount
FROM order_lines l
JOIN orders o ON o.id = l.order_id
WHERE l.vendor_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3
  AND o.status IN ('paid', 'processing', 'shipped', 'delivered', 'refunded')
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: vendor_top_products
SELECT l.product_id, max(l.name) AS name, o.currency, sum(l.quantity)::int AS units,
       sum(l.subtotal_amount - l.discount_amount)::bigint AS gross_amount
FROM order_lines l
JOIN orders o ON o.id = l.order_id
WHERE l.vendor_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3
  AND o.status IN ('paid', 'processing', 'shipped', 'delivered', 'refunded')
GROUP BY l.product_id, o.currency
ORDER BY gross_amount DESC, units DESC, l.product_id
LIMIT $4;

-- name: vendor_stock_alerts
SELECT s.variant_id, v.sku, w.code AS warehouse_code, s.on_hand - s.reserved AS available,
       s.low_stock_threshold
FROM stock s
JOIN product_variants v ON v.id = s.variant_id
JOIN warehouses w ON w.id = s.warehouse_id
WHERE v.vendor_id = $1 AND v.status = 'active' AND w.is_active
  AND s.low_stock_threshold IS NOT NULL AND s.on_hand - s.reserved <= s.low_stock_threshold
ORDER BY s.on_hand - s.reserved, v.sku, w.code
LIMIT $2;

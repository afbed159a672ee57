-- Price lists and coupons.

-- Price lists ------------------------------------------------------------------------------------

-- name: list_price_lists
SELECT id, name, currency, audience, priority, starts_at, ends_at, is_active, created_at, updated_at
FROM price_lists ORDER BY priority, name, id;

-- name: get_price_list
SELECT id, name, currency, audience, priority, starts_at, ends_at, is_active, created_at, updated_at
FROM price_lists WHERE id = $1;

-- name: insert_price_list
INSERT INTO price_lists (id, name, currency, audience, priority, starts_at, ends_at, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, name, currency, audience, priority, starts_at, ends_at, is_active, created_at, updated_at;

-- name: update_price_list
UPDATE price_lists
SET name = $2, audience = $3, priority = $4, starts_at = $5, ends_at = $6, is_active = $7, updated_at = now()
WHERE id = $1
RETURNING id, name, currency, audience, priority, starts_at, ends_at, is_active, created_at, updated_at;

-- name: delete_price_list
DELETE FROM price_lists WHERE id = $1 RETURNING id;

-- name: entry_variant_currencies
-- The currency of each given variant's product (to check entries against their list).
SELECT v.id, p.currency FROM product_variants v JOIN products p ON p.id = v.product_id
WHERE v.id = ANY($1::uuid[]);

-- name: upsert_price_list_entries
INSERT INTO price_list_entries (price_list_id, variant_id, price_amount, discount_ppm)
SELECT $1, e.variant_id, e.price_amount, e.discount_ppm
FROM unnest($2::uuid[], $3::bigint[], $4::int[]) AS e (variant_id, price_amount, discount_ppm)
ON CONFLICT (price_list_id, variant_id) DO UPDATE
SET price_amount = EXCLUDED.price_amount, discount_ppm = EXCLUDED.discount_ppm;

-- name: delete_price_list_entry
DELETE FROM price_list_entries WHERE price_list_id = $1 AND variant_id = $2 RETURNING variant_id;

-- name: price_list_entries_source
-- Every entry, for the list builder (filtered by price list).
SELECT price_list_id, variant_id AS id, variant_id, price_amount, discount_ppm FROM price_list_entries;

-- name: any_active_price_list
SELECT EXISTS (SELECT 1 FROM price_lists WHERE is_active);

-- name: price_terms
-- For each variant, the terms of the winning price list that applies now: active, of the cart's
-- currency ($2), for this audience ($3: the shopper is signed in), lowest priority first.
SELECT DISTINCT ON (e.variant_id) e.variant_id, e.price_amount, e.discount_ppm
FROM price_list_entries e JOIN price_lists l ON l.id = e.price_list_id
WHERE e.variant_id = ANY($1::uuid[]) AND l.is_active AND l.currency = $2
  AND (l.audience = 'everyone' OR $3)
  AND (l.starts_at IS NULL OR l.starts_at <= now()) AND (l.ends_at IS NULL OR l.ends_at > now())
ORDER BY e.variant_id, l.priority, l.id;

-- Coupons ----------------------------------------------------------------------------------------

-- name: coupon_list_source
SELECT id, code, name, kind, automatic, currency, discount_ppm, amount_off, max_discount_amount,
       minimum_subtotal, buy_quantity, get_quantity, tiers, exclusive_group, product_ids,
       category_ids, starts_at, ends_at, usage_limit, per_customer_limit, times_used, is_active,
       created_at, updated_at
FROM coupons;

-- name: get_coupon
SELECT id, code, name, kind, automatic, currency, discount_ppm, amount_off, max_discount_amount,
       minimum_subtotal, buy_quantity, get_quantity, tiers, exclusive_group, product_ids,
       category_ids, starts_at, ends_at, usage_limit, per_customer_limit, times_used, is_active,
       created_at, updated_at
FROM coupons WHERE id = $1;

-- name: coupon_by_code
SELECT id, code, name, kind, automatic, currency, discount_ppm, amount_off, max_discount_amount,
       minimum_subtotal, buy_quantity, get_quantity, tiers, exclusive_group, product_ids,
       category_ids, starts_at, ends_at, usage_limit, per_customer_limit, times_used, is_active,
       created_at, updated_at
FROM coupons WHERE code = $1;

-- name: automatic_coupons
SELECT id, code, name, kind, automatic, currency, discount_ppm, amount_off, max_discount_amount,
       minimum_subtotal, buy_quantity, get_quantity, tiers, exclusive_group, product_ids,
       category_ids, starts_at, ends_at, usage_limit, per_customer_limit, times_used, is_active,
       created_at, updated_at
FROM coupons WHERE automatic AND is_active ORDER BY created_at, id;

-- name: insert_coupon
INSERT INTO coupons (id, code, name, kind, automatic, currency, discount_ppm, amount_off,
                     max_discount_amount, minimum_subtotal, buy_quantity, get_quantity, tiers,
                     exclusive_group, product_ids, category_ids, starts_at, ends_at, usage_limit,
                     per_customer_limit, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (code) DO NOTHING
RETURNING id;

-- name: update_coupon
UPDATE coupons
SET name = $2, automatic = $3, currency = $4, discount_ppm = $5, amount_off = $6,
    max_discount_amount = $7, minimum_subtotal = $8, buy_quantity = $9, get_quantity = $10,
    tiers = $11, exclusive_group = $12, product_ids = $13, category_ids = $14, starts_at = $15,
    ends_at = $16, usage_limit = $17, per_customer_limit = $18, is_active = $19, updated_at = now()
WHERE id = $1;

-- name: delete_unused_coupon
DELETE FROM coupons c WHERE c.id = $1
  AND NOT EXISTS (SELECT 1 FROM coupon_redemptions r WHERE r.coupon_id = c.id)
RETURNING id;

-- name: count_customer_redemptions
SELECT count(*)::int FROM coupon_redemptions
WHERE coupon_id = $1 AND customer = $2 AND released_at IS NULL;

-- name: take_coupon_use
-- One more use, unless the total limit is reached (the row lock orders concurrent checkouts).
UPDATE coupons SET times_used = times_used + 1, updated_at = now()
WHERE id = $1 AND is_active AND (usage_limit IS NULL OR times_used < usage_limit)
RETURNING times_used;

-- name: insert_redemption
INSERT INTO coupon_redemptions (coupon_id, order_id, customer) VALUES ($1, $2, $3);

-- name: release_redemptions
-- An order's coupon uses given back (its order was cancelled).
WITH released AS (
    UPDATE coupon_redemptions SET released_at = now()
    WHERE order_id = $1 AND released_at IS NULL
    RETURNING coupon_id
)
UPDATE coupons c SET times_used = c.times_used - 1, updated_at = now()
FROM released r WHERE c.id = r.coupon_id;

-- Selling: what prices a cart (price lists, coupons, tax rules, shipping zones and methods),
-- carts, orders with their lines, fulfilments, payments and refunds, stock holds and transfers,
-- and the idempotency keys of the writes that move money.

-- Products name the tax class they are sold under (null: the standard rules).
ALTER TABLE products ADD COLUMN tax_category text;

-- Price lists ------------------------------------------------------------------------------------

-- A price list sets variants' prices (a fixed price or a discount) for a currency, an audience
-- and a window; where several apply to a variant, the lowest priority number wins.
CREATE TABLE price_lists (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    currency    char(3) NOT NULL,
    audience    text NOT NULL DEFAULT 'everyone' CHECK (audience IN ('everyone', 'signed_in')),
    priority    integer NOT NULL DEFAULT 100,
    starts_at   timestamptz,
    ends_at     timestamptz,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);

CREATE TABLE price_list_entries (
    price_list_id  uuid NOT NULL REFERENCES price_lists (id) ON DELETE CASCADE,
    variant_id     uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    price_amount   bigint CHECK (price_amount >= 0),
    discount_ppm   integer CHECK (discount_ppm BETWEEN 0 AND 1000000),
    PRIMARY KEY (price_list_id, variant_id),
    CHECK ((price_amount IS NULL) <> (discount_ppm IS NULL))
);
CREATE INDEX price_list_entries_variant_idx ON price_list_entries (variant_id);

-- Coupons ----------------------------------------------------------------------------------------

-- A discount rule: entered by its code, or applied to every qualifying cart when automatic.
CREATE TABLE coupons (
    id                   uuid PRIMARY KEY,
    code                 text NOT NULL,          -- upper case
    name                 text NOT NULL DEFAULT '',
    kind                 text NOT NULL
                         CHECK (kind IN ('percentage', 'fixed', 'buy_x_get_y', 'tiered', 'free_shipping')),
    automatic            boolean NOT NULL DEFAULT false,
    currency             char(3),                -- of its amounts; null only without amounts
    discount_ppm         integer NOT NULL DEFAULT 0 CHECK (discount_ppm BETWEEN 0 AND 1000000),
    amount_off           bigint NOT NULL DEFAULT 0 CHECK (amount_off >= 0),
    max_discount_amount  bigint CHECK (max_discount_amount >= 0),
    minimum_subtotal     bigint NOT NULL DEFAULT 0 CHECK (minimum_subtotal >= 0),
    buy_quantity         integer CHECK (buy_quantity > 0),
    get_quantity         integer CHECK (get_quantity > 0),
    tiers                jsonb NOT NULL DEFAULT '[]',    -- [{"threshold": 5000, "ppm": 50000}]
    exclusive_group      text,                   -- of the rules in one group, only the best applies
    product_ids          uuid[] NOT NULL DEFAULT '{}',   -- what it applies to; both empty: everything
    category_ids         uuid[] NOT NULL DEFAULT '{}',
    starts_at            timestamptz,
    ends_at              timestamptz,
    usage_limit          integer CHECK (usage_limit > 0),
    per_customer_limit   integer CHECK (per_customer_limit > 0),
    times_used           integer NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    is_active            boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (usage_limit IS NULL OR times_used <= usage_limit),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);
CREATE UNIQUE INDEX coupons_code_key ON coupons (code);
CREATE INDEX coupons_automatic_idx ON coupons (id) WHERE automatic AND is_active;

-- Each use of a coupon by an order; a cancelled order gives its use back.
CREATE TABLE coupon_redemptions (
    coupon_id    uuid NOT NULL REFERENCES coupons (id),
    order_id     uuid NOT NULL,
    customer     text NOT NULL,                  -- the user id, or a guest's lower-cased e-mail
    created_at   timestamptz NOT NULL DEFAULT now(),
    released_at  timestamptz,
    PRIMARY KEY (coupon_id, order_id)
);
CREATE INDEX coupon_redemptions_customer_idx ON coupon_redemptions (coupon_id, customer)
    WHERE released_at IS NULL;

-- Tax --------------------------------------------------------------------------------------------

-- A rate for a place (country; region or postal prefix optional) and optionally one tax class;
-- every matching rule adds its rate. Rates are parts per million.
CREATE TABLE tax_rules (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL,
    country              char(2) NOT NULL,
    region               text,
    postal_prefix        text,
    tax_category         text,
    rate_ppm             integer NOT NULL CHECK (rate_ppm BETWEEN 0 AND 9000000),
    applies_to_shipping  boolean NOT NULL DEFAULT false,
    is_active            boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tax_rules_country_idx ON tax_rules (country) WHERE is_active;

-- Shipping ---------------------------------------------------------------------------------------

-- Where a zone ships: its countries, and within them only the listed regions when there are any.
-- An address belongs to the first active zone (by priority) that covers it.
CREATE TABLE shipping_zones (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    countries   text[] NOT NULL CHECK (cardinality(countries) > 0),
    regions     text[] NOT NULL DEFAULT '{}',
    priority    integer NOT NULL DEFAULT 100,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shipping_methods (
    id                 uuid PRIMARY KEY,
    zone_id            uuid NOT NULL REFERENCES shipping_zones (id) ON DELETE CASCADE,
    name               text NOT NULL,
    currency           char(3) NOT NULL,
    base_amount        bigint NOT NULL CHECK (base_amount >= 0),
    per_kg_amount      bigint NOT NULL DEFAULT 0 CHECK (per_kg_amount >= 0),
    free_above_amount  bigint CHECK (free_above_amount >= 0),
    max_weight_grams   integer CHECK (max_weight_grams > 0),
    min_delivery_days  integer CHECK (min_delivery_days >= 0),
    max_delivery_days  integer CHECK (max_delivery_days >= min_delivery_days),
    position           integer NOT NULL DEFAULT 0,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipping_methods_zone_idx ON shipping_methods (zone_id, position);

-- Carts ------------------------------------------------------------------------------------------

-- A signed-in user's cart, or a guest's found by the hash of its token. Lines remember the unit
-- price the shopper last saw, so a changed price can be pointed out.
CREATE TABLE carts (
    id                  uuid PRIMARY KEY,
    user_id             uuid REFERENCES users (id) ON DELETE CASCADE,
    token_hash          bytea,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'converted')),
    currency            char(3),
    coupon_code         text,
    email               text,
    shipping_address    jsonb,
    shipping_method_id  uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz,
    CHECK (user_id IS NOT NULL OR token_hash IS NOT NULL)
);
CREATE UNIQUE INDEX carts_user_active_key ON carts (user_id) WHERE status = 'active' AND user_id IS NOT NULL;
CREATE UNIQUE INDEX carts_token_key ON carts (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX carts_expiry_idx ON carts (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE cart_lines (
    cart_id           uuid NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id        uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    quantity          integer NOT NULL CHECK (quantity > 0),
    seen_unit_amount  bigint NOT NULL,
    added_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cart_id, variant_id)
);

-- Orders -----------------------------------------------------------------------------------------

CREATE SEQUENCE order_numbers START 100001;

-- An order's state follows its payment and fulfilments: pending -> paid -> processing ->
-- shipped -> delivered, or cancelled (from pending, paid or processing), or refunded. Amounts are
-- exactly what the cart's totals were when it was placed; total_amount is what is charged.
CREATE TABLE orders (
    id                     uuid PRIMARY KEY,
    number                 text NOT NULL,
    user_id                uuid REFERENCES users (id),
    email                  text NOT NULL,
    cart_id                uuid,
    status                 text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'paid', 'processing', 'shipped', 'delivered',
                                             'cancelled', 'refunded')),
    currency               char(3) NOT NULL,
    subtotal_amount        bigint NOT NULL,
    discount_amount        bigint NOT NULL,
    tax_amount             bigint NOT NULL,
    shipping_amount        bigint NOT NULL,
    shipping_tax_amount    bigint NOT NULL,
    total_amount           bigint NOT NULL CHECK (total_amount >= 0),
    refunded_amount        bigint NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND total_amount),
    prices_include_tax     boolean NOT NULL,
    coupon_code            text,
    shipping_method_id     uuid,
    shipping_method_name   text,
    shipping_address       jsonb,
    payment_provider       text NOT NULL,
    holds_expire_at        timestamptz,
    cancel_reason          text,
    placed_at              timestamptz NOT NULL DEFAULT now(),
    paid_at                timestamptz,
    cancelled_at           timestamptz,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orders_number_key ON orders (number);
CREATE INDEX orders_user_idx ON orders (user_id, placed_at DESC, id DESC);
CREATE INDEX orders_placed_idx ON orders (placed_at DESC, id DESC);
CREATE INDEX orders_status_idx ON orders (status, placed_at DESC, id DESC);
CREATE INDEX orders_email_idx ON orders (lower(email));
CREATE INDEX orders_unpaid_expiry_idx ON orders (holds_expire_at) WHERE status = 'pending';

-- One fulfilment per vendor of an order: what that vendor ships.
CREATE TABLE fulfilments (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    vendor_id        uuid NOT NULL REFERENCES vendors (id),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'shipped', 'delivered', 'cancelled')),
    carrier          text,
    tracking_number  text,
    shipped_at       timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fulfilments_order_idx ON fulfilments (order_id);
CREATE INDEX fulfilments_vendor_idx ON fulfilments (vendor_id, created_at DESC);

CREATE TABLE order_lines (
    id                 uuid PRIMARY KEY,
    order_id           uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    fulfilment_id      uuid NOT NULL REFERENCES fulfilments (id),
    position           integer NOT NULL,
    product_id         uuid NOT NULL,
    variant_id         uuid NOT NULL,
    vendor_id          uuid NOT NULL,
    sku                text NOT NULL,
    name               text NOT NULL,
    quantity           integer NOT NULL CHECK (quantity > 0),
    unit_price_amount  bigint NOT NULL,
    subtotal_amount    bigint NOT NULL,
    discount_amount    bigint NOT NULL,
    tax_amount         bigint NOT NULL,
    total_amount       bigint NOT NULL,
    tax_rate_ppm       integer NOT NULL,
    refunded_quantity  integer NOT NULL DEFAULT 0 CHECK (refunded_quantity BETWEEN 0 AND quantity)
);
CREATE INDEX order_lines_order_idx ON order_lines (order_id, position);

-- Every change of an order's status, in order.
CREATE TABLE order_history (
    id           bigserial PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status  text,
    to_status    text NOT NULL,
    reason       text NOT NULL,
    actor_id     uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_history_order_idx ON order_history (order_id, id);

-- Stock promised to an order line in one warehouse: held (reserved, with an expiry) until the
-- payment is captured, then allocated (taken off the shelf's count), or released.
CREATE TABLE stock_holds (
    id            bigserial PRIMARY KEY,
    order_id      uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_id       uuid NOT NULL REFERENCES order_lines (id) ON DELETE CASCADE,
    variant_id    uuid NOT NULL,
    warehouse_id  uuid NOT NULL REFERENCES warehouses (id),
    quantity      integer NOT NULL CHECK (quantity > 0),
    returned      integer NOT NULL DEFAULT 0 CHECK (returned BETWEEN 0 AND quantity),
    status        text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'allocated', 'released')),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_holds_order_idx ON stock_holds (order_id);

-- Payments ---------------------------------------------------------------------------------------

CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    order_id            uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    provider            text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'requires_action', 'authorized', 'captured',
                                          'failed', 'voided', 'partially_refunded', 'refunded')),
    amount              bigint NOT NULL CHECK (amount >= 0),
    currency            char(3) NOT NULL,
    captured_amount     bigint NOT NULL DEFAULT 0,
    refunded_amount     bigint NOT NULL DEFAULT 0 CHECK (refunded_amount <= captured_amount),
    method_details      jsonb NOT NULL DEFAULT '{}',   -- what may be shown: {"last4": "4242"}
    provider_reference  text,
    failure_code        text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id);

CREATE TABLE refunds (
    id          uuid PRIMARY KEY,
    payment_id  uuid NOT NULL REFERENCES payments (id),
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount      bigint NOT NULL CHECK (amount > 0),
    restock     boolean NOT NULL,
    reason      text NOT NULL,
    lines       jsonb NOT NULL DEFAULT '[]',            -- [{"lineId", "quantity"}]
    actor_id    uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order_idx ON refunds (order_id);

-- Stock transfers --------------------------------------------------------------------------------

CREATE TABLE stock_transfers (
    id                        uuid PRIMARY KEY,
    source_warehouse_id       uuid NOT NULL REFERENCES warehouses (id),
    destination_warehouse_id  uuid NOT NULL REFERENCES warehouses (id),
    status                    text NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'in_transit', 'completed', 'cancelled')),
    note                      text NOT NULL DEFAULT '',
    created_by                uuid,
    created_at                timestamptz NOT NULL DEFAULT now(),
    shipped_at                timestamptz,
    received_at               timestamptz,
    cancelled_at              timestamptz,
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (source_warehouse_id <> destination_warehouse_id)
);
CREATE INDEX stock_transfers_created_idx ON stock_transfers (created_at DESC, id DESC);

CREATE TABLE stock_transfer_lines (
    transfer_id  uuid NOT NULL REFERENCES stock_transfers (id) ON DELETE CASCADE,
    variant_id   uuid NOT NULL REFERENCES product_variants (id),
    quantity     integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (transfer_id, variant_id)
);

-- Idempotency ------------------------------------------------------------------------------------

-- The first response of a write that moves money, per caller (scope), route and key, with a
-- fingerprint of the request; written in the same transaction as the order it made.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    route        text NOT NULL,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    status_code  integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, route, key)
);
CREATE INDEX idempotency_keys_age_idx ON idempotency_keys (created_at);

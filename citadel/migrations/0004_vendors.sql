-- The marketplace: vendor profiles and their lifecycle, API keys for vendors' machines,
-- commission rules and the commission ledger, payouts, and bulk jobs with their staged rows.

-- Vendors ----------------------------------------------------------------------------------------

ALTER TABLE vendors
    ADD COLUMN description          text NOT NULL DEFAULT '',
    ADD COLUMN contact_email        text,
    ADD COLUMN phone                text,
    ADD COLUMN website              text,
    -- what the vendor decides for itself: {"lowStockAlerts": true, "defaultLowStockThreshold": 5, ...}
    ADD COLUMN settings             jsonb NOT NULL DEFAULT '{}',
    -- the fallback commission when no rule matches (parts per million: 15% = 150,000)
    ADD COLUMN commission_rate_ppm  integer NOT NULL DEFAULT 150000
                                    CHECK (commission_rate_ppm BETWEEN 0 AND 1000000),
    ADD COLUMN payout_method        text NOT NULL DEFAULT 'bank_transfer'
                                    CHECK (payout_method IN ('bank_transfer', 'paypal', 'stripe')),
    -- where payouts go (an IBAN, a PayPal address, a Stripe account); shown masked
    ADD COLUMN payout_account       text,
    ADD COLUMN status_reason        text,
    ADD COLUMN approved_at          timestamptz;
CREATE INDEX vendors_status_idx ON vendors (status, created_at DESC, id DESC);

-- Products carry the vendor's own key: bulk upserts find them by it.
ALTER TABLE products ADD COLUMN vendor_sku text;
CREATE UNIQUE INDEX products_vendor_sku_key ON products (vendor_id, vendor_sku);

-- A fulfilment is packed before it ships.
ALTER TABLE fulfilments DROP CONSTRAINT fulfilments_status_check;
ALTER TABLE fulfilments ADD CONSTRAINT fulfilments_status_check
    CHECK (status IN ('pending', 'processing', 'packed', 'shipped', 'delivered', 'cancelled'));
ALTER TABLE fulfilments ADD COLUMN packed_at timestamptz;

-- API keys ---------------------------------------------------------------------------------------

-- Keys for a vendor's integrations. Only a SHA-256 of the secret is kept (the secret has 256 bits
-- of randomness, so a slow hash adds nothing); the prefix identifies a key in lists and logs.
CREATE TABLE vendor_api_keys (
    id            uuid PRIMARY KEY,
    vendor_id     uuid NOT NULL REFERENCES vendors (id),
    name          text NOT NULL,
    prefix        text NOT NULL,
    secret_hash   bytea NOT NULL,
    scopes        text[] NOT NULL,
    created_by    uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE UNIQUE INDEX vendor_api_keys_hash_key ON vendor_api_keys (secret_hash);
CREATE INDEX vendor_api_keys_vendor_idx ON vendor_api_keys (vendor_id, created_at DESC);

-- Commissions ------------------------------------------------------------------------------------

-- The first active rule that matches a line (by priority, highest first) sets its commission:
-- a rule may name a vendor, a category (its descendants included) and an order-value band, and
-- clamps the commission between a minimum and a maximum. No match: the vendor's own rate.
CREATE TABLE commission_rules (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    vendor_id         uuid REFERENCES vendors (id),
    category_id       uuid REFERENCES categories (id),
    currency          char(3),       -- the currency of the band and of the bounds; null: any
    min_order_amount  bigint CHECK (min_order_amount >= 0),
    max_order_amount  bigint CHECK (max_order_amount >= 0),
    rate_ppm          integer NOT NULL CHECK (rate_ppm BETWEEN 0 AND 1000000),
    min_commission    bigint CHECK (min_commission >= 0),
    max_commission    bigint CHECK (max_commission >= 0),
    priority          integer NOT NULL DEFAULT 0,
    active            boolean NOT NULL DEFAULT true,
    starts_at         timestamptz,
    ends_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (max_order_amount IS NULL OR min_order_amount IS NULL OR max_order_amount >= min_order_amount),
    CHECK (max_commission IS NULL OR min_commission IS NULL OR max_commission >= min_commission),
    CHECK ((min_order_amount IS NULL AND max_order_amount IS NULL AND min_commission IS NULL
            AND max_commission IS NULL) OR currency IS NOT NULL)
);

-- One entry per delivered order line (kind 'commission') and one per refund of a delivered line
-- (kind 'reversal', amounts negative). A payout takes every entry of its vendor and currency not
-- yet paid out that occurred before its period's end.
CREATE TABLE commission_ledger (
    id                 uuid PRIMARY KEY,
    vendor_id          uuid NOT NULL REFERENCES vendors (id),
    order_id           uuid NOT NULL REFERENCES orders (id),
    line_id            uuid NOT NULL REFERENCES order_lines (id),
    refund_id          uuid REFERENCES refunds (id),
    kind               text NOT NULL CHECK (kind IN ('commission', 'reversal')),
    currency           char(3) NOT NULL,
    gross_amount       bigint NOT NULL,   -- the line's goods (after discounts, before tax)
    commission_amount  bigint NOT NULL,
    rate_ppm           integer NOT NULL,
    rule_id            uuid REFERENCES commission_rules (id),
    payout_id          uuid,
    occurred_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'commission') = (refund_id IS NULL))
);
CREATE UNIQUE INDEX commission_ledger_line_key ON commission_ledger (line_id) WHERE kind = 'commission';
CREATE UNIQUE INDEX commission_ledger_refund_key ON commission_ledger (refund_id, line_id) WHERE kind = 'reversal';
CREATE INDEX commission_ledger_unpaid_idx ON commission_ledger (vendor_id, currency, occurred_at)
    WHERE payout_id IS NULL;
CREATE INDEX commission_ledger_payout_idx ON commission_ledger (payout_id);

-- Payouts ----------------------------------------------------------------------------------------

CREATE TABLE payouts (
    id                 uuid PRIMARY KEY,
    vendor_id          uuid NOT NULL REFERENCES vendors (id),
    period_start       date NOT NULL,
    period_end         date NOT NULL,   -- exclusive
    currency           char(3) NOT NULL,
    gross_amount       bigint NOT NULL,
    commission_amount  bigint NOT NULL,
    refund_amount      bigint NOT NULL,
    net_amount         bigint NOT NULL,
    entries            integer NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed')),
    method             text NOT NULL,
    reference          text NOT NULL,
    transaction_id     text,
    failure_reason     text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (period_end > period_start)
);
-- one live payout per vendor, period and currency; a failed one may be run again
CREATE UNIQUE INDEX payouts_period_key ON payouts (vendor_id, period_start, period_end, currency)
    WHERE status <> 'failed';
CREATE INDEX payouts_vendor_idx ON payouts (vendor_id, created_at DESC, id DESC);
ALTER TABLE commission_ledger ADD CONSTRAINT commission_ledger_payout_fkey
    FOREIGN KEY (payout_id) REFERENCES payouts (id);

-- Bulk jobs --------------------------------------------------------------------------------------

-- A file of rows uploaded for a worker to apply. The upload streams into bulk_job_rows (never a
-- local disk); a worker holding the job's lease applies rows in chunks, each chunk committing its
-- writes, its errors and the job's checkpoint together, so a worker that dies mid-job leaves a
-- checkpoint the next one resumes from.
CREATE TABLE bulk_jobs (
    id               uuid PRIMARY KEY,
    vendor_id        uuid NOT NULL REFERENCES vendors (id),
    kind             text NOT NULL CHECK (kind IN ('products', 'stock', 'prices')),
    format           text NOT NULL CHECK (format IN ('ndjson', 'csv')),
    status           text NOT NULL DEFAULT 'uploading'
                     CHECK (status IN ('uploading', 'queued', 'running', 'completed', 'failed')),
    idempotency_key  text NOT NULL,
    fingerprint      text NOT NULL,
    total_rows       integer NOT NULL DEFAULT 0,
    processed_rows   integer NOT NULL DEFAULT 0,
    created_rows     integer NOT NULL DEFAULT 0,
    updated_rows     integer NOT NULL DEFAULT 0,
    unchanged_rows   integer NOT NULL DEFAULT 0,
    error_rows       integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    lease_owner      text,
    leased_until     timestamptz,
    failure          text,
    created_by       uuid NOT NULL REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bulk_jobs_idempotency_key ON bulk_jobs (vendor_id, idempotency_key);
CREATE INDEX bulk_jobs_vendor_idx ON bulk_jobs (vendor_id, created_at DESC, id DESC);
CREATE INDEX bulk_jobs_runnable_idx ON bulk_jobs (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE bulk_job_rows (
    job_id  uuid NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    row_no  integer NOT NULL,   -- 1-based, as the file counts its data rows
    line    text NOT NULL,
    PRIMARY KEY (job_id, row_no)
);

CREATE TABLE bulk_job_errors (
    job_id  uuid NOT NULL REFERENCES bulk_jobs (id) ON DELETE CASCADE,
    row_no  integer NOT NULL,
    key     text,
    errors  jsonb NOT NULL,
    PRIMARY KEY (job_id, row_no)
);
CREATE INDEX order_lines_vendor_idx ON order_lines (vendor_id, order_id);

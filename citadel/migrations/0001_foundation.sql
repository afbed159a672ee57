-- Foundation: users and their addresses, credentials and sessions, the event outbox and
-- consumer bookkeeping, stored notifications.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Users ------------------------------------------------------------------------------------------

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL,                -- normalised: trimmed, lower case
    password_hash       text NOT NULL,                -- argon2id, PHC string
    name                text NOT NULL,
    role                text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'vendor', 'admin')),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
    email_verified_at   timestamptz,
    -- access tokens issued before this instant are refused (logout everywhere, password change
    -- or reset, deactivation)
    tokens_valid_after  timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
CREATE INDEX users_search_idx ON users USING gin ((email || ' ' || lower(name)) gin_trgm_ops);

CREATE TABLE addresses (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('shipping', 'billing')),
    is_default   boolean NOT NULL DEFAULT false,
    full_name    text NOT NULL,
    company      text,
    line1        text NOT NULL,
    line2        text,
    city         text NOT NULL,
    region       text,
    postal_code  text,
    country      char(2) NOT NULL,
    phone        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_user_idx ON addresses (user_id, created_at, id);
-- at most one default address of each kind per user
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id, kind) WHERE is_default;

-- Credentials and sessions ---------------------------------------------------------------------

-- Failed logins per e-mail address, known or not (so the answer never tells which exist).
CREATE TABLE login_throttle (
    email            text PRIMARY KEY,
    recent_failures  timestamptz[] NOT NULL DEFAULT '{}',
    locked_until     timestamptz
);

-- A refresh-token family is one login session; every rotation adds a token to it.
CREATE TABLE refresh_families (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    revoke_reason  text,
    user_agent     text,
    ip             inet
);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id, revoked_at);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,                      -- SHA-256 of the opaque token
    family_id   uuid NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- Single-use tokens sent by e-mail: password reset (1 h) and e-mail verification (24 h).
CREATE TABLE account_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at DESC);
CREATE INDEX account_tokens_expiry_idx ON account_tokens (expires_at);

-- Events -----------------------------------------------------------------------------------------

CREATE TABLE event_sequences (
    aggregate_id   text PRIMARY KEY,
    last_sequence  bigint NOT NULL
);

CREATE TABLE outbox (
    seq                 bigserial PRIMARY KEY,
    id                  uuid NOT NULL UNIQUE,
    event_type          text NOT NULL,
    aggregate_id        text NOT NULL,
    aggregate_sequence  bigint NOT NULL,
    occurred_at         timestamptz NOT NULL DEFAULT now(),
    data                jsonb NOT NULL,
    published_at        timestamptz,
    attempts            integer NOT NULL DEFAULT 0,
    last_error          text
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay when events commit (NOTIFY is delivered at COMMIT, once per transaction).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('citadel_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX processed_events_age_idx ON processed_events (processed_at);

-- Messages a consumer gave up on after its bounded retries, kept for inspection and replay.
CREATE TABLE parked_events (
    id         bigserial PRIMARY KEY,
    consumer   text NOT NULL,
    event_id   uuid,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    error      text NOT NULL,
    attempts   integer NOT NULL,
    parked_at  timestamptz NOT NULL DEFAULT now()
);

-- Notifications ----------------------------------------------------------------------------------

-- Messages rendered for a user from an event: one per (event, template).
CREATE TABLE notifications (
    id               uuid PRIMARY KEY,
    user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('email')),
    template         text NOT NULL,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    source_event_id  uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_event_id, template)
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC);

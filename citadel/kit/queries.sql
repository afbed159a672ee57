-- SQL of the shared infrastructure: migrations bookkeeping, the outbox and its relay,
-- consumer bookkeeping, and readiness.

-- name: create_migrations_table
-- The ledger of applied migrations (created before the first migration runs).
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: list_applied_migrations
SELECT version, name, checksum FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3);

-- name: advisory_lock
-- Session-level lock held on a dedicated connection (never on a pooled one).
SELECT pg_advisory_lock($1);

-- name: advisory_unlock
SELECT pg_advisory_unlock($1);

-- name: try_advisory_lock
SELECT pg_try_advisory_lock($1);

-- name: insert_outbox_event
-- One event, numbered within its aggregate, in the caller's transaction.
WITH next AS (
    INSERT INTO event_sequences AS s (aggregate_id, last_sequence)
    VALUES ($3, 1)
    ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = s.last_sequence + 1
    RETURNING last_sequence
)
INSERT INTO outbox (id, event_type, aggregate_id, aggregate_sequence, data)
SELECT $1, $2, $3, next.last_sequence, $4::jsonb FROM next
RETURNING aggregate_sequence;

-- name: fetch_unpublished
-- The oldest unpublished events after $2 (0: all of them), in the order of their insertion.
SELECT seq, id, event_type, aggregate_id, aggregate_sequence, occurred_at, data::text AS data
FROM outbox
WHERE published_at IS NULL AND seq > $2
ORDER BY seq
LIMIT $1;

-- name: mark_published
UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[]);

-- name: record_publish_failure
UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1;

-- name: purge_published_outbox
DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1);

-- name: mark_event_processed
-- True when this consumer has not seen the event before (its effects then commit with this row).
INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: mark_events_processed
-- Of these events ($2), those this consumer has not seen before (their effects then commit with
-- these rows), in one statement.
INSERT INTO processed_events (consumer, event_id) SELECT $1, e FROM unnest($2::uuid[]) AS e
ON CONFLICT DO NOTHING
RETURNING event_id;

-- name: park_event
INSERT INTO parked_events (consumer, event_id, subject, payload, error, attempts)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: purge_processed_events
DELETE FROM processed_events WHERE processed_at < now() - make_interval(days => $1);

-- name: insert_outbox_events
-- Several events in one statement ($1 ids, $2 types, $3 aggregates, $4 data), numbered within
-- their aggregates in the order given.
WITH ev AS (
    SELECT e.*, row_number() OVER (PARTITION BY e.aggregate_id ORDER BY e.ord) AS nth,
           count(*) OVER (PARTITION BY e.aggregate_id) AS cnt
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY
         AS e (id, event_type, aggregate_id, data, ord)
), seq AS (
    INSERT INTO event_sequences AS s (aggregate_id, last_sequence)
    SELECT aggregate_id, max(cnt) FROM ev GROUP BY aggregate_id
    ON CONFLICT (aggregate_id) DO UPDATE SET last_sequence = s.last_sequence + EXCLUDED.last_sequence
    RETURNING aggregate_id, last_sequence
)
INSERT INTO outbox (id, event_type, aggregate_id, aggregate_sequence, data)
SELECT ev.id, ev.event_type, ev.aggregate_id, seq.last_sequence - ev.cnt + ev.nth, ev.data
FROM ev JOIN seq USING (aggregate_id)
ORDER BY ev.ord;

-- Idempotency -----------------------------------------------------------------------------------

-- name: claim_idempotency_key
-- Take the key's transaction-scoped lock without waiting, and read its first answer if it has
-- one younger than $4 hours (read after the lock is held: see migration 0012).
SELECT locked, fingerprint, status_code, body FROM claim_idempotency_key($1, $2, $3, $4);

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1);

-- Transactions of pooled connections (simple-query protocol: one round trip each) -------------

-- name: begin
BEGIN;

-- name: begin_generic_plans
-- A transaction whose prepared statements run their generic plans (no planning per execution).
BEGIN; SELECT set_config('plan_cache_mode', 'force_generic_plan', true);

-- name: commit
COMMIT;

-- name: rollback
ROLLBACK;

-- The outbox is a queue: every row is inserted, then updated once (published), then deleted after
-- the retention. Each publication leaves a dead row version and its index entries behind, and
-- PostgreSQL's default (vacuum at 20% dead rows) lets a busy outbox collect a hundred thousand of
-- them, which every read of the unpublished rows from the start has to step over. Vacuum it after
-- a fixed number of changes instead, and without the cost-based pauses.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_vacuum_cost_delay = 0
);

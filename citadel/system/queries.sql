-- Health checks.

-- name: ping
SELECT 1;

-- name: outbox_backlog
-- Unpublished events and the age in seconds of the oldest one (read at each metrics scrape).
SELECT count(*) AS backlog,
       COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS oldest_age_s
FROM outbox
WHERE published_at IS NULL;

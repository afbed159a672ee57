-- The relay no longer wakes on NOTIFY.
--
-- PostgreSQL takes one database-wide lock when a notifying transaction commits and holds it
-- until the commit's WAL flush is done, so every transaction that wrote outbox rows committed
-- after the one before it had flushed: checkouts ran at one flush after another (under 300 a
-- second here) instead of sharing flushes. Processes now wake the relay over core NATS after
-- such a commit (citadel.outbox.wake); the relay's poll remains the fallback.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- The relay no longer wakes on NOTIFY.
--
-- PostgreSQL takes one database-wide lock when a notifying transaction commits and holds it
-- until the commit's WAL flush is done, so the transactions that wrote outbox rows committed one
-- after another instead of sharing flushes (under checkout load, one connection in fourteen was
-- seen waiting on that lock at COMMIT). Processes now wake the relay over core NATS after such a
-- commit (citadel.outbox.wake); the relay's poll remains the fallback.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- Claiming an idempotency key in one round trip, without missing an answer committed a moment
-- ago. A single statement reads with the snapshot it took when it started: when the request that
-- held the key's lock committed between that start and this statement taking the lock, the lock
-- was free and the stored answer invisible, and the request went on as if it were the first (a
-- concurrent duplicate then found its cart spent: 404 instead of the replayed answer). In this
-- function the lookup is a statement of its own, so it reads with a snapshot taken after the
-- lock is held (a VOLATILE function takes one per statement under READ COMMITTED).
CREATE FUNCTION claim_idempotency_key(p_scope text, p_route text, p_key text, p_ttl_hours integer)
RETURNS TABLE (locked boolean, fingerprint bytea, status_code integer, body bytea)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_scope || chr(31) || p_route || chr(31) || p_key, 0)) THEN
        RETURN QUERY SELECT false, NULL::bytea, NULL::integer, NULL::bytea;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, k.fingerprint, k.status_code, k.body
        FROM (SELECT 1) one
        LEFT JOIN idempotency_keys k
               ON k.scope = p_scope AND k.route = p_route AND k.key = p_key
              AND k.created_at > now() - make_interval(hours => p_ttl_hours);
END;
$$;

-- Credentials, sessions (refresh-token families), single-use account tokens, login throttling.

-- name: principal_state
-- Checked by every authenticated request (and cached per worker): the user's role and status,
-- the instant before which its tokens are void, and its sessions revoked recently enough that
-- their access tokens could still be unexpired.
SELECT u.role,
       u.status,
       floor(EXTRACT(EPOCH FROM u.tokens_valid_after) * 1000)::bigint AS valid_after_ms,
       ARRAY(
           SELECT f.id FROM refresh_families f
           WHERE f.user_id = u.id AND f.revoked_at > now() - make_interval(secs => $2)
       ) AS revoked_sessions
FROM users u
WHERE u.id = $1;

-- name: get_login_lock
SELECT locked_until FROM login_throttle WHERE email = $1 FOR UPDATE;

-- name: record_login_failure
-- Keeps the failures of the last window (sliding), adds this one, returns how many there are.
INSERT INTO login_throttle AS t (email, recent_failures) VALUES ($1, ARRAY[now()])
ON CONFLICT (email) DO UPDATE
SET recent_failures = ARRAY(
        SELECT f FROM unnest(t.recent_failures) AS f WHERE f > now() - make_interval(secs => $2)
    ) || now()
RETURNING cardinality(recent_failures);

-- name: lock_login
UPDATE login_throttle
SET locked_until = now() + make_interval(secs => $2), recent_failures = '{}'
WHERE email = $1
RETURNING locked_until;

-- name: clear_login_throttle
DELETE FROM login_throttle WHERE email = $1;

-- name: insert_family
-- Created at clock time, after any revocation earlier in the same transaction.
INSERT INTO refresh_families (id, user_id, created_at, last_used_at, user_agent, ip)
VALUES ($1, $2, clock_timestamp(), clock_timestamp(), $3, $4::inet);

-- name: insert_refresh_token
INSERT INTO refresh_tokens (token_hash, family_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
RETURNING expires_at;

-- name: use_refresh_token
-- Atomically claims an unused token: of two concurrent uses only one gets a row.
UPDATE refresh_tokens SET used_at = now()
WHERE token_hash = $1 AND used_at IS NULL
RETURNING family_id, expires_at;

-- name: find_refresh_token
SELECT family_id, used_at, expires_at FROM refresh_tokens WHERE token_hash = $1;

-- name: get_family_for_update
SELECT f.id, f.user_id, f.created_at, f.revoked_at, u.status, u.tokens_valid_after
FROM refresh_families f JOIN users u ON u.id = f.user_id
WHERE f.id = $1
FOR UPDATE OF f;

-- name: touch_family
UPDATE refresh_families SET last_used_at = now() WHERE id = $1;

-- name: revoke_family
UPDATE refresh_families SET revoked_at = now(), revoke_reason = $2
WHERE id = $1 AND revoked_at IS NULL
RETURNING user_id;

-- name: revoke_user_families
-- Every live session of the user, except $3 when it is given.
UPDATE refresh_families SET revoked_at = now(), revoke_reason = $2
WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3::uuid;

-- name: void_account_tokens
-- A new link replaces the older ones of the same purpose.
UPDATE account_tokens SET used_at = now()
WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL;

-- name: insert_account_token
INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
RETURNING expires_at;

-- name: use_account_token
-- Single use: claims the token only if it is unused and unexpired.
UPDATE account_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
RETURNING user_id, email;

-- name: last_account_token_at
SELECT max(created_at) FROM account_tokens WHERE user_id = $1 AND purpose = $2;

-- name: purge_refresh_tokens
DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day';

-- name: purge_refresh_families
-- Families with no live token left and not used for longer than a refresh token lives.
DELETE FROM refresh_families f
WHERE f.last_used_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id AND t.expires_at > now());

-- name: purge_account_tokens
DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day';

-- name: purge_login_throttle
DELETE FROM login_throttle
WHERE (locked_until IS NULL OR locked_until < now())
  AND NOT EXISTS (SELECT 1 FROM unnest(recent_failures) f WHERE f > now() - make_interval(secs => $1));

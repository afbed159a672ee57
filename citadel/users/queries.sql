-- Users and addresses.

-- name: insert_user
INSERT INTO users (id, email, password_hash, name, role)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (email) DO NOTHING
RETURNING id, email, name, role, status, email_verified_at, created_at, updated_at;

-- name: get_user
SELECT id, email, name, role, status, email_verified_at, created_at, updated_at
FROM users WHERE id = $1;

-- name: get_user_for_update
SELECT id, email, name, role, status, email_verified_at, created_at, updated_at
FROM users WHERE id = $1 FOR UPDATE;

-- name: get_credentials_by_email
-- What a login needs: the hash and whether the account may sign in.
SELECT id, password_hash, status FROM users WHERE email = $1;

-- name: get_password_hash
SELECT password_hash FROM users WHERE id = $1;

-- name: set_password_hash
-- A new hash; with $3 true, every token issued before now stops working. Returns the cut-off.
UPDATE users
SET password_hash = $2,
    tokens_valid_after = CASE WHEN $3 THEN clock_timestamp() ELSE tokens_valid_after END,
    updated_at = now()
WHERE id = $1
RETURNING EXTRACT(EPOCH FROM tokens_valid_after)::float8;

-- name: revoke_tokens
-- Access tokens and sessions issued before this instant stop working.
UPDATE users SET tokens_valid_after = clock_timestamp() WHERE id = $1
RETURNING EXTRACT(EPOCH FROM tokens_valid_after)::float8;

-- name: update_profile
UPDATE users SET name = COALESCE($2, name), updated_at = now()
WHERE id = $1
RETURNING id, email, name, role, status, email_verified_at, created_at, updated_at;

-- name: set_role
UPDATE users SET role = $2, updated_at = now()
WHERE id = $1
RETURNING id, email, name, role, status, email_verified_at, created_at, updated_at;

-- name: set_status
-- Deactivation also ends every session at once.
UPDATE users
SET status = $2,
    tokens_valid_after = CASE WHEN $2 = 'deactivated' THEN clock_timestamp() ELSE tokens_valid_after END,
    updated_at = now()
WHERE id = $1
RETURNING id, email, name, role, status, email_verified_at, created_at, updated_at;

-- name: mark_email_verified
-- Only the address the token was sent to gets verified.
UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
WHERE id = $1 AND email = $2
RETURNING id, email, name, role, status, email_verified_at, created_at, updated_at;

-- name: count_users
SELECT count(*) FROM users;

-- name: list_users_source
-- The rows of the admin user list (filters and keyset pages are added by kit.listing).
SELECT id, email, name, role, status, email_verified_at, created_at, updated_at,
       email || ' ' || lower(name) AS search_text
FROM users;

-- name: list_addresses
SELECT * FROM addresses WHERE user_id = $1 ORDER BY created_at, id;

-- name: count_addresses
SELECT count(*) FROM addresses WHERE user_id = $1;

-- name: get_address
-- Scoped by owner: another user's address is simply not found.
SELECT * FROM addresses WHERE id = $1 AND user_id = $2;

-- name: get_address_for_update
SELECT * FROM addresses WHERE id = $1 AND user_id = $2 FOR UPDATE;

-- name: insert_address
INSERT INTO addresses (id, user_id, kind, is_default, full_name, company, line1, line2, city, region,
                       postal_code, country, phone)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *;

-- name: update_address
UPDATE addresses
SET kind = $3, is_default = $4, full_name = $5, company = $6, line1 = $7, line2 = $8, city = $9,
    region = $10, postal_code = $11, country = $12, phone = $13, updated_at = now()
WHERE id = $1 AND user_id = $2
RETURNING *;

-- name: clear_default_address
-- Before another address of the same kind becomes the default.
UPDATE addresses SET is_default = false, updated_at = now()
WHERE user_id = $1 AND kind = $2 AND is_default AND id <> $3;

-- name: delete_address
DELETE FROM addresses WHERE id = $1 AND user_id = $2 RETURNING id;

-- name: lock_user_addresses
-- Serialises address writes of one user (the per-user limit and the single default).
SELECT id FROM users WHERE id = $1 FOR UPDATE;

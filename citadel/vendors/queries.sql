-- Vendors.

-- name: insert_vendor
INSERT INTO vendors (id, owner_user_id, name, slug, status)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING id, owner_user_id, name, slug, status, created_at, updated_at;

-- name: get_vendor
SELECT id, owner_user_id, name, slug, status, created_at, updated_at FROM vendors WHERE id = $1;

-- name: get_vendor_of_user
SELECT id, owner_user_id, name, slug, status, created_at, updated_at FROM vendors WHERE owner_user_id = $1;

-- Stored notifications.

-- name: insert_notification
-- One message per (event, template): a redelivered event adds nothing. Stamped with the clock,
-- not the transaction's start: a consumer stores a whole fetch's messages in one transaction,
-- and they keep the order they were stored in.
INSERT INTO notifications (id, user_id, channel, template, recipient, subject, body, source_event_id,
                           created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp())
ON CONFLICT (source_event_id, template) DO NOTHING;

-- name: list_for_user
SELECT id, user_id, channel, template, recipient, subject, body, source_event_id, created_at
FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2;

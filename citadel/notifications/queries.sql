-- Stored notifications.

-- name: insert_notifications
-- Messages ($1 ids, $2 users, $3 channels, $4 templates, $5 recipients, $6 subjects, $7 bodies,
-- $8 source events), one per (event, template): a redelivered event adds nothing. Stamped with
-- the clock, row by row in the order given, not the transaction's start: a consumer stores a
-- whole fetch's messages in one transaction, and they keep the order they were stored in.
INSERT INTO notifications (id, user_id, channel, template, recipient, subject, body, source_event_id,
                           created_at)
SELECT m.id, m.user_id, m.channel, m.template, m.recipient, m.subject, m.body, m.source, clock_timestamp()
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
     WITH ORDINALITY AS m (id, user_id, channel, template, recipient, subject, body, source, ord)
ORDER BY m.ord
ON CONFLICT (source_event_id, template) DO NOTHING;

-- name: list_for_user
SELECT id, user_id, channel, template, recipient, subject, body, source_event_id, created_at
FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2;

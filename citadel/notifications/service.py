"""Notifications: render the messages events call for and store them.

An outbound transport (SMTP, a provider's API) reads these stored messages; none is configured
here, so a stored message is the end of the line and tests read it from the table.
"""

import uuid
from urllib.parse import urlencode

from citadel.auth.models import EmailVerificationRequested, PasswordResetRequested
from citadel.kit.db import Connection, from_rows, load_queries
from citadel.kit.ids import uuid7
from citadel.notifications.models import NotificationRow

Q = load_queries(__file__)


async def _store(
    conn: Connection,
    *,
    user_id: uuid.UUID,
    template: str,
    recipient: str,
    subject: str,
    body: str,
    source: uuid.UUID,
) -> None:
    await conn.execute(
        Q.insert_notification, uuid7(), user_id, "email", template, recipient, subject, body, source
    )


def _link(base: str, path: str, token: str) -> str:
    return f"{base.rstrip('/')}{path}?{urlencode({'token': token})}"


async def send_password_reset(
    conn: Connection, event: PasswordResetRequested, *, event_id: uuid.UUID, storefront_url: str
) -> None:
    link = _link(storefront_url, "/reset-password", event.token)
    await _store(
        conn,
        user_id=event.user_id,
        template="password_reset",
        recipient=event.email,
        subject="Reset your password",
        body=(
            f"Hello {event.name},\n\nSomeone asked to reset the password of your account. If it was you, "
            f"open this link within the hour:\n\n{link}\n\nIf it was not you, ignore this message; "
            "your password stays as it is.\n"
        ),
        source=event_id,
    )


async def send_email_verification(
    conn: Connection, event: EmailVerificationRequested, *, event_id: uuid.UUID, storefront_url: str
) -> None:
    link = _link(storefront_url, "/verify-email", event.token)
    await _store(
        conn,
        user_id=event.user_id,
        template="email_verification",
        recipient=event.email,
        subject="Confirm your e-mail address",
        body=(
            f"Hello {event.name},\n\nConfirm your e-mail address by opening this link within 24 hours:"
            f"\n\n{link}\n"
        ),
        source=event_id,
    )


async def list_for_user(conn: Connection, user_id: uuid.UUID, limit: int = 50) -> list[NotificationRow]:
    return from_rows(NotificationRow, await conn.fetch(Q.list_for_user, user_id, limit))

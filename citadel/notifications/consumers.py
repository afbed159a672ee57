"""Events that become messages: reset links and verification links."""

from citadel.auth.models import EmailVerificationRequested, PasswordResetRequested
from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.notifications import service
from citadel.settings import Settings


def consumers(settings: Settings) -> list[Consumer]:
    async def password_reset(conn: Connection, event: PasswordResetRequested, envelope: Envelope) -> None:
        await service.send_password_reset(
            conn, event, event_id=envelope.id, storefront_url=settings.storefront_url
        )

    async def email_verification(
        conn: Connection, event: EmailVerificationRequested, envelope: Envelope
    ) -> None:
        await service.send_email_verification(
            conn, event, event_id=envelope.id, storefront_url=settings.storefront_url
        )

    return [
        Consumer(
            name="notifications-auth",
            domain="auth",
            handlers={
                "auth.password_reset_requested": password_reset,
                "auth.email_verification_requested": email_verification,
            },
        )
    ]

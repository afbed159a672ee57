"""What orders react to: the ``test`` provider's answer to a pending payment.

The provider's answer arrives asynchronously, as a real provider's webhook would: the worker
consumes ``payments.pending`` and asks the provider (the ``manual`` provider waits for an admin).
Running it twice for one event changes nothing (the payment is no longer pending).
"""

from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.orders import service
from citadel.payments.models import PaymentPending


def consumers() -> list[Consumer]:
    async def payment_pending(conn: Connection, event: PaymentPending, _: Envelope) -> None:
        if event.provider == "test":
            await service.process_payment(conn, event.payment_id)

    return [
        Consumer(name="orders-payments", domain="payments", handlers={"payments.pending": payment_pending})
    ]

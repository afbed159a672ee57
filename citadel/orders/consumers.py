"""What orders react to: the ``test`` provider's answer to a pending payment.

The provider's answer arrives asynchronously, as a real provider's webhook would: the worker
consumes ``payments.pending`` and asks the provider (the ``manual`` provider waits for an admin).
A fetch's payments are answered together, in one transaction (``process_payments``); if that
fails, each is answered again in a transaction of its own. Running it twice for one event
changes nothing (the payment is no longer pending).
"""

from typing import Any

from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.orders import service
from citadel.payments.models import PaymentPending


def consumers() -> list[Consumer]:
    async def payment_pending(conn: Connection, event: PaymentPending, _: Envelope) -> None:
        if event.provider == "test":
            await service.process_payment(conn, event.payment_id)

    async def payments_pending(conn: Connection, batch: list[tuple[Any, Envelope]]) -> None:
        await service.process_payments(
            conn, [event.payment_id for event, _ in batch if event.provider == "test"]
        )

    return [
        Consumer(
            name="orders-payments",
            domain="payments",
            handlers={"payments.pending": payment_pending},
            batch_handler=payments_pending,
            batch_types=frozenset({"payments.pending"}),
        )
    ]

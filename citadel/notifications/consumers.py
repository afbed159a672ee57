"""Events that become messages: reset and verification links, order confirmations and status
changes, and low-stock warnings to vendors. Each is stored once per event (a redelivery adds
nothing). The handlers only read and add notifications, so each consumer handles a fetch in one
transaction (``together``); order messages, the most frequent, are made for a whole fetch at once
(its placed orders read in three queries, its messages stored in one statement)."""

from typing import Any

from citadel.auth.models import EmailVerificationRequested, PasswordResetRequested
from citadel.catalog import service as catalog
from citadel.inventory.models import StockLow
from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.notifications import service
from citadel.orders import service as orders
from citadel.orders.models import OrderPlaced, OrderStatusChanged
from citadel.payments import service as payments
from citadel.settings import Settings
from citadel.users import service as users
from citadel.vendors import service as vendors


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

    async def order_placed(conn: Connection, event: OrderPlaced, envelope: Envelope) -> None:
        await orders_together(conn, [(event, envelope)])

    async def order_status(conn: Connection, event: OrderStatusChanged, envelope: Envelope) -> None:
        await orders_together(conn, [(event, envelope)])

    async def orders_together(conn: Connection, batch: list[tuple[Any, Envelope]]) -> None:
        """A fetch's confirmations and status messages: the placed orders read in three queries,
        every message stored in one statement, in stream order."""
        placed = [event.order_id for event, _ in batch if isinstance(event, OrderPlaced)]
        found = await orders.orders_by_ids(conn, placed) if placed else {}
        lines = await orders.lines_of_orders(conn, placed) if placed else {}
        paid_by = await payments.of_orders(conn, placed) if placed else {}
        messages: list[service.Message | None] = []
        for event, envelope in batch:
            if isinstance(event, OrderPlaced):
                order = found[event.order_id]
                messages.append(
                    service.order_confirmation(
                        order, lines[order.id], paid_by.get(order.id), event_id=envelope.id,
                        storefront_url=settings.storefront_url,
                    )
                )  # fmt: skip
            else:
                messages.append(
                    service.order_status(event, event_id=envelope.id, storefront_url=settings.storefront_url)
                )
        await service.store(conn, [m for m in messages if m is not None])

    async def stock_low(conn: Connection, event: StockLow, envelope: Envelope) -> None:
        vendor = await vendors.get_vendor(conn, event.vendor_id)
        owner = await users.get_user(conn, vendor.owner_user_id)
        variant = (await catalog.sellable_variants(conn, [event.variant_id])).get(event.variant_id)
        sku = variant.sku if variant else str(event.variant_id)
        await service.send_low_stock(
            conn, event, owner_id=owner.id, email=owner.email, sku=sku, event_id=envelope.id
        )

    return [
        Consumer(
            name="notifications-orders",
            domain="orders",
            handlers={"orders.placed": order_placed, "orders.status_changed": order_status},
            batch_handler=orders_together,
            batch_types=frozenset({"orders.placed", "orders.status_changed"}),
        ),
        Consumer(
            name="notifications-inventory",
            domain="inventory",
            handlers={"inventory.stock_low": stock_low},
            together=True,
        ),
        Consumer(
            name="notifications-auth",
            domain="auth",
            handlers={
                "auth.password_reset_requested": password_reset,
                "auth.email_verification_requested": email_verification,
            },
            together=True,
        ),
    ]

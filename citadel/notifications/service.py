"""Notifications: render the messages events call for and store them.

An outbound transport (SMTP, a provider's API) reads these stored messages; none is configured
here, so a stored message is the end of the line and tests read it from the table.
"""

import uuid
from typing import NamedTuple
from urllib.parse import urlencode

from citadel.auth.models import EmailVerificationRequested, PasswordResetRequested
from citadel.inventory.models import StockLow
from citadel.kit.db import Connection, from_rows, load_queries
from citadel.kit.ids import uuid7s
from citadel.kit.money import format_amount
from citadel.notifications.models import NotificationRow
from citadel.orders.models import OrderLineRow, OrderRow, OrderStatusChanged
from citadel.payments.models import Payment, PaymentRow

Q = load_queries(__file__)


class Message(NamedTuple):
    """One e-mail to store, made by the event ``source``."""

    user_id: uuid.UUID | None
    template: str
    recipient: str
    subject: str
    body: str
    source: uuid.UUID


async def store(conn: Connection, messages: list[Message]) -> None:
    """Store messages in one statement, in the order given (once per event and template)."""
    if not messages:
        return
    await conn.execute(
        Q.insert_notifications, uuid7s(len(messages)), [m.user_id for m in messages],
        ["email"] * len(messages), [m.template for m in messages], [m.recipient for m in messages],
        [m.subject for m in messages], [m.body for m in messages], [m.source for m in messages],
    )  # fmt: skip


async def _store(
    conn: Connection,
    *,
    user_id: uuid.UUID | None,
    template: str,
    recipient: str,
    subject: str,
    body: str,
    source: uuid.UUID,
) -> None:
    await store(conn, [Message(user_id, template, recipient, subject, body, source)])


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


def _order_link(base: str, number: str) -> str:
    return f"{base.rstrip('/')}/orders/{number}"


def order_confirmation(
    order: OrderRow,
    lines: list[OrderLineRow],
    payment: PaymentRow | None,
    *,
    event_id: uuid.UUID,
    storefront_url: str,
) -> Message:
    currency = order.currency
    items = "\n".join(
        f"  {line.quantity} × {line.name} ({line.sku}): {format_amount(line.total_amount, currency)}"
        for line in lines
    )
    pay = ""
    if payment is not None and Payment.of(payment).next_action == "bank_transfer":
        pay = (
            f"\nPlease transfer {format_amount(order.total_amount, currency)} quoting {order.number}"
            + (f" by {order.holds_expire_at:%Y-%m-%d %H:%M} UTC" if order.holds_expire_at else "")
            + "; the order ships once it arrives.\n"
        )
    return Message(
        user_id=order.user_id,
        template="order_confirmation",
        recipient=order.email,
        subject=f"Your order {order.number}",
        body=(
            f"Thank you for your order {order.number}.\n\n{items}\n\n"
            f"Shipping: {format_amount(order.shipping_amount, currency)}\n"
            f"Tax: {format_amount(order.tax_amount, currency)}\n"
            f"Total: {format_amount(order.total_amount, currency)}\n{pay}\n"
            f"Follow it here: {_order_link(storefront_url, order.number)}\n"
        ),
        source=event_id,
    )


_STATUS_MESSAGES = {
    "paid": ("Payment received for {number}", "We received your payment for order {number}."),
    "shipped": ("Order {number} has shipped", "Your order {number} is on its way."),
    "delivered": ("Order {number} was delivered", "Your order {number} was delivered. Enjoy!"),
    "cancelled": ("Order {number} was cancelled", "Your order {number} was cancelled: {reason}."),
    "refunded": ("Order {number} was refunded", "Your order {number} was refunded."),
}


def order_status(event: OrderStatusChanged, *, event_id: uuid.UUID, storefront_url: str) -> Message | None:
    """The message a status change sends the customer (None: this status sends none)."""
    message = _STATUS_MESSAGES.get(event.to_status)
    if message is None:
        return None
    subject, text = (m.format(number=event.number, reason=event.reason) for m in message)
    return Message(
        user_id=event.user_id,
        template=f"order_{event.to_status}",
        recipient=event.email,
        subject=subject,
        body=f"{text}\n\nDetails: {_order_link(storefront_url, event.number)}\n",
        source=event_id,
    )


async def send_low_stock(
    conn: Connection, event: StockLow, *, owner_id: uuid.UUID, email: str, sku: str, event_id: uuid.UUID
) -> None:
    await _store(
        conn,
        user_id=owner_id,
        template="low_stock",
        recipient=email,
        subject=f"Low stock: {sku}",
        body=(
            f"{sku} is down to {event.available} available in warehouse {event.warehouse_id} "
            f"(your threshold: {event.threshold}). Restock it or move stock there.\n"
        ),
        source=event_id,
    )


async def list_for_user(conn: Connection, user_id: uuid.UUID, limit: int = 50) -> list[NotificationRow]:
    return from_rows(NotificationRow, await conn.fetch(Q.list_for_user, user_id, limit))

"""Payments: one per order, moved through its states by provider answers, and its refunds.

States: pending -> (requires_action ->) authorized -> captured -> partially_refunded / refunded,
or failed, or voided (before capture). Every change is checked against that table and emits
its ``payments.*`` event. Nothing here knows orders; the orders domain decides what a payment's
change means for its order.
"""

import uuid
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import msgspec

from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit, emit_many
from citadel.kit.ids import uuid7
from citadel.kit.structs import Event
from citadel.payments.models import (
    PaymentActionRequired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentEvent,
    PaymentFailed,
    PaymentInput,
    PaymentPending,
    PaymentRefunded,
    PaymentRow,
    PaymentStatus,
    PaymentVoided,
    ProviderName,
    RefundRow,
)
from citadel.payments.service.providers import PROVIDERS, TEST_CARDS, PaymentProvider, ProviderAnswer

Q = load_queries(__file__)

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"requires_action", "authorized", "captured", "failed", "voided"}),
    "requires_action": frozenset({"pending", "authorized", "captured", "failed", "voided"}),
    "authorized": frozenset({"captured", "voided"}),
    "captured": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "failed": frozenset(),
    "voided": frozenset(),
    "refunded": frozenset(),
}
OPEN = frozenset({"pending", "requires_action", "authorized"})  # not captured, not finished


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "Payment not found"


class InvalidPaymentTransition(Conflict):
    code = "invalid_transition"
    title = "The payment cannot take this step from its status"


class RefundTooLarge(ValidationFailed):
    code = "refund_too_large"
    title = "More than is left to refund"


def provider(name: str) -> PaymentProvider:
    return PROVIDERS[name]


def prepare(data: PaymentInput) -> dict[str, str]:
    return PROVIDERS[data.provider].prepare(data)


def new_payment(
    order_id: uuid.UUID,
    provider_name: ProviderName,
    amount: int,
    currency: str,
    details: dict[str, str],
    now: datetime,
) -> PaymentRow:
    """The pending payment of a new order, as its placing statement writes it (the checkout writes
    the order and its payment in one statement)."""
    payment_id = uuid7()
    return PaymentRow(
        id=payment_id, order_id=order_id, provider=provider_name, status="pending",
        amount=amount, currency=currency, captured_amount=0, refunded_amount=0, method_details=details,
        provider_reference=f"{provider_name}_{payment_id.hex}", failure_code=None, created_at=now,
        updated_at=now,
    )  # fmt: skip


E = TypeVar("E", bound=PaymentEvent)


def _event(kind: type[E], payment: PaymentRow, **extra: Any) -> E:
    values: dict[str, Any] = {
        "payment_id": payment.id, "order_id": payment.order_id, "provider": payment.provider,
        "amount": payment.amount, "currency": payment.currency,
    }  # fmt: skip
    return kind(**{**values, **extra})


def pending_event(payment: PaymentRow) -> PaymentPending:
    return _event(PaymentPending, payment)


async def of_order(conn: Connection, order_id: uuid.UUID) -> PaymentRow | None:
    row = await conn.fetchrow(Q.payment_of_order, order_id)
    return from_row(PaymentRow, row) if row else None


async def of_orders(conn: Connection, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, PaymentRow]:
    return {r.order_id: r for r in from_rows(PaymentRow, await conn.fetch(Q.payments_of_orders, order_ids))}


async def get(conn: Connection, payment_id: uuid.UUID) -> PaymentRow:
    row = await conn.fetchrow(Q.get_payment, payment_id)
    if row is None:
        raise PaymentNotFound()
    return from_row(PaymentRow, row)


async def lock(conn: Connection, payment_id: uuid.UUID) -> PaymentRow:
    row = await conn.fetchrow(Q.get_payment_for_update, payment_id)
    if row is None:
        raise PaymentNotFound()
    return from_row(PaymentRow, row)


async def lock_all(conn: Connection, payment_ids: list[uuid.UUID]) -> dict[uuid.UUID, PaymentRow]:
    """The payments found of ``payment_ids``, locked in primary-key order (after their orders)."""
    return {p.id: p for p in from_rows(PaymentRow, await conn.fetch(Q.lock_payments, payment_ids))}


class Move(NamedTuple):
    """A payment's amounts and failure code once it moves."""

    payment: PaymentRow
    captured: int
    refunded: int
    failure_code: str | None


_EVENTS: dict[str, type[PaymentEvent]] = {
    "requires_action": PaymentActionRequired, "authorized": PaymentAuthorized, "captured": PaymentCaptured,
    "voided": PaymentVoided, "pending": PaymentPending,
}  # fmt: skip


async def _move_all(conn: Connection, moves: list[Move], status: PaymentStatus) -> list[PaymentRow]:
    """Move every payment to ``status`` in one statement, with their events in one more."""
    for move in moves:
        if status not in TRANSITIONS[move.payment.status]:
            raise InvalidPaymentTransition(f"A {move.payment.status} payment cannot become {status}.")
    rows = await conn.fetch(
        Q.update_payments, [m.payment.id for m in moves], status, [m.captured for m in moves],
        [m.refunded for m in moves], [m.failure_code for m in moves],
    )  # fmt: skip
    by_id = {row["id"]: from_row(PaymentRow, row) for row in rows}
    moved = [by_id[m.payment.id] for m in moves]
    events: list[tuple[Event, uuid.UUID | str]] = []
    for payment in moved:
        if status == "failed":
            events.append(
                (_event(PaymentFailed, payment, failure_code=payment.failure_code or "declined"), payment.id)
            )
        elif status in _EVENTS:
            events.append((_event(_EVENTS[status], payment), payment.id))
    if events:
        await emit_many(conn, events)
    return moved


async def _move(
    conn: Connection,
    payment: PaymentRow,
    status: PaymentStatus,
    *,
    captured: int | None = None,
    refunded: int | None = None,
    failure_code: str | None = None,
) -> PaymentRow:
    move = Move(
        payment,
        payment.captured_amount if captured is None else captured,
        payment.refunded_amount if refunded is None else refunded,
        failure_code if failure_code is not None else payment.failure_code,
    )
    [moved] = await _move_all(conn, [move], status)
    return moved


async def capture_all(conn: Connection, payments: list[PaymentRow]) -> list[PaymentRow]:
    """Record payments the provider captured in full when it answered their authorization."""
    return await _move_all(
        conn, [Move(p, p.amount, p.refunded_amount, p.failure_code) for p in payments], "captured"
    )


async def apply_answer(conn: Connection, payment: PaymentRow, answer: ProviderAnswer) -> PaymentRow:
    """Record what the provider answered an authorization with."""
    if answer.outcome == "pending":
        return payment
    if answer.outcome == "captured":
        [captured] = await capture_all(conn, [payment])
        return captured
    return await _move(conn, payment, answer.outcome, failure_code=answer.failure_code)


async def capture(conn: Connection, payment: PaymentRow) -> PaymentRow:
    answer = await PROVIDERS[payment.provider].capture(payment, payment.amount)
    return await apply_answer(conn, payment, answer)


async def void(conn: Connection, payment: PaymentRow) -> PaymentRow:
    if payment.status not in OPEN:
        return payment
    await PROVIDERS[payment.provider].void(payment)
    return await _move(conn, payment, "voided")


async def confirm_action(conn: Connection, payment: PaymentRow) -> PaymentRow:
    """The shopper confirmed (the test provider's stand-in for 3-D Secure): the provider is asked
    again, by the consumer of the ``payments.pending`` this emits."""
    if payment.status != "requires_action":
        raise InvalidPaymentTransition(f"A {payment.status} payment has nothing to confirm.")
    details = {**payment.method_details, "confirmed": "yes"}
    await conn.execute(Q.set_method_details, payment.id, details)
    return await _move(conn, msgspec.structs.replace(payment, method_details=details), "pending")


async def refund(
    conn: Connection,
    payment: PaymentRow,
    amount: int,
    *,
    restock: bool,
    reason: str,
    lines: list[dict[str, str | int]],
    actor_id: uuid.UUID | None,
) -> RefundRow:
    left = payment.captured_amount - payment.refunded_amount
    if payment.status not in {"captured", "partially_refunded"}:
        raise InvalidPaymentTransition(f"A {payment.status} payment has nothing to refund.")
    if amount > left:
        raise RefundTooLarge(
            f"At most {left} can still be refunded.",
            errors=[FieldError(field="amount", message=f"At most {left}", code="refund_too_large")],
        )
    await PROVIDERS[payment.provider].refund(payment, amount)
    refunded = payment.refunded_amount + amount
    status: PaymentStatus = "refunded" if refunded == payment.captured_amount else "partially_refunded"
    moved = await _move(conn, payment, status, refunded=refunded)
    row = from_row(
        RefundRow,
        await conn.fetchrow(
            Q.insert_refund, uuid7(), payment.id, payment.order_id, amount, restock, reason, lines, actor_id
        ),
    )
    event = _event(PaymentRefunded, moved, amount=amount, refund_id=row.id, restock=restock)
    await emit(conn, event, aggregate_id=moved.id)
    return row


async def refunds_of_order(conn: Connection, order_id: uuid.UUID) -> list[RefundRow]:
    return from_rows(RefundRow, await conn.fetch(Q.refunds_of_order, order_id))


__all__ = [
    "OPEN",
    "TEST_CARDS",
    "InvalidPaymentTransition",
    "PaymentNotFound",
    "RefundTooLarge",
    "apply_answer",
    "capture",
    "capture_all",
    "confirm_action",
    "get",
    "lock",
    "lock_all",
    "new_payment",
    "of_order",
    "of_orders",
    "pending_event",
    "prepare",
    "provider",
    "refund",
    "refunds_of_order",
    "void",
]

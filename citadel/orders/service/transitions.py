"""An order's life: payment answers, fulfilments, cancellation and refunds, each a recorded transition.

The status follows the payment and the fulfilments:

    pending --(payment captured)--> paid --(a fulfilment starts or ships)--> processing
        --(every fulfilment shipped)--> shipped --(every fulfilment delivered)--> delivered

and ``cancelled`` from pending, paid or processing (before anything shipped), ``refunded`` once
everything paid was refunded. Each transition writes a history row and emits
``orders.status_changed`` (plus ``orders.paid`` / ``orders.cancelled``); a step the table does
not allow is 409 ``invalid_transition``. Every function locks the order's row first, so a
payment answer, a cancellation and the hold sweeper never act on the same order at once.
"""

import uuid
from array import array

import msgspec

from citadel._fast import money
from citadel.auth.models import Principal
from citadel.inventory import service as inventory
from citadel.kit.db import Connection, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit_many
from citadel.kit.structs import Event
from citadel.orders.models import (
    Order,
    OrderCancelled,
    OrderLineRow,
    OrderPaid,
    OrderRow,
    OrderStatus,
    OrderStatusChanged,
    RefundCreate,
    Shipment,
)
from citadel.orders.service.reads import fulfilments_of, lines_of, may_see, order_row, view
from citadel.payments import service as payments
from citadel.payments.models import PaymentRow
from citadel.pricing import service as pricing
from citadel.vendors import service as vendors
from citadel.vendors.service import commissions

Q = load_queries(__file__)

ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"processing", "shipped", "cancelled", "refunded"}),
    "processing": frozenset({"shipped", "cancelled", "refunded"}),
    "shipped": frozenset({"delivered", "refunded"}),
    "delivered": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}
CUSTOMER_CANCELS = frozenset({"pending", "paid"})
# the statuses an order passes through when its fulfilments jump ahead (delivered at once, say)
PATHS: dict[tuple[str, str], tuple[OrderStatus, ...]] = {
    ("paid", "processing"): ("processing",),
    ("paid", "shipped"): ("shipped",),
    ("paid", "delivered"): ("shipped", "delivered"),
    ("processing", "shipped"): ("shipped",),
    ("processing", "delivered"): ("shipped", "delivered"),
    ("shipped", "delivered"): ("delivered",),
}
FULFILMENT_STEPS: dict[str, dict[str, str]] = {
    "start": {"pending": "processing"},
    "pack": {"pending": "packed", "processing": "packed"},
    "ship": {"pending": "shipped", "processing": "shipped", "packed": "shipped"},
    "deliver": {"shipped": "delivered"},
}


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "The order cannot take this step from its status"


class OrderNotPaid(Conflict):
    code = "order_not_paid"
    title = "The order is not paid yet"


class FulfilmentNotFound(NotFound):
    code = "fulfilment_not_found"
    title = "Fulfilment not found"


async def _transition_all(
    conn: Connection, orders: list[OrderRow], status: OrderStatus, reason: str, actor_id: uuid.UUID | None
) -> list[OrderRow]:
    """The (locked) orders take the step to ``status`` together: one statement for their rows and
    history, one for their events."""
    for order in orders:
        if status not in ALLOWED[order.status]:
            raise InvalidTransition(f"A {order.status} order cannot become {status}.")
    await conn.execute(Q.set_orders_status, [order.id for order in orders], status, reason, actor_id)
    events: list[tuple[Event, uuid.UUID | str]] = []
    for order in orders:
        changed = OrderStatusChanged(
            order_id=order.id, number=order.number, user_id=order.user_id, email=order.email,
            from_status=order.status, to_status=status, reason=reason,
        )  # fmt: skip
        events.append((changed, order.id))
        if status == "paid":
            paid = OrderPaid(
                order_id=order.id, number=order.number, user_id=order.user_id, currency=order.currency,
                total_amount=order.total_amount,
            )  # fmt: skip
            events.append((paid, order.id))
        elif status == "cancelled":
            cancelled = OrderCancelled(
                order_id=order.id,
                number=order.number,
                user_id=order.user_id,
                email=order.email,
                reason=reason,
            )
            events.append((cancelled, order.id))
    await emit_many(conn, events)
    return [msgspec.structs.replace(order, status=status) for order in orders]


async def _transition(
    conn: Connection, order: OrderRow, status: OrderStatus, reason: str, actor_id: uuid.UUID | None
) -> OrderRow:
    [moved] = await _transition_all(conn, [order], status, reason, actor_id)
    return moved


# --- payment answers -----------------------------------------------------------------------------


async def _paid(conn: Connection, orders: list[OrderRow]) -> None:
    """Pending orders whose payments were captured: their holds become allocations and they are paid."""
    await inventory.allocate(conn, [order.id for order in orders])
    await _transition_all(conn, orders, "paid", "payment captured", None)


async def _after_payment(conn: Connection, order: OrderRow, payment: PaymentRow) -> None:
    """What a payment's new state means for its (locked) order."""
    if payment.status == "captured" and order.status == "pending":
        await _paid(conn, [order])
    elif payment.status == "failed" and order.status == "pending":
        await _cancel(conn, order, payment, f"payment failed: {payment.failure_code}", None)


async def process_payments(conn: Connection, payment_ids: list[uuid.UUID]) -> None:
    """Ask the provider about pending payments and apply its answers (the worker does this for
    each fetch of ``payments.pending``; running it twice changes nothing: a payment no longer
    pending is left as it is). Their orders are locked first, then the payments, each in
    primary-key order. The common answer, captured, is applied to all of them together (the
    payments, their orders' holds and statuses, their events: a few statements for the whole
    fetch); any other answer, one payment at a time."""
    payment_ids = list(dict.fromkeys(payment_ids))  # a payment asked about twice is answered once
    if not payment_ids:
        return
    found = from_rows(OrderRow, await conn.fetch(Q.lock_orders_of_payments, payment_ids))
    locked = await payments.lock_all(conn, payment_ids)
    orders = {order.id: order for order in found}
    captured: list[tuple[OrderRow, PaymentRow]] = []
    for payment_id in payment_ids:
        payment = locked.get(payment_id)
        if payment is None:
            raise payments.PaymentNotFound()
        order = orders[payment.order_id]
        if payment.status != "pending":
            continue
        if order.status != "pending":  # cancelled meanwhile (its holds expired): nothing to take
            await payments.void(conn, payment)
            continue
        answer = await payments.provider(payment.provider).authorize(payment)
        if answer.outcome == "captured":
            captured.append((order, payment))
        else:
            await _after_payment(conn, order, await payments.apply_answer(conn, payment, answer))
    if captured:
        await payments.capture_all(conn, [payment for _, payment in captured])
        await _paid(conn, [order for order, _ in captured])


async def process_payment(conn: Connection, payment_id: uuid.UUID) -> None:
    """``process_payments`` of one payment."""
    await process_payments(conn, [payment_id])


async def confirm_payment(conn: Connection, principal: Principal | None, payment_id: uuid.UUID) -> Order:
    """The shopper confirms a payment that asked for it; the provider is asked again."""
    payment = await payments.get(conn, payment_id)
    order = await order_row(conn, payment.order_id, lock=True)
    if order.user_id is not None and (principal is None or not may_see(principal, order)):
        raise payments.PaymentNotFound()
    await payments.confirm_action(conn, await payments.lock(conn, payment_id))
    return await view(conn, order)


async def capture_manual(conn: Connection, actor: Principal, payment_id: uuid.UUID) -> Order:
    """An admin confirms that a manual payment (a bank transfer) arrived."""
    payment = await payments.get(conn, payment_id)
    order = await order_row(conn, payment.order_id, lock=True)
    payment = await payments.lock(conn, payment_id)
    if payment.provider != "manual" or payment.status != "pending":
        raise payments.InvalidPaymentTransition("Only a pending manual payment is confirmed by hand.")
    if order.status != "pending":
        raise InvalidTransition(f"The order is {order.status}; its payment can no longer be taken.")
    payment = await payments.capture(conn, payment)
    await _after_payment(conn, order, payment)
    return await view(conn, await order_row(conn, order.id))


# --- cancellation ----------------------------------------------------------------------------------


async def _cancel(
    conn: Connection, order: OrderRow, payment: PaymentRow | None, reason: str, actor_id: uuid.UUID | None
) -> OrderRow:
    if order.status not in {"pending", "paid", "processing"}:
        raise InvalidTransition(f"A {order.status} order cannot be cancelled.")
    if any(f.status in {"shipped", "delivered"} for f in await fulfilments_of(conn, order.id)):
        raise InvalidTransition("Part of this order has shipped; refund or return it instead.")
    if order.status == "pending":
        await inventory.release(conn, order.id, reason)
        if payment is not None:
            await payments.void(conn, payment)
    else:
        await inventory.restock(conn, order.id, None)
        if payment is not None and payment.captured_amount > payment.refunded_amount:
            left = payment.captured_amount - payment.refunded_amount
            await payments.refund(
                conn, payment, left, restock=True, reason=reason, lines=[], actor_id=actor_id
            )
            await conn.execute(Q.add_refunded, order.id, left)
    await pricing.release(conn, order.id)
    await conn.execute(Q.cancel_open_fulfilments, order.id)
    return await _transition(conn, order, "cancelled", reason, actor_id)


async def cancel(conn: Connection, principal: Principal, order_id: uuid.UUID, reason: str) -> Order:
    """Cancel an order: customers their own while pending or paid; admins also while processing.
    Held stock is released (or sold stock restocked) and the payment voided or refunded."""
    order = await order_row(conn, order_id, lock=True)
    if not may_see(principal, order):
        raise NotFound()
    if principal.role != "admin" and order.status not in CUSTOMER_CANCELS:
        raise InvalidTransition(f"A {order.status} order can only be cancelled by support.")
    payment = await payments.of_order(conn, order.id)
    payment = await payments.lock(conn, payment.id) if payment else None
    await _cancel(conn, order, payment, reason, principal.user_id)
    return await view(conn, await order_row(conn, order_id))


async def expire(conn: Connection, order_id: uuid.UUID) -> None:
    """An unpaid order whose holds expired (the sweeper has it locked)."""
    order = await order_row(conn, order_id, lock=True)
    if order.status != "pending":
        return
    payment = await payments.of_order(conn, order.id)
    payment = await payments.lock(conn, payment.id) if payment else None
    await _cancel(conn, order, payment, "payment not received in time", None)


async def next_expired(conn: Connection, skip: list[uuid.UUID]) -> uuid.UUID | None:
    """The oldest unpaid order whose holds expired, locked (other sweepers skip it), or None."""
    row = await conn.fetchrow(Q.expired_unpaid_orders, 1, skip)
    return row["id"] if row else None


# --- fulfilments -----------------------------------------------------------------------------------


async def advance_fulfilment(
    conn: Connection,
    principal: Principal,
    fulfilment_id: uuid.UUID,
    step: str,
    shipment: Shipment | None = None,
) -> OrderRow:
    """Start, pack, ship or deliver one vendor's part of an order (that vendor, or an admin),
    then let the order's status follow its fulfilments; a delivery books the lines' commissions."""
    row = await conn.fetchrow(Q.get_fulfilment_for_update, fulfilment_id)
    if row is None:
        raise FulfilmentNotFound()
    if principal.role != "admin":
        vendor = await vendors.vendor_of_user(conn, principal.user_id)
        if vendor is None or vendor.id != row["vendor_id"]:
            raise FulfilmentNotFound()
    order = await order_row(conn, row["order_id"], lock=True)
    if order.status in {"pending", "cancelled", "refunded"}:
        raise (OrderNotPaid if order.status == "pending" else InvalidTransition)(
            f"A {order.status} order is not fulfilled."
        )
    target = FULFILMENT_STEPS[step].get(row["status"])
    if target is None:
        raise InvalidTransition(f"A {row['status']} fulfilment cannot {step}.")
    await conn.execute(
        Q.set_fulfilment_status, fulfilment_id, target, shipment.carrier if shipment else None,
        shipment.tracking_number if shipment else None,
    )  # fmt: skip
    if target == "shipped":  # the vendor's units leave its warehouses' shelves
        shipped = [line.id for line in await lines_of(conn, order.id) if line.fulfilment_id == fulfilment_id]
        await inventory.ship(conn, order.id, shipped)
    parts = [f.status for f in await fulfilments_of(conn, order.id) if f.status != "cancelled"]
    derived: OrderStatus = "processing"
    if parts and all(s == "delivered" for s in parts):
        derived = "delivered"
    elif parts and all(s in {"shipped", "delivered"} for s in parts):
        derived = "shipped"
    if target == "delivered":
        await commissions.book_delivered(conn, fulfilment_id)
    for status in PATHS.get((order.status, derived), ()):
        order = await _transition(conn, order, status, f"fulfilment {step}", principal.user_id)
    return order


# --- refunds ---------------------------------------------------------------------------------------


async def refund(conn: Connection, principal: Principal, order_id: uuid.UUID, data: RefundCreate) -> Order:
    """Refund an amount or lines of a paid order (admins), restocking the lines if asked."""
    order = await order_row(conn, order_id, lock=True)
    payment = await payments.of_order(conn, order.id)
    if payment is None or order.status in {"pending", "cancelled", "refunded"}:
        raise InvalidTransition(f"A {order.status} order has nothing to refund.")
    payment = await payments.lock(conn, payment.id)
    lines = {line.id: line for line in await lines_of(conn, order.id)}
    errors: list[FieldError] = []
    amount_of_lines = 0
    by_line: dict[uuid.UUID, int] = {}
    for i, item in enumerate(data.lines):
        line = lines.get(item.line_id)
        if line is None:
            errors.append(
                FieldError(field=f"lines[{i}].lineId", message="Not a line of this order", code="not_found")
            )
        elif item.quantity > line.quantity - line.refunded_quantity:
            left = line.quantity - line.refunded_quantity
            errors.append(
                FieldError(field=f"lines[{i}].quantity", message=f"At most {left}", code="out_of_range")
            )
        else:
            # the line's total split over its units so the parts add up to it; the next units
            # refunded take the next parts
            parts = money.allocate(line.total_amount, array("q", [1] * line.quantity))
            share = sum(parts[line.refunded_quantity : line.refunded_quantity + item.quantity])
            by_line[line.id] = by_line.get(line.id, 0) + share
            amount_of_lines += share
    if errors:
        raise ValidationFailed("Some lines cannot be refunded.", errors=errors)
    if data.restock and not data.lines:
        raise ValidationFailed(
            "Name the lines to restock.",
            errors=[FieldError(field="lines", message="Required with restock", code="required")],
        )
    amount = data.amount if data.amount is not None else amount_of_lines
    if amount <= 0:
        raise ValidationFailed(
            "A refund needs an amount or lines.",
            errors=[FieldError(field="amount", message="Give an amount or lines", code="required")],
        )
    record: list[dict[str, str | int]] = [
        {"lineId": str(i.line_id), "quantity": i.quantity} for i in data.lines
    ]
    made = await payments.refund(
        conn,
        payment,
        amount,
        restock=data.restock,
        reason=data.reason,
        lines=record,
        actor_id=principal.user_id,
    )
    await commissions.reverse_refund(
        conn, made.id, _refund_shares(amount, by_line, lines), {i: x.total_amount for i, x in lines.items()}
    )
    await conn.execute(Q.add_refunded, order.id, amount)
    if data.lines:
        await conn.execute(
            Q.add_refunded_quantities,
            order.id,
            [i.line_id for i in data.lines],
            [i.quantity for i in data.lines],
        )
    if data.restock:
        await inventory.restock(conn, order.id, {i.line_id: i.quantity for i in data.lines})
    if order.refunded_amount + amount >= order.total_amount:
        await inventory.ship(conn, order.id, None, reason="refunded")  # what is left will never ship
        await _transition(conn, order, "refunded", data.reason, principal.user_id)
    return await view(conn, await order_row(conn, order.id))


def _refund_shares(
    amount: int, by_line: dict[uuid.UUID, int], lines: dict[uuid.UUID, OrderLineRow]
) -> dict[uuid.UUID, int]:
    """What a refund takes of each line: the named lines' shares (scaled to the amount when one is
    given), or else the amount spread over every line by its total; the parts add up to it."""
    weights = by_line or {i: x.total_amount for i, x in lines.items()}
    ids = [i for i, w in weights.items() if w > 0]
    if not ids:
        return {}
    parts = money.allocate(amount, array("q", [weights[i] for i in ids]))
    return dict(zip(ids, parts, strict=True))

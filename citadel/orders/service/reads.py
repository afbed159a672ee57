"""What placing an order needs of its rows (number, fulfilments, the answer), and reading orders:
one order whole, lists for customers and admins."""

import uuid

import msgspec

from citadel.auth.models import Principal
from citadel.cart.models import CartAddress
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import NotFound
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.orders.models import (
    Fulfilment,
    FulfilmentRow,
    HistoryEntry,
    HistoryRow,
    Order,
    OrderDraft,
    OrderLine,
    OrderLineRow,
    OrderPage,
    OrderRow,
    OrderStatus,
    OrderSummary,
    OrderTotals,
)
from citadel.payments import service as payments
from citadel.payments.models import Payment, PaymentRow, Refund

Q = load_queries(__file__)


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "Order not found"


NUMBER_PREFIX = "CIT-"


def order_number(seq: int) -> str:
    """The human-friendly number of the order drawn ``seq`` from the ``order_numbers`` sequence."""
    return f"{NUMBER_PREFIX}{seq}"


def fulfilment_ids(draft: OrderDraft) -> dict[uuid.UUID, uuid.UUID]:
    """One fulfilment per vendor of the order, by vendor (in vendor order), each with an id
    derived from the order's."""
    vendors = sorted({line.vendor_id for line in draft.lines})
    return {vendor: uuid.uuid5(draft.id, str(vendor)) for vendor in vendors}


def placed_view(draft: OrderDraft, number: str, payment: PaymentRow) -> Order:
    """The order as its checkout answers it, from what was just written (no read back)."""
    fulfilment_of = fulfilment_ids(draft)
    return Order(
        id=draft.id, number=number, status="pending", email=draft.email,
        totals=OrderTotals(
            currency=draft.currency, subtotal_amount=draft.subtotal, discount_amount=draft.discount,
            shipping_amount=draft.shipping, tax_amount=draft.tax, shipping_tax_amount=draft.shipping_tax,
            total_amount=draft.total, refunded_amount=0, prices_include_tax=draft.prices_include_tax,
        ),
        lines=[
            OrderLine(
                id=line.id, product_id=line.product_id, variant_id=line.variant_id, vendor_id=line.vendor_id,
                fulfilment_id=fulfilment_of[line.vendor_id], sku=line.sku, name=line.name,
                quantity=line.quantity, unit_price_amount=line.unit_price, subtotal_amount=line.subtotal,
                discount_amount=line.discount, tax_amount=line.tax, total_amount=line.total,
                tax_rate_ppm=line.tax_rate_ppm, refunded_quantity=0,
            )
            for line in draft.lines
        ],
        fulfilments=[
            Fulfilment(
                id=fulfilment_of[v], vendor_id=v, status="pending", carrier=None, tracking_number=None,
                shipped_at=None, delivered_at=None,
            )
            for v in fulfilment_of
        ],
        payment=Payment.of(payment), refunds=[],
        history=[HistoryEntry(from_status=None, to_status="pending", reason="placed", at=draft.placed_at)],
        coupon_code=draft.coupon_code, shipping_address=_address(draft.shipping_address),
        shipping_method_name=draft.shipping_method_name, pay_by=draft.holds_expire_at, cancel_reason=None,
        placed_at=draft.placed_at, paid_at=None, cancelled_at=None, updated_at=draft.placed_at,
    )  # fmt: skip


def _address(stored: dict[str, str | None] | None) -> CartAddress | None:
    return msgspec.convert(stored, CartAddress) if stored else None


async def order_row(conn: Connection, order_id: uuid.UUID, *, lock: bool = False) -> OrderRow:
    row = await conn.fetchrow(Q.get_order_for_update if lock else Q.get_order, order_id)
    if row is None:
        raise OrderNotFound()
    return from_row(OrderRow, row)


async def lines_of(conn: Connection, order_id: uuid.UUID) -> list[OrderLineRow]:
    return from_rows(OrderLineRow, await conn.fetch(Q.order_lines, order_id))


async def orders_by_ids(conn: Connection, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, OrderRow]:
    """The orders found of ``order_ids``, by id."""
    return {o.id: o for o in from_rows(OrderRow, await conn.fetch(Q.orders_by_ids, order_ids))}


async def lines_of_orders(
    conn: Connection, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[OrderLineRow]]:
    """The lines of each order, in their positions."""
    found: dict[uuid.UUID, list[OrderLineRow]] = {order_id: [] for order_id in order_ids}
    for line in from_rows(OrderLineRow, await conn.fetch(Q.lines_of_orders, order_ids)):
        found[line.order_id].append(line)
    return found


async def fulfilments_of(conn: Connection, order_id: uuid.UUID) -> list[FulfilmentRow]:
    return from_rows(FulfilmentRow, await conn.fetch(Q.order_fulfilments, order_id))


async def view(conn: Connection, order: OrderRow) -> Order:
    lines = await lines_of(conn, order.id)
    fulfilments = await fulfilments_of(conn, order.id)
    history = from_rows(HistoryRow, await conn.fetch(Q.order_history, order.id))
    payment = await payments.of_order(conn, order.id)
    refunds = await payments.refunds_of_order(conn, order.id)
    return Order(
        id=order.id, number=order.number, status=order.status, email=order.email,
        totals=OrderTotals(
            currency=order.currency, subtotal_amount=order.subtotal_amount,
            discount_amount=order.discount_amount, shipping_amount=order.shipping_amount,
            tax_amount=order.tax_amount, shipping_tax_amount=order.shipping_tax_amount,
            total_amount=order.total_amount, refunded_amount=order.refunded_amount,
            prices_include_tax=order.prices_include_tax,
        ),
        lines=[OrderLine(**{f: getattr(line, f) for f in OrderLine.__struct_fields__}) for line in lines],
        fulfilments=[
            Fulfilment(**{f: getattr(x, f) for f in Fulfilment.__struct_fields__}) for x in fulfilments
        ],
        payment=Payment.of(payment) if payment else None,
        refunds=[Refund.of(r) for r in refunds],
        history=[
            HistoryEntry(from_status=h.from_status, to_status=h.to_status, reason=h.reason, at=h.created_at)
            for h in history
        ],
        coupon_code=order.coupon_code, shipping_address=_address(order.shipping_address),
        shipping_method_name=order.shipping_method_name,
        pay_by=order.holds_expire_at if order.status == "pending" else None,
        cancel_reason=order.cancel_reason, placed_at=order.placed_at, paid_at=order.paid_at,
        cancelled_at=order.cancelled_at, updated_at=order.updated_at,
    )  # fmt: skip


def may_see(principal: Principal, order: OrderRow) -> bool:
    return principal.role == "admin" or order.user_id == principal.user_id


async def get_order(conn: Connection, principal: Principal, order_id: uuid.UUID) -> Order:
    """A customer's own order, or any order for an admin (another's is 'not found')."""
    order = await order_row(conn, order_id)
    if not may_see(principal, order):
        raise OrderNotFound()
    return await view(conn, order)


async def lookup(conn: Connection, number: str, email: str) -> Order:
    """A (guest) order found by its number and the e-mail it was placed with."""
    order_id = await conn.fetchval(Q.order_by_number_and_email, number.strip(), email.strip())
    if order_id is None:
        raise OrderNotFound("No order has this number and e-mail address.")
    return await view(conn, await order_row(conn, order_id))


ORDER_LIST = ListSpec(
    source=Q.order_list_source,
    filters={
        "user": Filter("user_id"),
        "status": Filter("status"),
        "q": Filter("search_text", "contains"),
        "placed_from": Filter("placed_at", "gte"),
        "placed_to": Filter("placed_at", "lte"),
    },
    sorts={
        "newest": Sort("placed_at", "timestamp", descending=True),
        "oldest": Sort("placed_at", "timestamp"),
        "total": Sort("total_amount", "int", descending=True),
    },
    default_sort="newest",
)


async def list_orders(
    conn: Connection,
    signer: Signer,
    principal: Principal,
    *,
    status: OrderStatus | None,
    q: str | None,
    user_id: uuid.UUID | None,
    placed_from: object,
    placed_to: object,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> OrderPage:
    """A customer's own orders; admins see everyone's and may filter by customer and search."""
    if principal.role != "admin":
        user_id = principal.user_id
    page = await fetch_page(
        conn,
        ORDER_LIST,
        signer,
        filters={
            "user": user_id,
            "status": status,
            "q": q.strip().lower() if q and q.strip() and principal.role == "admin" else None,
            "placed_from": placed_from,
            "placed_to": placed_to,
        },
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return OrderPage(
        items=[OrderSummary(**{f: r[f] for f in OrderSummary.__struct_fields__}) for r in page.rows],
        next_cursor=page.next_cursor,
    )

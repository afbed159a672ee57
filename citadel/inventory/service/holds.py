"""Holds: stock promised to orders, taken at checkout and settled by payment or cancellation.

- ``plan_holds`` takes the levels of the order's stock rows and lets the allocation kernel choose
  warehouses (one that ships the whole order, else by priority, then most stock). Not enough
  stock anywhere is 409 ``insufficient_stock``, naming each short variant and what it offers.
  Checkout writes the plan's holds (one per line and warehouse, with its expiry) and their
  ledger rows in its placing statement; then the units are taken on the stock rows, a
  conditional update per row (locked in primary-key order), so that a row stays locked for that
  one update and the commit. Checkout first plans from levels read without locks: such a plan
  takes only where nothing needs announcing, in the message that commits (``reserve_at_commit``),
  and when a row no longer allows it, the checkout plans again with the rows locked
  (``lock_levels``), takes them with ``reserve`` and ``announce_holds`` says what the holds
  changed.
- ``release`` gives held units back (cancelled or expired before payment); ``allocate`` turns
  holds into allocations when the payment is captured, without touching the stock rows (the units
  stay on hand and reserved: promised until they ship); ``ship`` takes the units of shipped lines
  off the shelf (on hand and reserved fall together); ``restock`` puts an order's units back on
  offer (a refund that restocks, or a cancellation after payment): shipped units back on the
  shelf, allocated ones no longer promised.
"""

import uuid
from array import array
from collections.abc import Mapping
from typing import NamedTuple

import asyncpg

from citadel._fast import inventory as allocation
from citadel._fast.common import MAX_QUANTITY
from citadel.inventory.models import (
    HoldRequest,
    OfferedLevel,
    Shortage,
    StockLine,
    StockReleased,
    StockRestocked,
)
from citadel.inventory.service.stock import Change, Levels, announce, available_by_variant, lock_levels
from citadel.kit.db import Connection, load_queries
from citadel.kit.errors import Conflict, FieldError
from citadel.kit.events import emit

Q = load_queries(__file__)


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"

    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        super().__init__(
            "Some items are not available in the quantity asked for: "
            + "; ".join(f"{s.variant_id} offers {s.available} of {s.requested}" for s in shortages),
            errors=[
                FieldError(
                    field=f"lines[{s.variant_id}]",
                    message=f"{s.available} available",
                    code="insufficient_stock",
                )
                for s in shortages
            ],
        )


def shortages(requests: list[HoldRequest], offered: dict[uuid.UUID, int]) -> list[Shortage]:
    return [
        Shortage(
            variant_id=r.variant_id, requested=r.quantity, available=max(0, offered.get(r.variant_id, 0))
        )
        for r in requests
        if offered.get(r.variant_id, 0) < r.quantity
    ]


class HoldPart(NamedTuple):
    """Part of a line's need held in one warehouse."""

    line_id: uuid.UUID
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: int


def plan_holds(
    requests: list[HoldRequest], levels: Mapping[tuple[uuid.UUID, uuid.UUID], OfferedLevel]
) -> list[HoldPart]:
    """Where each request's units are held, as the kernel chose from the ``levels`` of their
    stock rows; not enough anywhere raises InsufficientStock."""
    warehouses = sorted({lv.warehouse_id for lv in levels.values() if lv.is_active})
    priority = {lv.warehouse_id: lv.priority for lv in levels.values()}
    n = len(requests)
    available = array("q", bytes(8 * n * len(warehouses)))
    for w, warehouse_id in enumerate(warehouses):
        for i, request in enumerate(requests):
            level = levels.get((request.variant_id, warehouse_id))
            if level is not None:  # capped at the kernel's bound: only ties past it lose "most stock"
                available[w * n + i] = min(MAX_QUANTITY, max(0, level.on_hand - level.reserved))
    chosen, complete = allocation.allocate_lines(
        array("q", [r.quantity for r in requests]), available, array("q", [priority[w] for w in warehouses])
    )
    if not complete:
        raise InsufficientStock(shortages(requests, available_by_variant(levels)))
    return [
        HoldPart(request.line_id, request.variant_id, warehouse_id, chosen[w * n + i])
        for w, warehouse_id in enumerate(warehouses)
        for i, request in enumerate(requests)
        if chosen[w * n + i] > 0
    ]


STOCK_MOVED = "CB409"  # SQLSTATE of reserve_placed_holds(): a row no longer allows its hold


def reserve_at_commit(conn: Connection) -> None:
    """Take the holds of the order this transaction placed on their stock rows in the message that
    commits it (``reserve_placed_holds`` in migration 0016), for a plan made from unlocked levels:
    where a row no longer allows its part, the commit fails with ``stock_moved`` true of its
    error, and nothing is kept."""
    conn.commit_with(Q.reserve_placed_holds_and_commit)


def stock_moved(exc: BaseException) -> bool:
    """Whether ``exc`` is a commit refused by ``reserve_at_commit``'s check."""
    return isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == STOCK_MOVED


async def reserve(conn: Connection, parts: list[HoldPart]) -> None:
    """Take the parts of a plan made under the stock rows' locks on those rows (in primary-key
    order), once their holds and ledger rows are written: such a plan always fits."""
    ordered = sorted(parts, key=lambda p: (p.variant_id, p.warehouse_id))
    taken = await conn.fetchval(
        Q.reserve_stock, [p.variant_id for p in ordered], [p.warehouse_id for p in ordered],
        [p.quantity for p in ordered],
    )  # fmt: skip
    if taken != len(parts):
        raise RuntimeError(f"reserved {taken} of {len(parts)} stock rows under lock")  # never let it pass


async def announce_holds(conn: Connection, levels: Levels, parts: list[HoldPart]) -> None:
    """What the written holds changed: stock flipping out of stock, low-stock warnings."""
    await announce(
        conn, levels, [Change(p.variant_id, p.warehouse_id, 0, p.quantity) for p in parts], drop_pages=False
    )


async def _settle(
    conn: Connection,
    order_ids: list[uuid.UUID],
    *,
    status_from: str,
    status_to: str,
    on_hand: int,
    reserved: int,
    reason: str,
    levels: bool = True,
    line_ids: list[uuid.UUID] | None = None,
) -> tuple[Levels, list[tuple[uuid.UUID, uuid.UUID, int]]]:
    """The orders' holds of ``status_from`` (of ``line_ids`` only, if given) become
    ``status_to``, their stock rows moved by the factors; with ``levels`` false, what the rows
    held before is not read (the caller announces nothing)."""
    if levels:
        variants = [
            h["variant_id"]
            for order_id in order_ids
            for h in await conn.fetch(Q.order_holds, order_id)
            if h["status"] == status_from and (line_ids is None or h["line_id"] in line_ids)
        ]
        if not variants:
            return {}, []
        locked = await lock_levels(conn, variants)
    else:
        if not await conn.fetch(Q.lock_stock_held_by_orders, order_ids, status_from, line_ids):
            return {}, []
        locked = {}
    rows = await conn.fetch(
        Q.settle_holds, order_ids, status_from, status_to, on_hand, reserved, reason, line_ids
    )
    return locked, [(r["variant_id"], r["warehouse_id"], r["quantity"]) for r in rows]


def _lines(levels: Levels, moved: list[tuple[uuid.UUID, uuid.UUID, int]]) -> list[StockLine]:
    product = {lv.variant_id: lv.product_id for lv in levels.values()}
    totals: dict[uuid.UUID, int] = {}
    for variant_id, _, units in moved:
        totals[variant_id] = totals.get(variant_id, 0) + units
    return [StockLine(variant_id=v, product_id=product[v], quantity=q) for v, q in sorted(totals.items())]


async def release(conn: Connection, order_id: uuid.UUID, reason: str) -> None:
    """Give back what the order holds (nothing once it is allocated)."""
    levels, moved = await _settle(
        conn, [order_id], status_from="held", status_to="released", on_hand=0, reserved=-1, reason="released"
    )
    if not moved:
        return
    await announce(conn, levels, [Change(v, w, 0, -units) for v, w, units in moved], drop_pages=False)
    await emit(
        conn,
        StockReleased(order_id=order_id, reason=reason, lines=_lines(levels, moved)),
        aggregate_id=order_id,
    )


async def allocate(conn: Connection, order_ids: list[uuid.UUID]) -> None:
    """The orders are paid: their held units become allocations, promised until they ship. The
    stock rows do not change (nor does what is available), so they are neither locked nor
    announced: paying for an order never waits for a checkout of the same SKU, nor holds one up."""
    await conn.execute(Q.allocate_holds, order_ids)


async def ship(
    conn: Connection, order_id: uuid.UUID, line_ids: list[uuid.UUID] | None, *, reason: str = "shipped"
) -> None:
    """These lines of the order (all of them: None) shipped: their allocated units leave the
    shelf (on hand and reserved fall together, so what is available does not change and nothing
    is announced). A fully refunded order's allocated units, which will never ship, leave it the
    same way (``reason`` "refunded"), unless the refund restocked them."""
    await _settle(
        conn, [order_id], status_from="allocated", status_to="shipped", on_hand=-1, reserved=-1,
        reason=reason, levels=False, line_ids=line_ids,
    )  # fmt: skip


class _Pick(NamedTuple):
    hold_id: int
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    units: int
    shipped: bool


async def restock(conn: Connection, order_id: uuid.UUID, units_by_line: dict[uuid.UUID, int] | None) -> int:
    """Put an order's paid-for units back on offer: ``units_by_line`` per order line, or all of
    them (None). Shipped units come back on the shelf (on hand grows); allocated ones are no
    longer promised (reserved falls). Returns the units restocked."""
    holds = [h for h in await conn.fetch(Q.order_holds, order_id) if h["status"] in {"allocated", "shipped"}]
    wanted = dict(units_by_line) if units_by_line is not None else None
    picks: list[_Pick] = []
    for hold in holds:
        left = hold["quantity"] - hold["returned"]
        want = left if wanted is None else min(left, wanted.get(hold["line_id"], 0))
        if want > 0:
            picks.append(
                _Pick(hold["id"], hold["variant_id"], hold["warehouse_id"], want, hold["status"] == "shipped")
            )
            if wanted is not None:
                wanted[hold["line_id"]] -= want
    if not picks:
        return 0
    levels = await lock_levels(conn, [p.variant_id for p in picks])
    for shipped, (on_hand, reserved) in ((True, (1, 0)), (False, (0, -1))):
        chosen = [p for p in picks if p.shipped is shipped]
        if chosen:
            await conn.execute(
                Q.return_held_units, [p.hold_id for p in chosen], [p.units for p in chosen], "restocked",
                str(order_id), on_hand, reserved,
            )  # fmt: skip
    changes = [
        Change(p.variant_id, p.warehouse_id, p.units if p.shipped else 0, 0 if p.shipped else -p.units)
        for p in picks
    ]
    await announce(conn, levels, changes, drop_pages=False)
    moved = [(p.variant_id, p.warehouse_id, p.units) for p in picks]
    await emit(conn, StockRestocked(order_id=order_id, lines=_lines(levels, moved)), aggregate_id=order_id)
    return sum(p.units for p in picks)

"""Holds: stock promised to orders, taken at checkout and settled by payment or cancellation.

- ``plan_holds`` takes the order's stock rows, locked in primary-key order (``lock_levels``),
  and lets the allocation kernel choose warehouses (one that ships the whole order, else by
  priority, then most stock). Not enough stock anywhere is 409 ``insufficient_stock``, naming
  each short variant and what it offers. Checkout writes the plan in its one placing statement
  (a conditional update per stock row, a hold per line and warehouse with its expiry, and a
  ledger row each), then ``announce_holds`` says what the holds changed.
- ``release`` gives held units back (cancelled or expired before payment); ``allocate`` turns
  holds into allocations when the payment is captured (the units leave on hand and reserved
  together); ``restock`` puts allocated units back on the shelf (a refund that restocks, or a
  cancellation after payment).
"""

import uuid
from array import array
from typing import NamedTuple

from citadel._fast import inventory as allocation
from citadel._fast.common import MAX_QUANTITY
from citadel.inventory.models import HoldRequest, Shortage, StockLine, StockReleased, StockRestocked
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


def plan_holds(requests: list[HoldRequest], levels: Levels) -> list[HoldPart]:
    """Where each request's units are held, as the kernel chose from the locked ``levels``; not
    enough anywhere raises InsufficientStock."""
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
) -> tuple[Levels, list[tuple[uuid.UUID, uuid.UUID, int]]]:
    """The orders' holds of ``status_from`` become ``status_to``, their stock rows moved by the
    factors; with ``levels`` false, what the rows held before is not read (the caller announces
    nothing)."""
    if levels:
        variants = [
            h["variant_id"]
            for order_id in order_ids
            for h in await conn.fetch(Q.order_holds, order_id)
            if h["status"] == status_from
        ]
        if not variants:
            return {}, []
        locked = await lock_levels(conn, variants)
    else:
        if not await conn.fetch(Q.lock_stock_held_by_orders, order_ids, status_from):
            return {}, []
        locked = {}
    rows = await conn.fetch(Q.settle_holds, order_ids, status_from, status_to, on_hand, reserved, reason)
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
    """The orders are paid: their held units leave the shelf (on hand and reserved fall together,
    so what is available does not change and nothing is announced). The stock rows of all of them
    are locked at once, in primary-key order."""
    await _settle(
        conn, order_ids, status_from="held", status_to="allocated", on_hand=-1, reserved=-1, reason="sold",
        levels=False,
    )  # fmt: skip


async def restock(conn: Connection, order_id: uuid.UUID, units_by_line: dict[uuid.UUID, int] | None) -> int:
    """Put allocated units back on the shelf: ``units_by_line`` per order line, or all of them
    (None). Returns the units restocked."""
    holds = [h for h in await conn.fetch(Q.order_holds, order_id) if h["status"] == "allocated"]
    wanted = dict(units_by_line) if units_by_line is not None else None
    picks: list[tuple[int, uuid.UUID, uuid.UUID, int]] = []
    for hold in holds:
        left = hold["quantity"] - hold["returned"]
        want = left if wanted is None else min(left, wanted.get(hold["line_id"], 0))
        if want > 0:
            picks.append((hold["id"], hold["variant_id"], hold["warehouse_id"], want))
            if wanted is not None:
                wanted[hold["line_id"]] -= want
    if not picks:
        return 0
    levels = await lock_levels(conn, [v for _, v, _, _ in picks])
    await conn.execute(
        Q.return_held_units, [p[0] for p in picks], [p[3] for p in picks], "restocked", str(order_id)
    )
    moved = [(v, w, units) for _, v, w, units in picks]
    await announce(conn, levels, [Change(v, w, units, 0) for v, w, units in moved], drop_pages=False)
    await emit(conn, StockRestocked(order_id=order_id, lines=_lines(levels, moved)), aggregate_id=order_id)
    return sum(units for _, _, units in moved)

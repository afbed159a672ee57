"""Bulk stock: set (a count) or adjust (a delta) SKU × warehouse rows, with the ledger written.

Rows are checked alone (one of onHand and delta; a SKU × warehouse named twice; an unknown SKU
of this vendor, which is also what another vendor's SKU is; an unknown warehouse), then every
stock row the batch names is made (empty) if missing and locked in primary-key order, so
concurrent batches never deadlock and never read a count another is changing. A row that would
take on hand below zero or below what is reserved for orders is refused; the rest are written in
one statement with one ledger row each. What follows from the changes (availability flips,
low-stock crossings) is announced set-wise: one in-stock refresh of the products that flipped and
one insert of their events.
"""

import uuid
from typing import NamedTuple

from citadel.bulk.models import BulkResult, BulkStock, RowResult, RowStatus
from citadel.bulk.service.parse import Parsed, row_error, split_valid
from citadel.bulk.service.products import summarize
from citadel.catalog import service as catalog
from citadel.catalog.models import PRODUCT_TOPIC, StockStatusChanged
from citadel.inventory.models import StockLow
from citadel.inventory.service.stock import Levels, available_by_variant, lock_levels
from citadel.kit.db import Connection, load_queries
from citadel.kit.events import emit_many
from citadel.kit.structs import Event

Q = load_queries(__file__)


class Planned(NamedTuple):
    row: int
    key: str
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    line: BulkStock


async def apply(
    conn: Connection, vendor_id: uuid.UUID, actor_id: uuid.UUID, parsed: list[Parsed], reference: str
) -> BulkResult:
    await conn.execute(Q.plan_for_keyed_batches)
    valid, results = split_valid(parsed, BulkStock)
    lines: list[tuple[int, BulkStock]] = []
    seen: set[tuple[str, str]] = set()
    for row, line in valid:
        key = f"{line.sku}@{line.warehouse}"
        if (line.on_hand is None) == (line.delta is None) and not (
            line.on_hand is None and line.delta is None and line.low_stock_threshold is not None
        ):
            results.append(row_error(row, key, "onHand", "Give onHand or delta (one of them)", "one_of"))
        elif (line.sku, line.warehouse) in seen:
            results.append(
                row_error(row, key, "sku", "Named by an earlier row of this batch", "duplicate_row")
            )
        else:
            seen.add((line.sku, line.warehouse))
            lines.append((row, line))
    skus = sorted({line.sku for _, line in lines})
    codes = sorted({line.warehouse for _, line in lines})
    variants = (
        {r["sku"]: r["id"] for r in await conn.fetch(Q.variants_of_vendor, vendor_id, skus)} if skus else {}
    )
    warehouses = {r["code"]: r["id"] for r in await conn.fetch(Q.warehouses_by_code, codes)} if codes else {}
    planned: list[Planned] = []
    for row, line in lines:
        key = f"{line.sku}@{line.warehouse}"
        if line.sku not in variants:
            results.append(row_error(row, key, "sku", f"You have no SKU {line.sku}", "unknown_sku"))
        elif line.warehouse not in warehouses:
            results.append(
                row_error(row, key, "warehouse", f"No warehouse {line.warehouse}", "unknown_warehouse")
            )
        else:
            planned.append(Planned(row, key, variants[line.sku], warehouses[line.warehouse], line))
    if planned:
        results.extend(await _write(conn, planned, actor_id, reference))
    return summarize(results)


async def _write(
    conn: Connection, planned: list[Planned], actor_id: uuid.UUID, reference: str
) -> list[RowResult]:
    await conn.execute(
        Q.ensure_stock_rows, [p.variant_id for p in planned], [p.warehouse_id for p in planned]
    )
    levels = await lock_levels(conn, [p.variant_id for p in planned])
    before = available_by_variant(levels)
    results: list[RowResult] = []
    columns: tuple[list[object], ...] = ([], [], [], [], [], [], [], [])
    after_levels: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for p in planned:
        level = levels[(p.variant_id, p.warehouse_id)]
        line = p.line
        target = line.on_hand if line.on_hand is not None else level.on_hand + (line.delta or 0)
        if target < 0:
            results.append(row_error(p.row, p.key, "delta", f"On hand would be {target}", "negative_stock"))
            continue
        if target < level.reserved:
            message = f"{level.reserved} units are reserved for orders; on hand cannot go below that"
            results.append(row_error(p.row, p.key, "onHand", message, "below_reserved"))
            continue
        threshold_changes = (
            line.low_stock_threshold is not None and line.low_stock_threshold != level.low_stock_threshold
        )
        status: RowStatus = "updated" if target != level.on_hand or threshold_changes else "unchanged"
        results.append(RowResult(row=p.row, key=p.key, status=status, id=p.variant_id))
        if status == "unchanged":
            continue
        reason = "count" if line.on_hand is not None else "correction"
        threshold = line.low_stock_threshold
        values = (
            p.variant_id, p.warehouse_id, target, threshold, threshold is not None, target - level.on_hand,
            reason, line.reference or reference,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        after_levels[(p.variant_id, p.warehouse_id)] = target
    if columns[0]:
        await conn.execute(Q.apply_stock, *columns, actor_id)
        await _announce(conn, levels, before, after_levels)
    return results


async def _announce(
    conn: Connection,
    levels: Levels,
    before: dict[uuid.UUID, int],
    targets: dict[tuple[uuid.UUID, uuid.UUID], int],
) -> None:
    """Availability flips and low-stock crossings of the batch, set-wise."""
    after = dict(before)
    events: list[tuple[Event, uuid.UUID | str]] = []
    for key, on_hand in targets.items():
        level = levels[key]
        if not level.is_active:
            continue
        delta = on_hand - level.on_hand
        after[level.variant_id] += delta
        threshold = level.low_stock_threshold
        was = level.on_hand - level.reserved
        if threshold is not None and was > threshold >= was + delta:
            low = StockLow(
                variant_id=level.variant_id, product_id=level.product_id, vendor_id=level.vendor_id,
                warehouse_id=level.warehouse_id, available=was + delta, threshold=threshold,
            )  # fmt: skip
            events.append((low, low.product_id))
    by_variant = {lv.variant_id: lv for lv in levels.values()}
    flipped = [v for v, n in after.items() if (n > 0) != (before[v] > 0)]
    products = sorted({by_variant[v].product_id for v in after})
    for product_id in products:
        conn.invalidate_after_commit(PRODUCT_TOPIC, str(product_id))
    if flipped:
        flipped_products = sorted({by_variant[v].product_id for v in flipped})
        await conn.execute(Q.lock_products, flipped_products)
        rows = await conn.fetch(Q.refresh_products_in_stock, flipped_products)
        await catalog.listings_changed(conn, [r["id"] for r in rows if r["status"] == "active"])
        for v in flipped:
            product_id = by_variant[v].product_id
            changed = StockStatusChanged(
                product_id=product_id, variant_id=v, in_stock=after[v] > 0, available=after[v]
            )
            events.append((changed, product_id))
    if events:
        await emit_many(conn, events)

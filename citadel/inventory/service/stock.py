"""Stock: the one counter per variant and warehouse, with its ledger, and what changes announce.

Stock is ``on_hand`` and ``reserved`` per (variant, warehouse); available is their difference
over the active warehouses, and nothing else counts stock. Every change writes a movement row
with its reason in the same transaction, so the ledger always sums to the counters. Writers lock
the stock rows they change in primary-key order (variant, then warehouse), so concurrent
writers of the same rows never deadlock; counts and adjustments also lock the variant's row.

What a change announces (``announce``): a variant going in or out of stock recomputes its
product's ``in_stock`` flag, emits ``catalog.stock_status_changed`` and drops the cached pages;
a warehouse's offer falling to its low-stock threshold emits ``inventory.stock_low``.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from typing import NamedTuple

import asyncpg
import msgspec

from citadel.auth.models import Principal
from citadel.catalog import service as catalog
from citadel.catalog.models import PRODUCT_TOPIC, StockStatusChanged
from citadel.inventory.models import (
    LockedLevel,
    OfferedLevel,
    StockAdjustment,
    StockChanged,
    StockLevel,
    StockLow,
    StockRow,
    StockSet,
    VariantStock,
)
from citadel.inventory.service.warehouses import warehouse_row
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound
from citadel.kit.events import emit
from citadel.vendors import service as vendors

Q = load_queries(__file__)


class VariantNotFound(NotFound):
    code = "variant_not_found"
    title = "Variant not found"


class StockReserved(Conflict):
    code = "stock_reserved"
    title = "On hand cannot fall below what is reserved"


class Change(NamedTuple):
    """What one write did to one stock row."""

    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    on_hand_delta: int
    reserved_delta: int


Levels = dict[tuple[uuid.UUID, uuid.UUID], LockedLevel]


async def lock_levels(conn: Connection, variant_ids: list[uuid.UUID]) -> Levels:
    """Every stock row of the variants, locked in primary-key order, with its warehouse's terms."""
    rows = await conn.fetch(Q.lock_stock_of_variants, sorted(set(variant_ids)))
    return {(r["variant_id"], r["warehouse_id"]): LockedLevel(**r) for r in rows}


def available_by_variant(levels: Mapping[tuple[uuid.UUID, uuid.UUID], OfferedLevel]) -> dict[uuid.UUID, int]:
    offered: dict[uuid.UUID, int] = defaultdict(int)
    for level in levels.values():
        offered[level.variant_id] += level.on_hand - level.reserved if level.is_active else 0
    return offered


async def announce(conn: Connection, levels: Levels, changes: list[Change], *, drop_pages: bool) -> None:
    """What follows from ``changes`` applied to the ``levels`` they were made on (see the module)."""
    before = available_by_variant(levels)
    after = dict(before)
    for change in changes:
        level = levels.get((change.variant_id, change.warehouse_id))
        if level is None or not level.is_active:
            continue
        after[change.variant_id] += change.on_hand_delta - change.reserved_delta
        if level.low_stock_threshold is not None:
            was = level.on_hand - level.reserved
            now = was + change.on_hand_delta - change.reserved_delta
            if was > level.low_stock_threshold >= now:
                await emit(
                    conn,
                    StockLow(
                        variant_id=level.variant_id, product_id=level.product_id, vendor_id=level.vendor_id,
                        warehouse_id=level.warehouse_id, available=now, threshold=level.low_stock_threshold,
                    ),
                    aggregate_id=level.product_id,
                )  # fmt: skip
    products = {lv.variant_id: lv for lv in levels.values()}
    for variant_id, available in after.items():
        level = products[variant_id]
        flipped = (available > 0) != (before[variant_id] > 0)
        if drop_pages or flipped:
            conn.invalidate_after_commit(PRODUCT_TOPIC, str(level.product_id))
        if flipped:
            await _stock_status_changed(conn, level.product_id, variant_id, available, level.product_status)


async def _stock_status_changed(
    conn: Connection, product_id: uuid.UUID, variant_id: uuid.UUID, available: int, product_status: str
) -> None:
    await refresh_product_in_stock(conn, product_id)
    await emit(
        conn,
        StockStatusChanged(
            product_id=product_id, variant_id=variant_id, in_stock=available > 0, available=available
        ),
        aggregate_id=product_id,
    )
    if product_status == "active":
        await catalog.listings_changed(conn, [product_id])


async def refresh_product_in_stock(conn: Connection, product_id: uuid.UUID) -> bool:
    """Recompute whether the product has a variant in stock (under the product's row lock, so two
    variants flipping at once both see the other's change)."""
    await conn.execute(Q.lock_product, product_id)
    return bool(await conn.fetchval(Q.refresh_product_in_stock, product_id))


# --- counts and adjustments ----------------------------------------------------------------------


async def _variant(conn: Connection, principal: Principal | None, variant_id: uuid.UUID) -> asyncpg.Record:
    """The variant, locked, if the caller may manage its stock (another vendor's is 'not found')."""
    row = await conn.fetchrow(Q.variant_owner, variant_id)
    if row is None:
        raise VariantNotFound()
    if principal is not None and principal.role != "admin":
        vendor = await vendors.vendor_of_user(conn, principal.user_id)
        if vendor is None or vendor.id != row["vendor_id"]:
            raise VariantNotFound()
    return row


async def variant_stock(conn: Connection, principal: Principal, variant_id: uuid.UUID) -> VariantStock:
    variant = await _variant(conn, principal, variant_id)
    levels = [StockLevel.of(r) for r in from_rows(StockRow, await conn.fetch(Q.variant_stock, variant_id))]
    return VariantStock(
        variant_id=variant_id,
        product_id=variant["product_id"],
        sku=variant["sku"],
        available=int(await conn.fetchval(Q.available_of_variant, variant_id)),
        levels=levels,
    )


async def _write(
    conn: Connection,
    principal: Principal | None,
    variant_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    on_hand: int,
    threshold: int | msgspec.UnsetType | None,
    reason: str,
    reference: str | None,
) -> StockLevel:
    """Set one row's on hand (never below reserved), with its ledger row and announcements."""
    variant = await _variant(conn, principal, variant_id)
    warehouse = await warehouse_row(conn, warehouse_id, "warehouseId")
    levels = await lock_levels(conn, [variant_id])
    current = levels.get((variant_id, warehouse_id))
    reserved = current.reserved if current else 0
    was = current.on_hand if current else 0
    if on_hand < reserved:
        raise StockReserved(
            f"{reserved} units are reserved for open orders; on hand cannot go below that.",
            errors=[FieldError(field="onHand", message=f"At least {reserved}", code="stock_reserved")],
        )
    set_threshold = threshold is not msgspec.UNSET
    after = from_row(
        StockRow,
        await conn.fetchrow(
            Q.upsert_stock,
            variant_id,
            warehouse_id,
            on_hand,
            set_threshold,
            threshold if set_threshold else None,
        ),
    )
    delta = on_hand - was
    if delta:
        actor = principal.user_id if principal else None
        await conn.execute(Q.insert_movement, variant_id, warehouse_id, delta, 0, reason, reference, actor)
        if current is None:  # a new row: announce against an empty one
            levels[(variant_id, warehouse_id)] = LockedLevel(
                variant_id=variant_id, warehouse_id=warehouse_id, product_id=variant["product_id"],
                vendor_id=variant["vendor_id"], product_status=variant["product_status"], on_hand=0,
                reserved=0,
                low_stock_threshold=after.low_stock_threshold, priority=warehouse.priority,
                is_active=warehouse.is_active,
            )  # fmt: skip
        await announce(conn, levels, [Change(variant_id, warehouse_id, delta, 0)], drop_pages=True)
        await emit(
            conn,
            StockChanged(
                product_id=variant["product_id"], variant_id=variant_id, warehouse_id=warehouse_id,
                on_hand_delta=delta, reason=reason,
            ),
            aggregate_id=variant["product_id"],
        )  # fmt: skip
    elif set_threshold:
        conn.invalidate_after_commit(PRODUCT_TOPIC, str(variant["product_id"]))
    return StockLevel.of(after)


async def set_stock(
    conn: Connection,
    principal: Principal | None,
    variant_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    data: StockSet,
    *,
    reason: str = "count",
) -> StockLevel:
    """On hand becomes ``data.on_hand``; the difference is written to the ledger."""
    return await _write(
        conn, principal, variant_id, warehouse_id, data.on_hand, data.low_stock_threshold, reason, None
    )


async def adjust_stock(conn: Connection, principal: Principal | None, data: StockAdjustment) -> StockLevel:
    """Add (received, returned) or remove (damaged, lost) units, never below what is reserved."""
    await _variant(conn, principal, data.variant_id)
    levels = await lock_levels(conn, [data.variant_id])
    current = levels.get((data.variant_id, data.warehouse_id))
    was = current.on_hand if current else 0
    reserved = current.reserved if current else 0
    if was + data.delta < reserved:
        raise StockReserved(
            f"That leaves {was + data.delta} on hand while {reserved} are reserved.",
            errors=[FieldError(field="delta", message=f"At least {reserved - was}", code="stock_reserved")],
        )
    return await _write(
        conn, principal, data.variant_id, data.warehouse_id, was + data.delta, msgspec.UNSET, data.reason,
        data.reference,
    )  # fmt: skip


async def available(conn: Connection, variant_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What each variant offers now over the active warehouses (0 when it has no stock)."""
    found = {r["variant_id"]: r["available"] for r in await conn.fetch(Q.available_of_variants, variant_ids)}
    return {v: found.get(v, 0) for v in variant_ids}


async def availability_of_products(
    conn: Connection, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """Per product, (variant, available) for each active variant."""
    found: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {p: [] for p in product_ids}
    for row in await conn.fetch(Q.availability_of_products, product_ids):
        found[row["product_id"]].append((row["variant_id"], row["available"]))
    return found

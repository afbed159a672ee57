"""Inventory: warehouses, and the one stock counter per variant and warehouse, with its ledger.

Stock is ``on_hand`` and ``reserved`` per (variant, warehouse); available is their difference
over the active warehouses, and nothing else counts stock. Every change writes a movement row
with its reason in the same transaction, so the ledger always sums to the counters. Writes to one
variant's stock take turns on the variant's row lock. A change drops the product's cached page
after commit; one that takes a variant in or out of stock also drops the cached lists and
announces ``catalog.stock_status_changed``.
"""

import uuid

import asyncpg
import msgspec

from citadel.auth.models import Principal
from citadel.catalog.models import (
    PRODUCT_LISTS_TOPIC,
    PRODUCT_TOPIC,
    SEARCH_TOPIC,
    StockStatusChanged,
)
from citadel.inventory.models import (
    StockAdjustment,
    StockLevel,
    StockRow,
    StockSet,
    VariantStock,
    Warehouse,
    WarehouseCreate,
    WarehouseRow,
)
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.text import squash
from citadel.vendors import service as vendors

Q = load_queries(__file__)


class WarehouseNotFound(NotFound):
    code = "warehouse_not_found"
    title = "Warehouse not found"


class WarehouseCodeTaken(Conflict):
    code = "warehouse_code_taken"
    title = "Another warehouse has this code"


class VariantNotFound(NotFound):
    code = "variant_not_found"
    title = "Variant not found"


class StockReserved(Conflict):
    code = "stock_reserved"
    title = "On hand cannot fall below what is reserved"


# --- warehouses ----------------------------------------------------------------------------------


async def list_warehouses(conn: Connection) -> list[Warehouse]:
    rows = from_rows(WarehouseRow, await conn.fetch(Q.list_warehouses))
    return [Warehouse(**{f: getattr(r, f) for f in Warehouse.__struct_fields__}) for r in rows]


async def create_warehouse(conn: Connection, data: WarehouseCreate) -> Warehouse:
    row = await conn.fetchrow(
        Q.insert_warehouse,
        uuid7(),
        data.code,
        squash(data.name),
        data.country.upper(),
        data.region,
        data.priority,
    )
    if row is None:
        raise WarehouseCodeTaken(
            errors=[FieldError(field="code", message="Already in use", code="warehouse_code_taken")]
        )
    return Warehouse(**dict(row))


async def _warehouse(conn: Connection, warehouse_id: uuid.UUID, field: str) -> WarehouseRow:
    row = await conn.fetchrow(Q.get_warehouse, warehouse_id)
    if row is None:
        raise WarehouseNotFound(
            errors=[FieldError(field=field, message="No such warehouse", code="warehouse_not_found")]
        )
    return from_row(WarehouseRow, row)


# --- stock -------------------------------------------------------------------------------------


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


async def _changed(conn: Connection, variant: asyncpg.Record, available_before: int) -> None:
    available = int(await conn.fetchval(Q.available_of_variant, variant["id"]))
    conn.invalidate_after_commit(PRODUCT_TOPIC, str(variant["product_id"]))
    if (available > 0) != (available_before > 0):
        await refresh_product_in_stock(conn, variant["product_id"])
        await emit(
            conn,
            StockStatusChanged(
                product_id=variant["product_id"],
                variant_id=variant["id"],
                in_stock=available > 0,
                available=available,
            ),
            aggregate_id=variant["product_id"],
        )
        if variant["product_status"] == "active":
            conn.invalidate_after_commit(PRODUCT_LISTS_TOPIC, "*")
            conn.invalidate_after_commit(SEARCH_TOPIC, "*")


async def refresh_product_in_stock(conn: Connection, product_id: uuid.UUID) -> bool:
    """Recompute whether the product has a variant in stock (under the product's row lock, so two
    variants flipping at once both see the other's change)."""
    await conn.execute(Q.lock_product, product_id)
    return bool(await conn.fetchval(Q.refresh_product_in_stock, product_id))


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
    variant = await _variant(conn, principal, variant_id)
    await _warehouse(conn, warehouse_id, "warehouseId")
    before_available = int(await conn.fetchval(Q.available_of_variant, variant_id))
    current = await conn.fetchrow(Q.stock_for_update, variant_id, warehouse_id)
    before = from_row(StockRow, current) if current else None
    if before is not None and data.on_hand < before.reserved:
        raise StockReserved(
            f"{before.reserved} units are reserved for open orders; on hand cannot go below that.",
            errors=[FieldError(field="onHand", message=f"At least {before.reserved}", code="stock_reserved")],
        )
    threshold = data.low_stock_threshold
    set_threshold = threshold is not msgspec.UNSET
    after = from_row(
        StockRow,
        await conn.fetchrow(
            Q.upsert_stock, variant_id, warehouse_id, data.on_hand, set_threshold,
            threshold if set_threshold else None,
        ),
    )  # fmt: skip
    delta = after.on_hand - (before.on_hand if before else 0)
    if delta:
        actor = principal.user_id if principal else None
        await conn.execute(Q.insert_movement, variant_id, warehouse_id, delta, 0, reason, None, actor)
        await _changed(conn, variant, before_available)
    elif set_threshold:
        conn.invalidate_after_commit(PRODUCT_TOPIC, str(variant["product_id"]))
    return StockLevel.of(after)


async def adjust_stock(conn: Connection, principal: Principal | None, data: StockAdjustment) -> StockLevel:
    """Add (received, returned) or remove (damaged, lost) units, never below what is reserved."""
    variant = await _variant(conn, principal, data.variant_id)
    await _warehouse(conn, data.warehouse_id, "warehouseId")
    before_available = int(await conn.fetchval(Q.available_of_variant, data.variant_id))
    current = await conn.fetchrow(Q.stock_for_update, data.variant_id, data.warehouse_id)
    before = from_row(StockRow, current) if current else None
    was_on_hand = before.on_hand if before else 0
    reserved = before.reserved if before else 0
    on_hand = was_on_hand + data.delta
    if on_hand < reserved:
        raise StockReserved(
            f"That leaves {on_hand} on hand while {reserved} are reserved.",
            errors=[
                FieldError(field="delta", message=f"At least {reserved - was_on_hand}", code="stock_reserved")
            ],
        )
    after = from_row(
        StockRow,
        await conn.fetchrow(Q.upsert_stock, data.variant_id, data.warehouse_id, on_hand, False, None),
    )
    if data.delta:
        actor = principal.user_id if principal else None
        await conn.execute(
            Q.insert_movement,
            data.variant_id,
            data.warehouse_id,
            data.delta,
            0,
            data.reason,
            data.reference,
            actor,
        )
        await _changed(conn, variant, before_available)
    return StockLevel.of(after)

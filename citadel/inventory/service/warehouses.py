"""Warehouses: where stock is, in which order they ship (priority), and whether they offer it.

Deactivating or reactivating a warehouse changes what its variants offer, so the products with
stock there have their ``in_stock`` flag recomputed (and their cached pages dropped) in the
same transaction.
"""

import uuid

import msgspec

from citadel.catalog.models import PRODUCT_LISTS_TOPIC, PRODUCT_TOPIC, SEARCH_TOPIC
from citadel.inventory.models import Warehouse, WarehouseCreate, WarehouseRow, WarehouseUpdate
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound
from citadel.kit.ids import uuid7
from citadel.kit.text import squash

Q = load_queries(__file__)


class WarehouseNotFound(NotFound):
    code = "warehouse_not_found"
    title = "Warehouse not found"


class WarehouseCodeTaken(Conflict):
    code = "warehouse_code_taken"
    title = "Another warehouse has this code"


def _public(row: WarehouseRow) -> Warehouse:
    return Warehouse(**{f: getattr(row, f) for f in Warehouse.__struct_fields__})


async def list_warehouses(conn: Connection) -> list[Warehouse]:
    return [_public(r) for r in from_rows(WarehouseRow, await conn.fetch(Q.list_warehouses))]


async def warehouse_row(conn: Connection, warehouse_id: uuid.UUID, field: str | None = None) -> WarehouseRow:
    row = await conn.fetchrow(Q.get_warehouse, warehouse_id)
    if row is None:
        errors = (
            [FieldError(field=field, message="No such warehouse", code="warehouse_not_found")]
            if field
            else None
        )
        raise WarehouseNotFound(errors=errors)
    return from_row(WarehouseRow, row)


async def get_warehouse(conn: Connection, warehouse_id: uuid.UUID) -> Warehouse:
    return _public(await warehouse_row(conn, warehouse_id))


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


async def update_warehouse(conn: Connection, warehouse_id: uuid.UUID, data: WarehouseUpdate) -> Warehouse:
    found = await conn.fetchrow(Q.get_warehouse_for_update, warehouse_id)
    if found is None:
        raise WarehouseNotFound()
    current = from_row(WarehouseRow, found)
    values = {f: getattr(current, f) for f in WarehouseUpdate.__struct_fields__}
    values.update(
        {f: v for f in WarehouseUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    row = from_row(
        WarehouseRow,
        await conn.fetchrow(
            Q.update_warehouse, warehouse_id, squash(values["name"]), values["region"], values["priority"],
            values["is_active"],
        ),
    )  # fmt: skip
    if row.is_active != current.is_active:
        # what every variant stocked here offers changed: recompute their products' flags, in id
        # order (the order product row locks are taken everywhere)
        for product_id in await conn.fetch(Q.products_stocked_in, warehouse_id):
            await conn.execute(Q.lock_product, product_id["id"])
            await conn.execute(Q.refresh_product_in_stock, product_id["id"])
            conn.invalidate_after_commit(PRODUCT_TOPIC, str(product_id["id"]))
        conn.invalidate_after_commit(PRODUCT_LISTS_TOPIC, "*")
        conn.invalidate_after_commit(SEARCH_TOPIC, "*")
    return _public(row)

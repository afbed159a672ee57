"""Transfers between warehouses: pending -> in transit -> completed, or cancelled.

Shipping a transfer takes its units off the source's shelf (never what is reserved there);
receiving puts them on the destination's; cancelling a transfer in transit puts them back at the
source. Each step writes ledger rows referencing the transfer, under the rows' locks.
"""

import uuid

from citadel.auth.models import Principal
from citadel.inventory.models import (
    Shortage,
    Transfer,
    TransferCreate,
    TransferLine,
    TransferPage,
    TransferRow,
    TransferStatus,
)
from citadel.inventory.service.holds import InsufficientStock
from citadel.inventory.service.stock import Change, announce, lock_levels
from citadel.inventory.service.warehouses import warehouse_row
from citadel.kit.db import Connection, from_row, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer

Q = load_queries(__file__)

NEXT: dict[str, dict[str, TransferStatus]] = {
    "ship": {"pending": "in_transit"},
    "receive": {"in_transit": "completed"},
    "cancel": {"pending": "cancelled", "in_transit": "cancelled"},
}


class TransferNotFound(NotFound):
    code = "transfer_not_found"
    title = "Transfer not found"


class InvalidTransferTransition(Conflict):
    code = "invalid_transition"
    title = "The transfer cannot take this step from its status"


def _view(row: TransferRow, lines: list[TransferLine]) -> Transfer:
    return Transfer(
        id=row.id, source_warehouse_id=row.source_warehouse_id,
        destination_warehouse_id=row.destination_warehouse_id, status=row.status, note=row.note,
        lines=lines, created_at=row.created_at, shipped_at=row.shipped_at, received_at=row.received_at,
        cancelled_at=row.cancelled_at, updated_at=row.updated_at,
    )  # fmt: skip


async def _lines(conn: Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[TransferLine]]:
    found: dict[uuid.UUID, list[TransferLine]] = {i: [] for i in ids}
    for r in await conn.fetch(Q.transfer_lines, ids):
        found[r["transfer_id"]].append(TransferLine(variant_id=r["variant_id"], quantity=r["quantity"]))
    return found


async def get_transfer(conn: Connection, transfer_id: uuid.UUID) -> Transfer:
    row = await conn.fetchrow(Q.get_transfer, transfer_id)
    if row is None:
        raise TransferNotFound()
    return _view(from_row(TransferRow, row), (await _lines(conn, [transfer_id]))[transfer_id])


async def create_transfer(conn: Connection, principal: Principal, data: TransferCreate) -> Transfer:
    if data.source_warehouse_id == data.destination_warehouse_id:
        raise ValidationFailed(
            "A transfer goes from one warehouse to another.",
            errors=[
                FieldError(
                    field="destinationWarehouseId", message="Same as the source", code="same_warehouse"
                )
            ],
        )
    await warehouse_row(conn, data.source_warehouse_id, "sourceWarehouseId")
    await warehouse_row(conn, data.destination_warehouse_id, "destinationWarehouseId")
    ids = [line.variant_id for line in data.lines]
    known = {r["id"] for r in await conn.fetch(Q.existing_variants, ids)}
    errors = [
        FieldError(field=f"lines[{i}].variantId", message="No such variant", code="variant_not_found")
        for i, line in enumerate(data.lines)
        if line.variant_id not in known
    ] + [
        FieldError(field=f"lines[{i}].variantId", message="Listed twice", code="duplicate")
        for i, line in enumerate(data.lines)
        if line.variant_id in ids[:i]
    ]
    if errors:
        raise ValidationFailed("Some lines cannot be transferred.", errors=errors)
    transfer_id = uuid7()
    await conn.execute(
        Q.insert_transfer, transfer_id, data.source_warehouse_id, data.destination_warehouse_id, data.note,
        principal.user_id,
    )  # fmt: skip
    await conn.execute(Q.insert_transfer_lines, transfer_id, ids, [line.quantity for line in data.lines])
    return await get_transfer(conn, transfer_id)


async def advance_transfer(
    conn: Connection, principal: Principal, transfer_id: uuid.UUID, step: str
) -> Transfer:
    """Take one step (ship, receive, cancel) and move the stock it moves."""
    found = await conn.fetchrow(Q.get_transfer_for_update, transfer_id)
    if found is None:
        raise TransferNotFound()
    transfer = from_row(TransferRow, found)
    target = NEXT[step].get(transfer.status)
    if target is None:
        raise InvalidTransferTransition(f"A {transfer.status} transfer cannot {step}.")
    lines = (await _lines(conn, [transfer_id]))[transfer_id]
    if step == "ship":
        await _move(conn, principal, transfer, lines, transfer.source_warehouse_id, -1, "transfer_out")
    elif step == "receive":
        await _move(conn, principal, transfer, lines, transfer.destination_warehouse_id, 1, "transfer_in")
    elif transfer.status == "in_transit":
        await _move(conn, principal, transfer, lines, transfer.source_warehouse_id, 1, "transfer_cancelled")
    await conn.execute(Q.set_transfer_status, transfer_id, target)
    return await get_transfer(conn, transfer_id)


async def _move(
    conn: Connection,
    principal: Principal,
    transfer: TransferRow,
    lines: list[TransferLine],
    warehouse_id: uuid.UUID,
    sign: int,
    reason: str,
) -> None:
    variant_ids = [line.variant_id for line in lines]
    if sign > 0:  # the destination may not stock these variants yet
        await conn.execute(Q.ensure_stock_rows, variant_ids, warehouse_id)
    levels = await lock_levels(conn, variant_ids)
    if sign < 0:
        short = []
        for line in lines:
            level = levels.get((line.variant_id, warehouse_id))
            offered = level.on_hand - level.reserved if level else 0
            if offered < line.quantity:
                short.append(Shortage(variant_id=line.variant_id, requested=line.quantity, available=offered))
        if short:
            raise InsufficientStock(short)
    deltas = [sign * line.quantity for line in lines]
    await conn.execute(
        Q.move_stock, variant_ids, warehouse_id, deltas, reason, str(transfer.id), principal.user_id
    )
    changes = [Change(v, warehouse_id, d, 0) for v, d in zip(variant_ids, deltas, strict=True)]
    await announce(conn, levels, changes, drop_pages=True)


TRANSFER_LIST = ListSpec(
    source=Q.transfer_list_source,
    filters={"status": Filter("status")},
    sorts={"newest": Sort("created_at", "timestamp", descending=True)},
    default_sort="newest",
)


async def list_transfers(
    conn: Connection, signer: Signer, *, status: TransferStatus | None, cursor: str | None, limit: int
) -> TransferPage:
    page = await fetch_page(
        conn, TRANSFER_LIST, signer, filters={"status": status}, sort=None, cursor=cursor, limit=limit
    )
    rows = [TransferRow(**{f: r[f] for f in TransferRow.__struct_fields__}) for r in page.rows]
    lines = await _lines(conn, [r.id for r in rows])
    return TransferPage(items=[_view(r, lines[r.id]) for r in rows], next_cursor=page.next_cursor)

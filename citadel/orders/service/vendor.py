"""What a vendor sees of orders: its own fulfilments, each with its lines and where it goes."""

import uuid
from typing import Any

from citadel.kit.db import Connection, from_rows, load_queries
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.orders.models import (
    FulfilmentStatus,
    OrderLine,
    OrderLineRow,
    VendorFulfilment,
    VendorFulfilmentPage,
)
from citadel.orders.service.reads import _address
from citadel.orders.service.transitions import FulfilmentNotFound

Q = load_queries(__file__)

VENDOR_FULFILMENTS = ListSpec(
    source=Q.vendor_fulfilments_source,
    filters={
        "vendor": Filter("vendor_id"),
        "status": Filter("status"),
        "order_status": Filter("order_status"),
    },
    sorts={
        "newest": Sort("created_at", "timestamp", descending=True),
        "oldest": Sort("created_at", "timestamp"),
    },
    default_sort="newest",
)


async def _views(conn: Connection, rows: list[Any]) -> list[VendorFulfilment]:
    lines = from_rows(OrderLineRow, await conn.fetch(Q.lines_of_fulfilments, [r["id"] for r in rows]))
    by_fulfilment: dict[uuid.UUID, list[OrderLine]] = {}
    for line in lines:
        by_fulfilment.setdefault(line.fulfilment_id, []).append(
            OrderLine(**{f: getattr(line, f) for f in OrderLine.__struct_fields__})
        )
    return [
        VendorFulfilment(
            id=r["id"], order_id=r["order_id"], order_number=r["order_number"],
            order_status=r["order_status"], status=r["status"], carrier=r["carrier"],
            tracking_number=r["tracking_number"],
            packed_at=r["packed_at"], shipped_at=r["shipped_at"], delivered_at=r["delivered_at"],
            shipping_address=_address(r["shipping_address"]), shipping_method_name=r["shipping_method_name"],
            placed_at=r["placed_at"], lines=by_fulfilment.get(r["id"], []),
        )
        for r in rows
    ]  # fmt: skip


async def vendor_fulfilments(
    conn: Connection,
    signer: Signer,
    vendor_id: uuid.UUID,
    *,
    status: FulfilmentStatus | None,
    order_status: str | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> VendorFulfilmentPage:
    page = await fetch_page(
        conn, VENDOR_FULFILMENTS, signer,
        filters={"vendor": vendor_id, "status": status, "order_status": order_status},
        sort=sort, cursor=cursor, limit=limit,
    )  # fmt: skip
    return VendorFulfilmentPage(items=await _views(conn, page.rows), next_cursor=page.next_cursor)


async def vendor_fulfilment(
    conn: Connection, vendor_id: uuid.UUID, fulfilment_id: uuid.UUID
) -> VendorFulfilment:
    row = await conn.fetchrow(Q.vendor_fulfilment, fulfilment_id)
    if row is None or row["vendor_id"] != vendor_id:
        raise FulfilmentNotFound()
    [view] = await _views(conn, [row])
    return view

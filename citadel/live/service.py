"""Live pushes, built from durable events by the worker and published after commit."""

import uuid

import msgspec

from citadel.inventory import service as inventory
from citadel.kit.db import Connection
from citadel.live.models import OrderUpdate, StockUpdate, VariantAvailability, orders_topic, stock_topic
from citadel.orders.models import OrderStatusChanged

_encoder = msgspec.json.Encoder()


async def push_stock(conn: Connection, product_ids: list[uuid.UUID]) -> None:
    """What each product offers now, to the sockets following it."""
    for product_id, variants in (
        await inventory.availability_of_products(conn, sorted(set(product_ids)))
    ).items():
        update = StockUpdate(
            product_id=product_id,
            in_stock=any(available > 0 for _, available in variants),
            variants=[VariantAvailability(variant_id=v, available=max(0, a)) for v, a in variants],
        )
        conn.publish_after_commit(stock_topic(product_id), _encoder.encode(update))


def push_order_status(conn: Connection, event: OrderStatusChanged) -> None:
    """An order's new status, to its owner's sockets (guests have none)."""
    if event.user_id is None:
        return
    update = OrderUpdate(
        order_id=event.order_id, number=event.number, from_status=event.from_status,
        to_status=event.to_status, reason=event.reason,
    )  # fmt: skip
    conn.publish_after_commit(orders_topic(event.user_id), _encoder.encode(update))

"""The durable events that become live pushes: order status changes and stock movements."""

from typing import Any

from citadel.inventory.models import StockChanged, StockReleased, StockReserved, StockRestocked
from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection
from citadel.kit.events import Envelope
from citadel.live import service
from citadel.orders.models import OrderStatusChanged


def consumers() -> list[Consumer]:
    async def order_status(conn: Connection, event: OrderStatusChanged, _: Envelope) -> None:
        service.push_order_status(conn, event)

    async def stock_moved(conn: Connection, batch: list[tuple[Any, Envelope]]) -> None:
        products = []
        for event, _ in batch:
            if isinstance(event, StockChanged):
                products.append(event.product_id)
            elif isinstance(event, StockReserved | StockReleased | StockRestocked):
                products.extend(line.product_id for line in event.lines)
        await service.push_stock(conn, products)

    return [
        Consumer(
            name="live-orders",
            domain="orders",
            handlers={"orders.status_changed": order_status},
            together=True,  # nothing is written: the pushes go out after the commit
        ),
        Consumer(
            name="live-stock",
            domain="inventory",
            batch_handler=stock_moved,
            batch_types=frozenset(
                {"inventory.reserved", "inventory.released", "inventory.restocked", "inventory.stock_changed"}
            ),
        ),
    ]

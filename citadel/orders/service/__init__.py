"""Orders: placing their rows, reading them, and every transition of their life."""

from citadel.orders.service.reads import (
    OrderNotFound,
    fulfilment_ids,
    get_order,
    lines_of,
    list_orders,
    lookup,
    order_number,
    order_row,
    placed_view,
    view,
)
from citadel.orders.service.transitions import (
    FulfilmentNotFound,
    InvalidTransition,
    OrderNotPaid,
    advance_fulfilment,
    cancel,
    capture_manual,
    confirm_payment,
    expire,
    next_expired,
    process_payment,
    refund,
)
from citadel.orders.service.vendor import vendor_fulfilment, vendor_fulfilments

__all__ = [
    "FulfilmentNotFound",
    "InvalidTransition",
    "OrderNotFound",
    "OrderNotPaid",
    "advance_fulfilment",
    "cancel",
    "capture_manual",
    "confirm_payment",
    "expire",
    "fulfilment_ids",
    "get_order",
    "lines_of",
    "list_orders",
    "lookup",
    "next_expired",
    "order_number",
    "order_row",
    "placed_view",
    "process_payment",
    "refund",
    "vendor_fulfilment",
    "vendor_fulfilments",
    "view",
]

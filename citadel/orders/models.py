"""Orders, their lines, fulfilments and history; what admins and vendors send; order events."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from citadel.cart.models import CartAddress
from citadel.kit.money import Amount
from citadel.kit.structs import Event, Input, Model, Row
from citadel.payments.models import Payment, Refund

OrderStatus = Literal["pending", "paid", "processing", "shipped", "delivered", "cancelled", "refunded"]
FulfilmentStatus = Literal["pending", "processing", "packed", "shipped", "delivered", "cancelled"]
ORDER_STATUSES: tuple[str, ...] = (
    "pending",
    "paid",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
)


class OrderRow(Row, frozen=True):
    id: uuid.UUID
    number: str
    user_id: uuid.UUID | None
    email: str
    cart_id: uuid.UUID | None
    status: OrderStatus
    currency: str
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    shipping_amount: int
    shipping_tax_amount: int
    total_amount: int
    refunded_amount: int
    prices_include_tax: bool
    coupon_code: str | None
    shipping_method_id: uuid.UUID | None
    shipping_method_name: str | None
    shipping_address: dict[str, str | None] | None
    payment_provider: str
    holds_expire_at: datetime | None
    cancel_reason: str | None
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class OrderLineRow(Row, frozen=True):
    id: uuid.UUID
    order_id: uuid.UUID
    fulfilment_id: uuid.UUID
    position: int
    product_id: uuid.UUID
    variant_id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price_amount: int
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    total_amount: int
    tax_rate_ppm: int
    refunded_quantity: int


class FulfilmentRow(Row, frozen=True):
    id: uuid.UUID
    order_id: uuid.UUID
    vendor_id: uuid.UUID
    status: FulfilmentStatus
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class HistoryRow(Row, frozen=True):
    from_status: str | None
    to_status: str
    reason: str
    actor_id: uuid.UUID | None
    created_at: datetime


class OrderLine(Model):
    id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    vendor_id: uuid.UUID
    fulfilment_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price_amount: int
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    total_amount: int
    tax_rate_ppm: int
    refunded_quantity: int


class Fulfilment(Model):
    id: uuid.UUID
    vendor_id: uuid.UUID
    status: FulfilmentStatus
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None


class HistoryEntry(Model):
    from_status: str | None
    to_status: str
    reason: str
    at: datetime


class OrderTotals(Model):
    currency: str
    subtotal_amount: int
    discount_amount: int
    shipping_amount: int
    tax_amount: int
    shipping_tax_amount: int
    total_amount: int  # what was charged
    refunded_amount: int
    prices_include_tax: bool


class Order(Model):
    id: uuid.UUID
    number: str
    status: OrderStatus
    email: str
    totals: OrderTotals
    lines: list[OrderLine]
    fulfilments: list[Fulfilment]
    payment: Payment | None
    refunds: list[Refund]
    history: list[HistoryEntry]
    coupon_code: str | None
    shipping_address: CartAddress | None
    shipping_method_name: str | None
    pay_by: datetime | None  # an unpaid order is cancelled, and its stock released, after this
    cancel_reason: str | None
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class OrderSummary(Model):
    id: uuid.UUID
    number: str
    status: OrderStatus
    email: str
    currency: str
    total_amount: int
    item_count: int
    placed_at: datetime


class OrderPage(Model):
    items: list[OrderSummary]
    next_cursor: str | None


Reason = Annotated[str, Meta(min_length=1, max_length=500)]


class OrderCancel(Input):
    reason: Reason = "cancelled by request"


class Shipment(Input):
    carrier: Annotated[str, Meta(min_length=1, max_length=50)]
    tracking_number: Annotated[str, Meta(min_length=1, max_length=100)]


class RefundLineInput(Input):
    line_id: uuid.UUID
    quantity: Annotated[int, Meta(ge=1, le=1_000_000)]


class RefundCreate(Input):
    """A refund of an amount, or of lines (their share of the order's total), or both (the
    amount, recorded against the lines). ``restock`` puts the lines' units back on the shelf."""

    reason: Reason
    amount: Amount | None = None
    lines: Annotated[list[RefundLineInput], Meta(max_length=1000)] = msgspec.field(default_factory=list)
    restock: bool = False


# --- what checkout hands over ----------------------------------------------------------------------


class LineDraft(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price: int
    subtotal: int
    discount: int
    tax: int
    total: int
    tax_rate_ppm: int


class OrderDraft(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    user_id: uuid.UUID | None
    email: str
    cart_id: uuid.UUID
    currency: str
    subtotal: int
    discount: int
    tax: int
    shipping: int
    shipping_tax: int
    total: int
    prices_include_tax: bool
    coupon_code: str | None
    shipping_method_id: uuid.UUID | None
    shipping_method_name: str | None
    shipping_address: dict[str, str | None] | None
    payment_provider: str
    holds_expire_at: datetime
    placed_at: datetime
    lines: list[LineDraft]


# --- events ----------------------------------------------------------------------------------------


class PlacedLine(Event, frozen=True):
    line_id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    quantity: int
    total_amount: int


class OrderPlaced(Event, frozen=True):
    """``orders.placed``"""

    order_id: uuid.UUID
    number: str
    user_id: uuid.UUID | None
    email: str
    currency: str
    total_amount: int
    payment_provider: str
    lines: list[PlacedLine]


class OrderStatusChanged(Event, frozen=True):
    """``orders.status_changed``: every transition, as the history records it."""

    order_id: uuid.UUID
    number: str
    user_id: uuid.UUID | None
    email: str
    from_status: str | None
    to_status: str
    reason: str


class OrderPaid(Event, frozen=True):
    """``orders.paid``"""

    order_id: uuid.UUID
    number: str
    user_id: uuid.UUID | None
    currency: str
    total_amount: int


class OrderCancelled(Event, frozen=True):
    """``orders.cancelled``"""

    order_id: uuid.UUID
    number: str
    user_id: uuid.UUID | None
    email: str
    reason: str


class VendorFulfilment(Model):
    """One vendor's part of an order, as that vendor sees it: what to pack, where it goes."""

    id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    order_status: OrderStatus
    status: FulfilmentStatus
    carrier: str | None
    tracking_number: str | None
    packed_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    shipping_address: CartAddress | None
    shipping_method_name: str | None
    placed_at: datetime
    lines: list[OrderLine]


class VendorFulfilmentPage(Model):
    items: list[VendorFulfilment]
    next_cursor: str | None

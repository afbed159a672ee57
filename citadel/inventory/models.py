"""Inventory: warehouses and the stock of each variant in each of them, with its ledger."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from citadel.kit.structs import Event, Input, Model, Row

Quantity = Annotated[int, Meta(ge=0, le=100_000_000)]
Delta = Annotated[int, Meta(ge=-100_000_000, le=100_000_000)]
AdjustmentReason = Literal["received", "returned", "damaged", "lost", "correction", "count"]


class WarehouseRow(Row, frozen=True):
    id: uuid.UUID
    code: str
    name: str
    country: str
    region: str | None
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class Warehouse(Model):
    id: uuid.UUID
    code: str
    name: str
    country: str
    region: str | None
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class WarehouseList(Model):
    items: list[Warehouse]


class WarehouseCreate(Input):
    code: Annotated[str, Meta(pattern=r"^[A-Z0-9][A-Z0-9-]{1,19}$")]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    country: Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$")]
    region: Annotated[str, Meta(max_length=100)] | None = None
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] = 100


class StockRow(Row, frozen=True):
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    on_hand: int
    reserved: int
    low_stock_threshold: int | None
    updated_at: datetime


class StockLevel(Model):
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int
    low_stock_threshold: int | None
    updated_at: datetime

    @classmethod
    def of(cls, row: StockRow) -> "StockLevel":
        return cls(
            variant_id=row.variant_id,
            warehouse_id=row.warehouse_id,
            on_hand=row.on_hand,
            reserved=row.reserved,
            available=row.on_hand - row.reserved,
            low_stock_threshold=row.low_stock_threshold,
            updated_at=row.updated_at,
        )


class VariantStock(Model):
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    available: int  # over the active warehouses
    levels: list[StockLevel]


class StockSet(Input):
    """Count what is on the shelf: on hand becomes this number (never below what is reserved)."""

    on_hand: Quantity
    low_stock_threshold: Quantity | UnsetType | None = UNSET


class StockAdjustment(Input):
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    delta: Delta
    reason: AdjustmentReason
    reference: Annotated[str, Meta(max_length=200)] | None = None


class WarehouseUpdate(Input):
    name: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    region: Annotated[str, Meta(max_length=100)] | UnsetType | None = UNSET
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET  # an inactive warehouse offers none of its stock


# --- holds: stock promised to orders ---------------------------------------------------------------


class HoldRequest(Row, frozen=True):
    """One order line's need: ``quantity`` units of a variant, for the line ``line_id``."""

    line_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int


class OfferedLevel(Row, frozen=True, kw_only=True):
    """A stock row as the allocation reads it: its counters and its warehouse's terms."""

    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    on_hand: int
    reserved: int
    priority: int
    is_active: bool


class LockedLevel(OfferedLevel, frozen=True, kw_only=True):
    """A stock row read under its lock, with what announcing a change of it needs."""

    product_id: uuid.UUID
    vendor_id: uuid.UUID
    product_status: str
    low_stock_threshold: int | None


class Shortage(Model):
    variant_id: uuid.UUID
    requested: int
    available: int


# --- transfers -------------------------------------------------------------------------------------

TransferStatus = Literal["pending", "in_transit", "completed", "cancelled"]


class TransferLine(Model):
    variant_id: uuid.UUID
    quantity: int


class TransferLineInput(Input):
    variant_id: uuid.UUID
    quantity: Annotated[int, Meta(ge=1, le=100_000_000)]


class TransferCreate(Input):
    source_warehouse_id: uuid.UUID
    destination_warehouse_id: uuid.UUID
    lines: Annotated[list[TransferLineInput], Meta(min_length=1, max_length=1000)]
    note: Annotated[str, Meta(max_length=2000)] = ""


class TransferRow(Row, frozen=True):
    id: uuid.UUID
    source_warehouse_id: uuid.UUID
    destination_warehouse_id: uuid.UUID
    status: TransferStatus
    note: str
    created_by: uuid.UUID | None
    created_at: datetime
    shipped_at: datetime | None
    received_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class Transfer(Model):
    id: uuid.UUID
    source_warehouse_id: uuid.UUID
    destination_warehouse_id: uuid.UUID
    status: TransferStatus
    note: str
    lines: list[TransferLine]
    created_at: datetime
    shipped_at: datetime | None
    received_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class TransferPage(Model):
    items: list[Transfer]
    next_cursor: str | None


# --- events ----------------------------------------------------------------------------------------


class StockLine(Event, frozen=True):
    variant_id: uuid.UUID
    product_id: uuid.UUID
    quantity: int


class StockReserved(Event, frozen=True):
    """Stock was held for an order (``inventory.reserved``)."""

    order_id: uuid.UUID
    lines: list[StockLine]


class StockReleased(Event, frozen=True):
    """An order's held stock went back on offer (``inventory.released``)."""

    order_id: uuid.UUID
    reason: str
    lines: list[StockLine]


class StockRestocked(Event, frozen=True):
    """Sold units came back on the shelf (``inventory.restocked``): a refund or a cancellation."""

    order_id: uuid.UUID
    lines: list[StockLine]


class StockChanged(Event, frozen=True):
    """A count, an adjustment or a transfer changed what a product offers (``inventory.stock_changed``)."""

    product_id: uuid.UUID
    variant_id: uuid.UUID
    warehouse_id: uuid.UUID
    on_hand_delta: int
    reason: str


class StockLow(Event, frozen=True):
    """What a warehouse offers of a variant fell to its low-stock threshold (``inventory.stock_low``)."""

    variant_id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    warehouse_id: uuid.UUID
    available: int
    threshold: int

"""Inventory: warehouses and the stock of each variant in each of them, with its ledger."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from citadel.kit.structs import Input, Model, Row

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

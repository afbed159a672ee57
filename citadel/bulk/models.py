"""Vendors' bulk work: rows in (products, stock, prices), one answer per row out, and jobs."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from citadel.catalog.models import (
    AttributeKey,
    AttributeValue,
    Barcode,
    Brand,
    Description,
    Grams,
    Image,
    Millimetres,
    Name,
    OptionName,
    OptionValue,
    Position,
    ProductOption,
    Sku,
    Slug,
    Tag,
)
from citadel.inventory.models import Delta, Quantity
from citadel.kit.money import MAX_PRICE_AMOUNT, Amount, CurrencyCode
from citadel.kit.structs import Event, Input, Model

MAX_ROWS = 10_000  # per synchronous call
MAX_JOB_ROWS = 1_000_000
MAX_LINE_BYTES = 64 * 1024

BulkKind = Literal["products", "stock", "prices"]
RowStatus = Literal["created", "updated", "unchanged", "error"]
JobStatus = Literal["uploading", "queued", "running", "completed", "failed"]
Adjustment = Annotated[int, Meta(ge=-MAX_PRICE_AMOUNT, le=MAX_PRICE_AMOUNT)]
WarehouseCode = Annotated[str, Meta(min_length=1, max_length=40)]
CategorySlug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)]


class BulkVariant(Input):
    sku: Sku
    name: Name | None = None
    option_values: Annotated[dict[OptionName, OptionValue], Meta(max_length=5)] = msgspec.field(
        default_factory=dict
    )
    price_amount: Amount | None = None
    price_adjustment: Adjustment = 0
    barcode: Barcode | None = None
    weight_grams: Grams | None = None
    position: Position = 0


class BulkProduct(Input):
    """A product keyed by the vendor's own ``sku``. Without ``variants`` it has one variant of
    the same SKU; with them, each is upserted by its own SKU (variants not named are kept)."""

    sku: Sku
    name: Name
    price_amount: Amount
    currency: CurrencyCode
    slug: Slug | None = None  # only used when the product is created, or to change it
    description: Description = ""
    brand: Brand | None = None
    category: CategorySlug | None = None  # the category's slug
    tags: Annotated[list[Tag], Meta(max_length=30)] = msgspec.field(default_factory=list)
    attributes: Annotated[dict[AttributeKey, AttributeValue], Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )
    options: Annotated[list[ProductOption], Meta(max_length=5)] = msgspec.field(default_factory=list)
    images: Annotated[list[Image], Meta(max_length=20)] = msgspec.field(default_factory=list)
    status: Literal["draft", "active", "archived"] = "draft"
    compare_at_amount: Amount | None = None
    weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    variants: Annotated[list[BulkVariant], Meta(max_length=100)] = msgspec.field(default_factory=list)


class BulkStock(Input):
    """Set (a count) or adjust (a delta) one SKU's stock in one warehouse (by code)."""

    sku: Sku
    warehouse: WarehouseCode
    on_hand: Quantity | None = None
    delta: Delta | None = None
    low_stock_threshold: Quantity | None = None
    reference: Annotated[str, Meta(max_length=200)] | None = None


class BulkPrice(Input):
    """A SKU's new price: a product's own SKU sets the product's price, a variant's SKU its own."""

    sku: Sku
    price_amount: Amount
    compare_at_amount: Amount | None = None
    currency: CurrencyCode | None = None  # must match the product's, if given


class FieldProblem(Model):
    field: str
    message: str
    code: str


class RowResult(Model):
    row: int  # 1-based position in the request
    key: str | None  # the row's SKU (or SKU@warehouse)
    status: RowStatus
    id: uuid.UUID | None = None
    errors: list[FieldProblem] = msgspec.field(default_factory=list)


class BulkSummary(Model):
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: int


class BulkResult(Model):
    summary: BulkSummary
    results: list[RowResult]


class BulkJob(Model):
    id: uuid.UUID
    kind: BulkKind
    format: Literal["ndjson", "csv"]
    status: JobStatus
    total_rows: int
    processed_rows: int
    created_rows: int
    updated_rows: int
    unchanged_rows: int
    error_rows: int
    attempts: int
    failure: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class BulkJobPage(Model):
    items: list[BulkJob]
    next_cursor: str | None


class BulkJobQueued(Event, frozen=True):
    job_id: uuid.UUID
    vendor_id: uuid.UUID
    kind: BulkKind
    total_rows: int


class BulkJobFinished(Event, frozen=True):
    job_id: uuid.UUID
    vendor_id: uuid.UUID
    status: JobStatus
    processed_rows: int
    error_rows: int

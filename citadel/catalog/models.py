"""The catalog: categories, products and variants, as the API shows them, takes them and stores them."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from citadel.kit.money import MAX_PRICE_AMOUNT, Amount, CurrencyCode
from citadel.kit.structs import Event, Input, Model, Row
from citadel.tax.models import TaxCategory  # the tax class tax rules name (books, food, ...)
from citadel.vendors.models import VendorRef

ProductStatus = Literal["draft", "active", "archived"]
VariantStatus = Literal["active", "archived"]

# Response cache topics of the catalog's public reads (scopes: a product id, or "*" for a list).
PRODUCT_TOPIC = "product"
PRODUCT_LISTS_TOPIC = "product_lists"
CATEGORIES_TOPIC = "categories"
SEARCH_TOPIC = "search_pages"
CACHE_TOPICS = frozenset({PRODUCT_TOPIC, PRODUCT_LISTS_TOPIC, CATEGORIES_TOPIC, SEARCH_TOPIC})
# each worker's map of product slugs to ids (scope: the slug); not a response cache topic
PRODUCT_SLUGS_TOPIC = "product_slugs"

MAX_VARIANTS = 100
MAX_CATEGORY_DEPTH = 6

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Description = Annotated[str, Meta(max_length=20_000)]
Brand = Annotated[str, Meta(min_length=1, max_length=100)]
Tag = Annotated[str, Meta(min_length=1, max_length=40)]
AttributeKey = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
AttributeValue = Annotated[str, Meta(max_length=200)] | int | bool
OptionName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
OptionValue = Annotated[str, Meta(min_length=1, max_length=60)]
Sku = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
Barcode = Annotated[str, Meta(pattern=r"^[0-9A-Za-z-]{4,64}$")]
Grams = Annotated[int, Meta(ge=0, le=10_000_000)]
Millimetres = Annotated[int, Meta(ge=0, le=100_000)]
Position = Annotated[int, Meta(ge=0, le=1_000_000)]
Adjustment = Annotated[int, Meta(ge=-MAX_PRICE_AMOUNT, le=MAX_PRICE_AMOUNT)]
ImageUrl = Annotated[str, Meta(pattern=r"^https?://[^\s]+$", max_length=2000)]


# --- categories ----------------------------------------------------------------------------------


class CategoryRow(Row, frozen=True):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    path: list[uuid.UUID]
    name: str
    slug: str
    description: str
    position: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class CategoryRef(Model):
    id: uuid.UUID
    name: str
    slug: str


class Category(Model):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    slug: str
    description: str
    position: int
    is_active: bool
    depth: int
    breadcrumbs: list[CategoryRef]  # from the root down to this category
    children: list[CategoryRef]
    created_at: datetime
    updated_at: datetime


class CategoryNode(Model):
    id: uuid.UUID
    name: str
    slug: str
    position: int
    is_active: bool
    children: list["CategoryNode"]


class CategoryTree(Model):
    items: list[CategoryNode]


class CategoryCreate(Input):
    name: Name
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None
    description: Description = ""
    position: Position = 0
    is_active: bool = True


class CategoryUpdate(Input):
    name: Name | UnsetType = UNSET
    slug: Slug | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    position: Position | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class CategoryMove(Input):
    parent_id: uuid.UUID | None
    position: Position | UnsetType = UNSET


# --- products and variants -----------------------------------------------------------------------


class Image(Input):
    url: ImageUrl
    alt: Annotated[str, Meta(max_length=300)] = ""


class ProductOption(Input):
    """One axis of variation and its values, in display order (``size``: S, M, L)."""

    name: OptionName
    values: Annotated[list[OptionValue], Meta(min_length=1, max_length=50)]


class VariantInput(Input):
    sku: Sku
    name: Name | None = None  # default: the option values joined by " / "
    option_values: Annotated[dict[OptionName, OptionValue], Meta(max_length=5)] = msgspec.field(
        default_factory=dict
    )
    price_amount: Amount | None = None  # its own price, or else the product's plus the adjustment
    price_adjustment: Adjustment = 0
    barcode: Barcode | None = None
    weight_grams: Grams | None = None
    position: Position = 0


class VariantUpdate(Input):
    sku: Sku | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    price_amount: Amount | UnsetType | None = UNSET
    price_adjustment: Adjustment | UnsetType = UNSET
    barcode: Barcode | UnsetType | None = UNSET
    weight_grams: Grams | UnsetType | None = UNSET
    position: Position | UnsetType = UNSET
    status: VariantStatus | UnsetType = UNSET


class VariantGenerate(Input):
    """Make the missing variants of every combination of the product's options."""

    sku_prefix: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,40}$")]
    # per option, per value: added to the product's price (the original's priceAdjustment)
    price_adjustments: dict[OptionName, dict[OptionValue, Adjustment]] = msgspec.field(default_factory=dict)


class ProductCreate(Input):
    name: Name
    price_amount: Amount
    currency: CurrencyCode
    slug: Slug | None = None
    description: Description = ""
    brand: Brand | None = None
    category_id: uuid.UUID | None = None
    vendor_id: uuid.UUID | None = None  # admins name the vendor; vendors always sell as themselves
    tags: Annotated[list[Tag], Meta(max_length=30)] = msgspec.field(default_factory=list)
    attributes: Annotated[dict[AttributeKey, AttributeValue], Meta(max_length=50)] = msgspec.field(
        default_factory=dict
    )
    options: Annotated[list[ProductOption], Meta(max_length=5)] = msgspec.field(default_factory=list)
    images: Annotated[list[Image], Meta(max_length=20)] = msgspec.field(default_factory=list)
    status: Literal["draft", "active"] = "draft"
    compare_at_amount: Amount | None = None
    weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    tax_category: TaxCategory | None = None
    # either explicit variants, or one SKU: the single variant's (no options) or the prefix of
    # the generated combinations of the options
    variants: Annotated[list[VariantInput], Meta(max_length=MAX_VARIANTS)] = msgspec.field(
        default_factory=list
    )
    sku: Sku | None = None


class ProductUpdate(Input):
    name: Name | UnsetType = UNSET
    slug: Slug | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    brand: Brand | UnsetType | None = UNSET
    category_id: uuid.UUID | UnsetType | None = UNSET
    tags: Annotated[list[Tag], Meta(max_length=30)] | UnsetType = UNSET
    attributes: Annotated[dict[AttributeKey, AttributeValue], Meta(max_length=50)] | UnsetType = UNSET
    options: Annotated[list[ProductOption], Meta(max_length=5)] | UnsetType = UNSET
    images: Annotated[list[Image], Meta(max_length=20)] | UnsetType = UNSET
    status: ProductStatus | UnsetType = UNSET
    price_amount: Amount | UnsetType = UNSET
    compare_at_amount: Amount | UnsetType | None = UNSET
    weight_grams: Grams | UnsetType | None = UNSET
    length_mm: Millimetres | UnsetType | None = UNSET
    width_mm: Millimetres | UnsetType | None = UNSET
    height_mm: Millimetres | UnsetType | None = UNSET
    tax_category: TaxCategory | UnsetType | None = UNSET


class ProductRow(Row, frozen=True):
    id: uuid.UUID
    vendor_id: uuid.UUID
    category_id: uuid.UUID | None
    name: str
    slug: str
    description: str
    brand: str | None
    tags: list[str]
    attributes: dict[str, str | int | bool]
    options: list[dict[str, object]]
    images: list[dict[str, object]]
    status: ProductStatus
    price_amount: int
    compare_at_amount: int | None
    currency: str
    weight_grams: int | None
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None
    tax_category: str | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class VariantRow(Row, frozen=True):
    id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    barcode: str | None
    name: str
    option_values: dict[str, str]
    price_amount: int | None
    price_adjustment: int
    weight_grams: int | None
    position: int
    status: VariantStatus


class Variant(Model):
    id: uuid.UUID
    sku: str
    name: str
    option_values: dict[str, str]
    price_amount: int  # what it sells for: its own price or the product's plus the adjustment
    barcode: str | None
    weight_grams: int | None
    position: int
    status: VariantStatus
    available: int  # on hand less reserved, over the active warehouses
    in_stock: bool


class Dimensions(Model):
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None


class ProductDetail(Model):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    brand: str | None
    status: ProductStatus
    vendor: VendorRef
    category: CategoryRef | None
    breadcrumbs: list[CategoryRef]
    tags: list[str]
    attributes: dict[str, str | int | bool]
    options: list[ProductOption]
    images: list[Image]
    price_amount: int
    compare_at_amount: int | None
    currency: str
    weight_grams: int | None
    dimensions: Dimensions
    tax_category: str | None
    in_stock: bool
    variants: list[Variant]
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProductSummary(Model):
    id: uuid.UUID
    slug: str
    name: str
    brand: str | None
    vendor_id: uuid.UUID
    category_id: uuid.UUID | None
    status: ProductStatus
    price_amount: int
    compare_at_amount: int | None
    currency: str
    image: Image | None
    tags: list[str]
    in_stock: bool
    created_at: datetime


class ProductPage(Model):
    items: list[ProductSummary]
    next_cursor: str | None


ListSort = Literal["newest", "price_asc", "price_desc", "popular"]


class ProductFilters(msgspec.Struct, frozen=True, kw_only=True):
    """What a product list or a search narrows by, already checked (ids exist, values typed)."""

    category_ids: tuple[uuid.UUID, ...] | None = None  # a category and its descendants
    vendor_id: uuid.UUID | None = None
    min_price: int | None = None
    max_price: int | None = None
    currency: str | None = None
    in_stock: bool | None = None
    tags: tuple[str, ...] = ()
    # per attribute, the values it may equal (a filter value "42" matches 42 and "42")
    attributes: tuple[tuple[str, tuple[str | int | bool, ...]], ...] = ()


# --- events -----------------------------------------------------------------------------------


class ProductCreated(Event, frozen=True):
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    status: ProductStatus
    slug: str


class ProductUpdated(Event, frozen=True):
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    changed: list[str]  # API field names


class ProductArchived(Event, frozen=True):
    product_id: uuid.UUID
    vendor_id: uuid.UUID


class PriceChanged(Event, frozen=True):
    product_id: uuid.UUID
    variant_id: uuid.UUID | None  # None: the product's own price
    currency: str
    old_amount: int
    new_amount: int


class StockStatusChanged(Event, frozen=True):
    product_id: uuid.UUID
    variant_id: uuid.UUID
    in_stock: bool
    available: int


class CategoryChanged(Event, frozen=True):
    """A category was created, renamed, moved, (de)activated or deleted."""

    category_id: uuid.UUID
    change: Literal["created", "updated", "moved", "deleted"]


class SellableVariant(Row, frozen=True):
    """A variant as a cart prices it: its prices, weight, tax class and place in the tree."""

    variant_id: uuid.UUID
    product_id: uuid.UUID
    vendor_id: uuid.UUID
    sku: str
    name: str  # the product's name, with the variant's when it has options
    product_slug: str
    image_url: str | None
    sellable: bool  # product, variant and vendor all active
    currency: str
    base_amount: int  # the product's price
    own_amount: int | None  # the variant's own price, if it has one
    adjustment: int  # else added to the product's price
    weight_grams: int
    tax_category: str | None
    category_path: list[uuid.UUID]  # the product's category and its ancestors

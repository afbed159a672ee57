"""Price lists, coupons and the priced basket every cart read and checkout produces."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from citadel.catalog.models import SellableVariant
from citadel.kit.money import Amount, CurrencyCode
from citadel.kit.structs import Input, Model, Row
from citadel.shipping.models import ShippingRules
from citadel.tax.models import TaxRuleRow

Ppm = Annotated[int, Meta(ge=0, le=1_000_000, description="Parts per million: 10 % is 100000")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
CouponCode = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$", examples=["SPRING10"])]
CouponKind = Literal["percentage", "fixed", "buy_x_get_y", "tiered", "free_shipping"]
Audience = Literal["everyone", "signed_in"]
Priority = Annotated[int, Meta(ge=0, le=1_000_000)]

# --- price lists ---------------------------------------------------------------------------------


class PriceListRow(Row, frozen=True):
    id: uuid.UUID
    name: str
    currency: str
    audience: Audience
    priority: int
    starts_at: datetime | None
    ends_at: datetime | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PriceList(Model):
    id: uuid.UUID
    name: str
    currency: str
    audience: Audience  # signed_in: only for shoppers who are signed in
    priority: int  # where several lists price a variant, the lowest number wins
    starts_at: datetime | None
    ends_at: datetime | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: PriceListRow) -> "PriceList":
        return cls(**{f: getattr(row, f) for f in cls.__struct_fields__})


class PriceListList(Model):
    items: list[PriceList]


class PriceListCreate(Input):
    name: Name
    currency: CurrencyCode
    audience: Audience = "everyone"
    priority: Priority = 100
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    is_active: bool = True


class PriceListUpdate(Input):
    name: Name | UnsetType = UNSET
    audience: Audience | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    starts_at: datetime | UnsetType | None = UNSET
    ends_at: datetime | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class PriceListEntry(Model):
    variant_id: uuid.UUID
    price_amount: int | None  # a fixed price, or
    discount_ppm: int | None  # a discount off the variant's price


class PriceListEntryInput(Input):
    variant_id: uuid.UUID
    price_amount: Amount | None = None
    discount_ppm: Ppm | None = None


class PriceListEntriesPut(Input):
    entries: Annotated[list[PriceListEntryInput], Meta(min_length=1, max_length=1000)]


class EntriesWritten(Model):
    written: int


class PriceListEntryPage(Model):
    items: list[PriceListEntry]
    next_cursor: str | None


# --- coupons -----------------------------------------------------------------------------------


class Tier(Input):
    threshold_amount: Amount  # the eligible subtotal from which this tier's rate applies
    discount_ppm: Ppm


class CouponRow(Row, frozen=True):
    id: uuid.UUID
    code: str
    name: str
    kind: CouponKind
    automatic: bool
    currency: str | None
    discount_ppm: int
    amount_off: int
    max_discount_amount: int | None
    minimum_subtotal: int
    buy_quantity: int | None
    get_quantity: int | None
    tiers: list[dict[str, int]]
    exclusive_group: str | None
    product_ids: list[uuid.UUID]
    category_ids: list[uuid.UUID]
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    times_used: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class TierOut(Model):
    threshold_amount: int
    discount_ppm: int


class Coupon(Model):
    id: uuid.UUID
    code: str
    name: str
    kind: CouponKind
    automatic: bool  # applies to every qualifying cart without being entered
    currency: str | None
    discount_ppm: int
    amount_off: int
    max_discount_amount: int | None
    minimum_subtotal: int
    buy_quantity: int | None
    get_quantity: int | None
    tiers: list[TierOut]
    exclusive_group: str | None
    product_ids: list[uuid.UUID]
    category_ids: list[uuid.UUID]
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    per_customer_limit: int | None
    times_used: int
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: CouponRow) -> "Coupon":
        values = {f: getattr(row, f) for f in cls.__struct_fields__ if f != "tiers"}
        return cls(
            tiers=[TierOut(threshold_amount=t["threshold"], discount_ppm=t["ppm"]) for t in row.tiers],
            **values,
        )


class CouponPage(Model):
    items: list[Coupon]
    next_cursor: str | None


IdList = Annotated[list[uuid.UUID], Meta(max_length=1000)]


class CouponCreate(Input):
    code: CouponCode
    kind: CouponKind
    name: Annotated[str, Meta(max_length=200)] = ""
    automatic: bool = False
    currency: CurrencyCode | None = None
    discount_ppm: Ppm = 0
    amount_off: Amount = 0
    max_discount_amount: Amount | None = None
    minimum_subtotal: Amount = 0
    buy_quantity: Annotated[int, Meta(ge=1, le=1000)] | None = None
    get_quantity: Annotated[int, Meta(ge=1, le=1000)] | None = None
    tiers: Annotated[list[Tier], Meta(max_length=4)] = msgspec.field(default_factory=list)
    exclusive_group: Annotated[str, Meta(min_length=1, max_length=50)] | None = None
    product_ids: IdList = msgspec.field(default_factory=list)
    category_ids: IdList = msgspec.field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: Annotated[int, Meta(ge=1)] | None = None
    per_customer_limit: Annotated[int, Meta(ge=1)] | None = None
    is_active: bool = True


class CouponUpdate(Input):
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    automatic: bool | UnsetType = UNSET
    currency: CurrencyCode | UnsetType | None = UNSET
    discount_ppm: Ppm | UnsetType = UNSET
    amount_off: Amount | UnsetType = UNSET
    max_discount_amount: Amount | UnsetType | None = UNSET
    minimum_subtotal: Amount | UnsetType = UNSET
    buy_quantity: Annotated[int, Meta(ge=1, le=1000)] | UnsetType | None = UNSET
    get_quantity: Annotated[int, Meta(ge=1, le=1000)] | UnsetType | None = UNSET
    tiers: Annotated[list[Tier], Meta(max_length=4)] | UnsetType = UNSET
    exclusive_group: Annotated[str, Meta(min_length=1, max_length=50)] | UnsetType | None = UNSET
    product_ids: IdList | UnsetType = UNSET
    category_ids: IdList | UnsetType = UNSET
    starts_at: datetime | UnsetType | None = UNSET
    ends_at: datetime | UnsetType | None = UNSET
    usage_limit: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    per_customer_limit: Annotated[int, Meta(ge=1)] | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


# --- what prices a basket ------------------------------------------------------------------------


class Rulebook(Row, frozen=True):
    """Every rule set a cart is priced with besides its variants: cached per worker, dropped by
    any admin write to one of them."""

    tax_rules: list[TaxRuleRow]
    shipping: ShippingRules
    automatic: list[CouponRow]
    has_price_lists: bool  # false: no price-list lookup is needed at all


class BasketLine(msgspec.Struct, frozen=True, kw_only=True):
    variant: SellableVariant
    quantity: int
    list_price: int | None = None  # the price list's fixed price, or
    list_discount_ppm: int | None = None  # its discount off the variant's price


class Destination(msgspec.Struct, frozen=True, kw_only=True):
    country: str
    region: str | None
    postal_code: str | None


class AppliedDiscount(Model):
    coupon_id: uuid.UUID
    code: str
    name: str
    kind: CouponKind
    automatic: bool
    amount: int


class ShippingOption(Model):
    method_id: uuid.UUID
    name: str
    amount: int
    currency: str
    min_delivery_days: int | None
    max_delivery_days: int | None


class PricedLine(msgspec.Struct, frozen=True, kw_only=True):
    unit_price: int
    subtotal: int
    discount: int
    tax: int
    total: int
    tax_rate_ppm: int


class Totals(Model):
    currency: str
    subtotal_amount: int
    discount_amount: int
    shipping_amount: int
    tax_amount: int  # lines and shipping
    shipping_tax_amount: int
    total_amount: int  # what is charged
    prices_include_tax: bool


class PricedBasket(msgspec.Struct, frozen=True, kw_only=True):
    lines: list[PricedLine]
    totals: Totals
    discounts: list[AppliedDiscount]
    shipping_options: list[ShippingOption]
    shipping: ShippingOption | None  # the chosen method, when it can ship this basket
    coupon_problem: str | None  # why an entered coupon does not apply now (a stable code)
    weight_grams: int

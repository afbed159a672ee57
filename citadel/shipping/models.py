"""Shipping zones (countries, optionally some of their regions) and their methods: a base amount,
optionally a per-kilogram amount, and optionally a threshold above which shipping is free."""

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from citadel.kit.money import Amount, CurrencyCode
from citadel.kit.structs import Input, Model, Row
from citadel.tax.models import Country, Region

ZoneName = Annotated[str, Meta(min_length=1, max_length=200)]
Days = Annotated[int, Meta(ge=0, le=365)]
WeightLimit = Annotated[int, Meta(ge=1, le=1_000_000_000)]


class ShippingMethodRow(Row, frozen=True):
    id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    currency: str
    base_amount: int
    per_kg_amount: int
    free_above_amount: int | None
    max_weight_grams: int | None
    min_delivery_days: int | None
    max_delivery_days: int | None
    position: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ShippingZoneRow(Row, frozen=True):
    id: uuid.UUID
    name: str
    countries: list[str]
    regions: list[str]
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ShippingMethod(Model):
    id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    currency: str
    base_amount: int
    per_kg_amount: int  # 0: a flat rate
    free_above_amount: int | None  # merchandise (after discounts) from which it is free
    max_weight_grams: int | None
    min_delivery_days: int | None
    max_delivery_days: int | None
    position: int
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ShippingMethodRow) -> "ShippingMethod":
        return cls(**{f: getattr(row, f) for f in cls.__struct_fields__})


class ShippingZone(Model):
    id: uuid.UUID
    name: str
    countries: list[str]
    regions: list[str]  # empty: the whole of its countries
    priority: int  # an address belongs to the first active zone that covers it, lowest first
    is_active: bool
    methods: list[ShippingMethod]
    created_at: datetime
    updated_at: datetime


class ShippingZoneList(Model):
    items: list[ShippingZone]


class ShippingZoneCreate(Input):
    name: ZoneName
    countries: Annotated[list[Country], Meta(min_length=1, max_length=300)]
    regions: Annotated[list[Region], Meta(max_length=500)] = msgspec.field(default_factory=list)
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] = 100
    is_active: bool = True


class ShippingZoneUpdate(Input):
    name: ZoneName | UnsetType = UNSET
    countries: Annotated[list[Country], Meta(min_length=1, max_length=300)] | UnsetType = UNSET
    regions: Annotated[list[Region], Meta(max_length=500)] | UnsetType = UNSET
    priority: Annotated[int, Meta(ge=0, le=1_000_000)] | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class ShippingMethodCreate(Input):
    name: ZoneName
    currency: CurrencyCode
    base_amount: Amount
    per_kg_amount: Amount = 0
    free_above_amount: Amount | None = None
    max_weight_grams: WeightLimit | None = None
    min_delivery_days: Days | None = None
    max_delivery_days: Days | None = None
    position: Annotated[int, Meta(ge=0, le=1_000_000)] = 0
    is_active: bool = True


class ShippingMethodUpdate(Input):
    name: ZoneName | UnsetType = UNSET
    base_amount: Amount | UnsetType = UNSET
    per_kg_amount: Amount | UnsetType = UNSET
    free_above_amount: Amount | UnsetType | None = UNSET
    max_weight_grams: WeightLimit | UnsetType | None = UNSET
    min_delivery_days: Days | UnsetType | None = UNSET
    max_delivery_days: Days | UnsetType | None = UNSET
    position: Annotated[int, Meta(ge=0, le=1_000_000)] | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class ShippingRules(Row, frozen=True):
    """Every active zone and method: what carts are offered shipping from (cached per worker)."""

    zones: list[ShippingZoneRow]
    methods: list[ShippingMethodRow]

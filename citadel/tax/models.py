"""Tax rules: a rate (parts per million) for a country, optionally narrowed to a region, a postal
prefix and a tax class. Every rule an address and a product match adds its rate."""

import uuid
from datetime import datetime
from typing import Annotated

from msgspec import UNSET, Meta, UnsetType

from citadel.kit.structs import Input, Model, Row

RULEBOOK_TOPIC = "pricing-rules"  # every cached rule set that prices carts

Country = Annotated[str, Meta(pattern=r"^[A-Za-z]{2}$", examples=["US"])]
Region = Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,8}$", description="ISO 3166-2 part after the country")]
PostalPrefix = Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,8}$")]
TaxCategory = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
RatePpm = Annotated[int, Meta(ge=0, le=9_000_000, description="Parts per million: 8.875 % is 88750")]
RuleName = Annotated[str, Meta(min_length=1, max_length=200)]


class TaxRuleRow(Row, frozen=True):
    id: uuid.UUID
    name: str
    country: str
    region: str | None
    postal_prefix: str | None
    tax_category: str | None
    rate_ppm: int
    applies_to_shipping: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class TaxRule(Model):
    id: uuid.UUID
    name: str
    country: str
    region: str | None
    postal_prefix: str | None
    tax_category: str | None  # null: every product
    rate_ppm: int
    applies_to_shipping: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: TaxRuleRow) -> "TaxRule":
        return cls(**{f: getattr(row, f) for f in cls.__struct_fields__})


class TaxRuleList(Model):
    items: list[TaxRule]


class TaxRuleCreate(Input):
    name: RuleName
    country: Country
    rate_ppm: RatePpm
    region: Region | None = None
    postal_prefix: PostalPrefix | None = None
    tax_category: TaxCategory | None = None
    applies_to_shipping: bool = False
    is_active: bool = True


class TaxRuleUpdate(Input):
    name: RuleName | UnsetType = UNSET
    country: Country | UnsetType = UNSET
    rate_ppm: RatePpm | UnsetType = UNSET
    region: Region | UnsetType | None = UNSET
    postal_prefix: PostalPrefix | UnsetType | None = UNSET
    tax_category: TaxCategory | UnsetType | None = UNSET
    applies_to_shipping: bool | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET

"""Carts and their lines, the cart as a shopper sees it, and what shoppers send to change it."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.params import HeaderParameter
from msgspec import UNSET, Meta, UnsetType

from citadel.kit.structs import Input, Model, Row
from citadel.pricing.models import AppliedDiscount, CouponCode, Rulebook, ShippingOption, Totals
from citadel.tax.models import Country

CART_TOKEN_HEADER = "x-cart-token"  # noqa: S105 - a header name
CartToken = Annotated[
    str | None,
    HeaderParameter(
        name=CART_TOKEN_HEADER, max_length=100, description="A guest cart's token", required=False
    ),
]
Text = Annotated[str, Meta(min_length=1, max_length=200)]
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")]


class CartAddress(Input):
    """Where the order goes: it decides tax and the shipping methods offered."""

    full_name: Text
    line1: Text
    city: Text
    country: Country
    line2: Text | None = None
    company: Text | None = None
    region: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,8}$")] | None = None
    postal_code: Annotated[str, Meta(min_length=1, max_length=20)] | None = None
    phone: Annotated[str, Meta(max_length=32)] | None = None


class CartRow(Row, frozen=True):
    id: uuid.UUID
    user_id: uuid.UUID | None
    status: Literal["active", "merged", "converted"]
    currency: str | None
    coupon_code: str | None
    email: str | None
    shipping_address: dict[str, str | None] | None
    shipping_method_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None


class CartLineRow(Row, frozen=True):
    variant_id: uuid.UUID
    quantity: int
    seen_unit_amount: int
    added_at: datetime


NoticeCode = Literal[
    "price_changed",  # the unit price is not the one the shopper last saw
    "insufficient_stock",  # fewer units are available than the line asks for
    "unavailable",  # the product is no longer sold: the line is left out of the totals
    "coupon_not_applied",  # the entered coupon does not apply now (``reason`` says why)
]


class Notice(Model, omit_defaults=True):
    code: NoticeCode
    message: str
    variant_id: uuid.UUID | None = None
    previous_amount: int | None = None
    current_amount: int | None = None
    available: int | None = None
    reason: str | None = None


class CartLine(Model):
    variant_id: uuid.UUID
    product_id: uuid.UUID
    product_slug: str
    sku: str
    name: str
    image_url: str | None
    quantity: int
    available: int
    sellable: bool
    unit_price_amount: int
    subtotal_amount: int
    discount_amount: int
    tax_amount: int
    total_amount: int
    tax_rate_ppm: int


class Cart(Model):
    id: uuid.UUID
    token: str | None  # only in the answer that created a guest cart: send it as X-Cart-Token
    currency: str | None
    lines: list[CartLine]
    coupon_code: str | None
    discounts: list[AppliedDiscount]
    email: str | None
    shipping_address: CartAddress | None
    shipping_options: list[ShippingOption]
    shipping_method_id: uuid.UUID | None  # the chosen method, or the cheapest when none is
    totals: Totals
    notices: list[Notice]
    weight_grams: int
    updated_at: datetime


Quantity = Annotated[int, Meta(ge=1, le=1_000_000)]


class LineAdd(Input):
    variant_id: uuid.UUID
    quantity: Quantity = 1


class LineUpdate(Input):
    quantity: Annotated[int, Meta(ge=0, le=1_000_000)]  # 0 removes the line


class CouponApply(Input):
    code: CouponCode


class CartDetails(Input):
    """Any of: the contact e-mail, the shipping address (or a saved one), the shipping method."""

    email: Email | UnsetType | None = UNSET
    shipping_address: CartAddress | UnsetType | None = UNSET
    address_id: uuid.UUID | UnsetType = UNSET  # one of the signed-in user's saved addresses
    shipping_method_id: uuid.UUID | UnsetType | None = UNSET


class CartContext(msgspec.Struct, frozen=True, kw_only=True):
    """What pricing a cart needs besides the cart: the cached rules and the store's settings."""

    rulebook: Rulebook
    prices_include_tax: bool
    policy: int
    max_lines: int
    max_quantity: int
    guest_ttl_days: int

"""Changing a cart: its lines (capped by stock and bounds), its coupon, and its details."""

import uuid
from datetime import UTC, datetime

import msgspec

from citadel.auth.models import Principal
from citadel.cart.models import (
    Cart,
    CartAddress,
    CartContext,
    CartDetails,
    CartLineRow,
    CartRow,
    LineAdd,
    LineUpdate,
)
from citadel.cart.service.reads import find, priced, stored_address, to_view, view
from citadel.catalog import service as catalog
from citadel.catalog.models import SellableVariant
from citadel.inventory import service as inventory
from citadel.inventory.models import Shortage
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.pricing import service as pricing
from citadel.pricing.models import BasketLine
from citadel.users import service as users

Q = load_queries(__file__)


class CartLineNotFound(NotFound):
    code = "cart_line_not_found"
    title = "The cart has no line for this variant"


class VariantUnavailable(Conflict):
    code = "variant_unavailable"
    title = "This item is not for sale"


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"
    title = "A cart holds one currency"


class CartFull(ValidationFailed):
    code = "cart_full"
    title = "The cart holds as many lines as it can"


class QuantityTooLarge(ValidationFailed):
    code = "quantity_too_large"
    title = "More units than one line takes"


class ShippingMethodUnavailable(ValidationFailed):
    code = "shipping_method_unavailable"
    title = "This shipping method cannot ship this cart"


# --- changing lines ------------------------------------------------------------------------------


async def _unit_price(
    conn: Connection, ctx: CartContext, shopper: Principal | None, variant: SellableVariant
) -> int:
    terms = (
        await pricing.price_terms(conn, [variant.variant_id], variant.currency, signed_in=shopper is not None)
        if ctx.rulebook.has_price_lists
        else {}
    )
    price, discount = terms.get(variant.variant_id, (None, None))
    line = BasketLine(variant=variant, quantity=1, list_price=price, list_discount_ppm=discount)
    basket = pricing.price_basket(
        [line], currency=variant.currency, rulebook=ctx.rulebook, coupon=None, coupon_problem=None,
        destination=None, shipping_method_id=None, prices_include_tax=ctx.prices_include_tax,
        policy=ctx.policy, now=datetime.now(UTC),
    )  # fmt: skip
    return basket.lines[0].unit_price


async def _set_quantity(
    conn: Connection,
    ctx: CartContext,
    cart: CartRow,
    shopper: Principal | None,
    variant_id: uuid.UUID,
    quantity: int,
    *,
    add: bool,
) -> CartRow:
    variant = (await catalog.sellable_variants(conn, [variant_id])).get(variant_id)
    if variant is None:
        raise catalog.VariantNotFound(
            errors=[FieldError(field="variantId", message="No such variant", code="variant_not_found")]
        )
    if not variant.sellable:
        raise VariantUnavailable(
            errors=[FieldError(field="variantId", message="Not for sale", code="variant_unavailable")]
        )
    if cart.currency is not None and variant.currency != cart.currency:
        raise CurrencyMismatch(
            f"This cart is in {cart.currency}; this item sells in {variant.currency}.",
            errors=[
                FieldError(field="variantId", message=f"Sold in {variant.currency}", code="currency_mismatch")
            ],
        )
    lines = {
        line.variant_id: line for line in from_rows(CartLineRow, await conn.fetch(Q.cart_lines, cart.id))
    }
    existing = lines.get(variant_id)
    if existing is None and len(lines) >= ctx.max_lines:
        raise CartFull(f"A cart holds at most {ctx.max_lines} lines.")
    wanted = quantity + (existing.quantity if existing and add else 0)
    if wanted > ctx.max_quantity:
        raise QuantityTooLarge(
            f"One line takes at most {ctx.max_quantity} units.",
            errors=[
                FieldError(field="quantity", message=f"At most {ctx.max_quantity}", code="quantity_too_large")
            ],
        )
    offered = (await inventory.available(conn, [variant_id]))[variant_id]
    if wanted > offered:
        raise inventory.InsufficientStock(
            [Shortage(variant_id=variant_id, requested=wanted, available=max(0, offered))]
        )
    unit = await _unit_price(conn, ctx, shopper, variant)
    await conn.execute(Q.upsert_line, cart.id, variant_id, wanted, unit, True)
    return from_row(CartRow, await conn.fetchrow(Q.touch_cart, cart.id, variant.currency, ctx.guest_ttl_days))


async def add_line(
    conn: Connection, ctx: CartContext, shopper: Principal | None, token: str | None, data: LineAdd
) -> Cart:
    cart = await find(conn, shopper, token, lock=True)
    cart = await _set_quantity(conn, ctx, cart, shopper, data.variant_id, data.quantity, add=True)
    return await view(conn, ctx, cart, shopper)


async def update_line(
    conn: Connection,
    ctx: CartContext,
    shopper: Principal | None,
    token: str | None,
    variant_id: uuid.UUID,
    data: LineUpdate,
) -> Cart:
    cart = await find(conn, shopper, token, lock=True)
    if data.quantity == 0:
        return await remove_line(conn, ctx, shopper, token, variant_id, cart=cart)
    if not any(line["variant_id"] == variant_id for line in await conn.fetch(Q.cart_lines, cart.id)):
        raise CartLineNotFound()
    cart = await _set_quantity(conn, ctx, cart, shopper, variant_id, data.quantity, add=False)
    return await view(conn, ctx, cart, shopper)


async def remove_line(
    conn: Connection,
    ctx: CartContext,
    shopper: Principal | None,
    token: str | None,
    variant_id: uuid.UUID,
    *,
    cart: CartRow | None = None,
) -> Cart:
    cart = cart or await find(conn, shopper, token, lock=True)
    if await conn.fetchval(Q.delete_line, cart.id, variant_id) is None:
        raise CartLineNotFound()
    cart = from_row(CartRow, await conn.fetchrow(Q.touch_cart, cart.id, cart.currency, ctx.guest_ttl_days))
    return await view(conn, ctx, cart, shopper)


# --- coupon and details --------------------------------------------------------------------------


async def apply_coupon(
    conn: Connection, ctx: CartContext, shopper: Principal | None, token: str | None, code: str
) -> Cart:
    """Enter a coupon code; one that cannot be used now is refused with the reason as its code."""
    cart = await find(conn, shopper, token, lock=True)
    coupon = await pricing.coupon_by_code(conn, code)
    if coupon is None:
        raise pricing.CouponNotApplicable("coupon_not_found")
    if coupon.automatic:
        raise pricing.CouponNotApplicable("coupon_automatic")
    trial = msgspec.structs.replace(cart, coupon_code=coupon.code)
    result = await priced(conn, ctx, trial, shopper)
    if result.priced.coupon_problem:
        raise pricing.CouponNotApplicable(result.priced.coupon_problem)
    await conn.execute(Q.set_coupon, cart.id, coupon.code)
    return to_view(result)


async def remove_coupon(
    conn: Connection, ctx: CartContext, shopper: Principal | None, token: str | None
) -> Cart:
    cart = await find(conn, shopper, token, lock=True)
    await conn.execute(Q.set_coupon, cart.id, None)
    return await view(conn, ctx, msgspec.structs.replace(cart, coupon_code=None), shopper)


async def update_details(
    conn: Connection, ctx: CartContext, shopper: Principal | None, token: str | None, data: CartDetails
) -> Cart:
    cart = await find(conn, shopper, token, lock=True)
    email = (
        cart.email
        if data.email is msgspec.UNSET
        else (users.normalize_email(data.email) if data.email else None)
    )
    address = cart.shipping_address
    if data.address_id is not msgspec.UNSET:
        if shopper is None:
            raise ValidationFailed(
                "Guests send the address itself.",
                errors=[
                    FieldError(
                        field="addressId", message="Sign in to use saved addresses", code="not_allowed"
                    )
                ],
            )
        saved = await users.get_address(conn, shopper.user_id, data.address_id)
        address = stored_address(
            CartAddress(
                full_name=saved.full_name, line1=saved.line1, city=saved.city, country=saved.country,
                line2=saved.line2, company=saved.company, region=saved.region,
                postal_code=saved.postal_code, phone=saved.phone,
            )
        )  # fmt: skip
    elif data.shipping_address is not msgspec.UNSET:
        address = stored_address(data.shipping_address) if data.shipping_address else None
    method = cart.shipping_method_id if data.shipping_method_id is msgspec.UNSET else data.shipping_method_id
    updated = msgspec.structs.replace(cart, email=email, shipping_address=address, shipping_method_id=method)
    result = await priced(conn, ctx, updated, shopper)
    if method is not None and not any(o.method_id == method for o in result.priced.shipping_options):
        if data.shipping_method_id is not msgspec.UNSET:
            raise ShippingMethodUnavailable(
                errors=[
                    FieldError(
                        field="shippingMethodId",
                        message="Not offered for this cart",
                        code="shipping_method_unavailable",
                    )
                ]
            )
        updated = msgspec.structs.replace(updated, shipping_method_id=None)  # the new address cannot use it
        result = await priced(conn, ctx, updated, shopper)
    await conn.execute(Q.set_details, cart.id, email, address, updated.shipping_method_id)
    return to_view(result)


async def purge_expired(conn: Connection) -> None:
    await conn.execute(Q.purge_expired_guest_carts)

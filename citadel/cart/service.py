"""Carts: found by user or guest token, changed line by line, priced by the server on every read.

A signed-in user has one active cart; a guest's cart is found by the hash of its token (sent as
``X-Cart-Token``) and expires after ``CITADEL_GUEST_CART_TTL_DAYS`` untouched. Signing in with a
guest token merges the guest cart into the user's (quantities add up, capped). Prices are never
taken from the client: every read re-prices the lines (``priced``) with the current catalog,
price lists, coupons, tax rules and shipping methods, and points out what changed since the
shopper last saw it. A line's quantity is capped by what the variant offers when it is set;
stock that ran out afterwards is pointed out, and checkout refuses it.
"""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime

import msgspec

from citadel._fast.common import ROUNDING_POLICIES
from citadel.auth.models import Principal
from citadel.cart.models import (
    Cart,
    CartAddress,
    CartContext,
    CartDetails,
    CartLine,
    CartLineRow,
    CartRow,
    LineAdd,
    LineUpdate,
    Notice,
)
from citadel.catalog import service as catalog
from citadel.catalog.models import SellableVariant
from citadel.inventory import service as inventory
from citadel.inventory.models import Shortage
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.runtime import Runtime
from citadel.pricing import service as pricing
from citadel.pricing.models import BasketLine, CouponRow, Destination, PricedBasket, Rulebook
from citadel.tax import service as tax
from citadel.tax.models import RULEBOOK_TOPIC
from citadel.users import service as users

Q = load_queries(__file__)


class CartNotFound(NotFound):
    code = "cart_not_found"
    title = "Cart not found"


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


class PricedCart(msgspec.Struct, frozen=True, kw_only=True):
    """A cart with everything a read or a checkout learned about it."""

    cart: CartRow
    lines: list[CartLineRow]
    variants: dict[uuid.UUID, SellableVariant]
    basket: list[BasketLine]  # the sellable lines, priced below in this order
    available: dict[uuid.UUID, int]
    coupon: CouponRow | None
    priced: PricedBasket
    notices: list[Notice]


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# --- finding carts -------------------------------------------------------------------------------


async def find(
    conn: Connection, shopper: Principal | None, token: str | None, *, lock: bool = False
) -> CartRow:
    """The shopper's active cart: the user's (made when missing), or the guest's by token."""
    if shopper is not None:
        row = await conn.fetchrow(Q.user_cart_for_update if lock else Q.user_cart, shopper.user_id)
        if row is None:
            await conn.execute(Q.insert_user_cart, uuid7(), shopper.user_id)
            row = await conn.fetchrow(Q.user_cart_for_update if lock else Q.user_cart, shopper.user_id)
        return from_row(CartRow, row)
    if not token:
        raise CartNotFound("Create a cart first (POST /api/v1/cart) and send its token as X-Cart-Token.")
    row = await conn.fetchrow(Q.guest_cart_for_update if lock else Q.guest_cart, hash_token(token))
    if row is None:
        raise CartNotFound("No active cart has this token; it may have expired or been checked out.")
    return from_row(CartRow, row)


async def create(conn: Connection, ctx: CartContext, shopper: Principal | None) -> Cart:
    """A new guest cart with its token (shown once), or the signed-in user's cart."""
    if shopper is not None:
        cart = await find(conn, shopper, None)
        return await view(conn, ctx, cart, shopper)
    token = secrets.token_urlsafe(32)
    row = await conn.fetchrow(Q.insert_guest_cart, uuid7(), hash_token(token), ctx.guest_ttl_days)
    cart_view = await view(conn, ctx, from_row(CartRow, row), None)
    return msgspec.structs.replace(cart_view, token=token)


async def merge_guest_cart(conn: Connection, user_id: uuid.UUID, token: str, max_quantity: int) -> bool:
    """Move a guest cart into the user's active cart; False when the token finds no cart."""
    guest = await conn.fetchrow(Q.guest_cart, hash_token(token))
    if guest is None:
        return False
    await conn.execute(Q.insert_user_cart, uuid7(), user_id)
    mine = from_row(CartRow, await conn.fetchrow(Q.user_cart, user_id))
    await conn.fetch(Q.lock_carts, [guest["id"], mine.id])
    if mine.currency is not None and guest["currency"] not in (None, mine.currency):
        return False  # carts of two currencies do not mix: the guest cart stays as it is
    await conn.execute(Q.merge_lines, guest["id"], mine.id, max_quantity)
    await conn.execute(Q.merge_details, guest["id"], mine.id)
    return True


# --- pricing ---------------------------------------------------------------------------------------


def _stored_address(address: CartAddress) -> dict[str, str | None]:
    """The address as the cart keeps it (its wire form), with its places normalized."""
    country = tax.country_code(address.country, "shippingAddress.country")
    region = address.region.upper() if address.region else None
    stored: dict[str, str | None] = msgspec.to_builtins(
        msgspec.structs.replace(address, country=country, region=region)
    )
    return stored


def _destination(cart: CartRow) -> Destination | None:
    address = cart.shipping_address
    if not address or not address.get("country"):
        return None
    return Destination(
        country=str(address["country"]),
        region=address.get("region"),
        postal_code=tax.postal_key(address.get("postalCode")) or None,
    )


async def priced(conn: Connection, ctx: CartContext, cart: CartRow, shopper: Principal | None) -> PricedCart:
    """Fetch everything the cart's lines and rules need, then price it in one calculation."""
    lines = from_rows(CartLineRow, await conn.fetch(Q.cart_lines, cart.id))
    ids = [line.variant_id for line in lines]
    variants = await catalog.sellable_variants(conn, ids) if ids else {}
    available = await inventory.available(conn, ids) if ids else {}
    currency = cart.currency
    if currency is None and variants:
        currency = next(iter(variants.values())).currency
    terms = (
        await pricing.price_terms(conn, ids, currency, signed_in=shopper is not None)
        if ids and currency and ctx.rulebook.has_price_lists
        else {}
    )
    notices: list[Notice] = []
    basket: list[BasketLine] = []
    for line in lines:
        variant = variants.get(line.variant_id)
        if variant is None or not variant.sellable or variant.currency != currency:
            notices.append(
                Notice(code="unavailable", variant_id=line.variant_id, message="This item is no longer sold.")
            )
            continue
        price, discount = terms.get(line.variant_id, (None, None))
        basket.append(
            BasketLine(variant=variant, quantity=line.quantity, list_price=price, list_discount_ppm=discount)
        )
    coupon, problem = await _entered_coupon(conn, cart, shopper)
    result = pricing.price_basket(
        basket,
        currency=currency or "",
        rulebook=ctx.rulebook,
        coupon=coupon,
        coupon_problem=problem,
        destination=_destination(cart),
        shipping_method_id=cart.shipping_method_id,
        prices_include_tax=ctx.prices_include_tax,
        policy=ctx.policy,
        now=datetime.now(UTC),
    )
    seen = {line.variant_id: line for line in lines}
    for item, priced_line in zip(basket, result.lines, strict=True):
        variant_id = item.variant.variant_id
        if priced_line.unit_price != seen[variant_id].seen_unit_amount:
            notices.append(
                Notice(
                    code="price_changed",
                    variant_id=variant_id,
                    previous_amount=seen[variant_id].seen_unit_amount,
                    current_amount=priced_line.unit_price,
                    message="The price changed since this item was added.",
                )
            )
        if available.get(variant_id, 0) < item.quantity:
            notices.append(
                Notice(
                    code="insufficient_stock",
                    variant_id=variant_id,
                    available=max(0, available.get(variant_id, 0)),
                    message="Fewer units are available than this line asks for.",
                )
            )
    if cart.coupon_code and result.coupon_problem:
        notices.append(
            Notice(
                code="coupon_not_applied", reason=result.coupon_problem,
                message=pricing.PROBLEMS.get(result.coupon_problem, "This coupon does not apply."),
            )
        )  # fmt: skip
    return PricedCart(
        cart=cart, lines=lines, variants=variants, basket=basket, available=available, coupon=coupon,
        priced=result, notices=notices,
    )  # fmt: skip


async def _entered_coupon(
    conn: Connection, cart: CartRow, shopper: Principal | None
) -> tuple[CouponRow | None, str | None]:
    if not cart.coupon_code:
        return None, None
    coupon = await pricing.coupon_by_code(conn, cart.coupon_code)
    if coupon is None:
        return None, "coupon_not_found"
    customer = pricing.customer_key(shopper.user_id if shopper else None, cart.email)
    if (
        coupon.per_customer_limit is not None
        and await pricing.customer_uses(conn, coupon, customer) >= coupon.per_customer_limit
    ):
        return coupon, "coupon_limit_reached"
    return coupon, None


def to_view(p: PricedCart, token: str | None = None) -> Cart:
    by_variant = {
        item.variant.variant_id: (item, line) for item, line in zip(p.basket, p.priced.lines, strict=True)
    }
    lines: list[CartLine] = []
    for row in p.lines:
        variant = p.variants.get(row.variant_id)
        found = by_variant.get(row.variant_id)
        if variant is None:
            continue  # deleted from the catalog: only its notice remains
        priced_line = found[1] if found else None
        lines.append(
            CartLine(
                variant_id=row.variant_id, product_id=variant.product_id, product_slug=variant.product_slug,
                sku=variant.sku, name=variant.name, image_url=variant.image_url, quantity=row.quantity,
                available=max(0, p.available.get(row.variant_id, 0)), sellable=found is not None,
                unit_price_amount=priced_line.unit_price if priced_line else row.seen_unit_amount,
                subtotal_amount=priced_line.subtotal if priced_line else 0,
                discount_amount=priced_line.discount if priced_line else 0,
                tax_amount=priced_line.tax if priced_line else 0,
                total_amount=priced_line.total if priced_line else 0,
                tax_rate_ppm=priced_line.tax_rate_ppm if priced_line else 0,
            )
        )  # fmt: skip
    address = p.cart.shipping_address
    return Cart(
        id=p.cart.id, token=token, currency=p.cart.currency, lines=lines, coupon_code=p.cart.coupon_code,
        discounts=p.priced.discounts, email=p.cart.email,
        shipping_address=msgspec.convert(address, CartAddress) if address else None,
        shipping_options=p.priced.shipping_options,
        shipping_method_id=p.priced.shipping.method_id if p.priced.shipping else None,
        totals=p.priced.totals, notices=p.notices, weight_grams=p.priced.weight_grams,
        updated_at=p.cart.updated_at,
    )  # fmt: skip


async def view(conn: Connection, ctx: CartContext, cart: CartRow, shopper: Principal | None) -> Cart:
    return to_view(await priced(conn, ctx, cart, shopper))


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
        address = _stored_address(
            CartAddress(
                full_name=saved.full_name, line1=saved.line1, city=saved.city, country=saved.country,
                line2=saved.line2, company=saved.company, region=saved.region,
                postal_code=saved.postal_code, phone=saved.phone,
            )
        )  # fmt: skip
    elif data.shipping_address is not msgspec.UNSET:
        address = _stored_address(data.shipping_address) if data.shipping_address else None
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


async def mark_converted(conn: Connection, cart_id: uuid.UUID) -> None:
    await conn.execute(Q.mark_converted, cart_id)


async def purge_expired(conn: Connection) -> None:
    await conn.execute(Q.purge_expired_guest_carts)


async def cart_context(runtime: Runtime, conn: Connection) -> CartContext:
    """The cached rulebook and the store's settings, as every cart read needs them."""

    async def load(_: str) -> Rulebook:
        return await pricing.load_rulebook(conn)

    settings = runtime.settings
    return CartContext(
        rulebook=await runtime.local_cache(RULEBOOK_TOPIC, max_entries=1).get("all", load),
        prices_include_tax=settings.prices_include_tax,
        policy=ROUNDING_POLICIES[settings.rounding_policy],
        max_lines=settings.cart_max_lines,
        max_quantity=settings.cart_max_quantity,
        guest_ttl_days=settings.guest_cart_ttl_days,
    )

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
    CartLine,
    CartLineRow,
    CartRow,
    Notice,
)
from citadel.catalog import service as catalog
from citadel.catalog.models import SellableVariant
from citadel.inventory import service as inventory
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import NotFound
from citadel.kit.ids import uuid7
from citadel.kit.runtime import Runtime
from citadel.pricing import service as pricing
from citadel.pricing.models import BasketLine, CouponRow, Destination, PricedBasket, Rulebook
from citadel.tax import service as tax
from citadel.tax.models import RULEBOOK_TOPIC

Q = load_queries(__file__)


class CartNotFound(NotFound):
    code = "cart_not_found"
    title = "Cart not found"


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


def stored_address(address: CartAddress) -> dict[str, str | None]:
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
    return await price(conn, ctx, cart, shopper, lines, variants, available)


async def price(
    conn: Connection,
    ctx: CartContext,
    cart: CartRow,
    shopper: Principal | None,
    lines: list[CartLineRow],
    variants: dict[uuid.UUID, SellableVariant],
    available: dict[uuid.UUID, int] | None,
) -> PricedCart:
    """Price the cart's ``lines`` (in their order) with their ``variants`` already read: the rules
    they need beyond those (price lists, the entered coupon) are read here. With ``available``
    None (checkout, whose holds check stock as they are taken) no stock notice is made."""
    ids = [line.variant_id for line in lines]
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
        if available is not None and available.get(variant_id, 0) < item.quantity:
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
        cart=cart, lines=lines, variants=variants, basket=basket, available=available or {}, coupon=coupon,
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


async def cart_context(runtime: Runtime, conn: Connection | None = None) -> CartContext:
    """The cached rulebook and the store's settings, as every cart read needs them. The rulebook
    is read on ``conn`` when it is not cached, or without one on a pooled connection of its own
    (none is taken while it is cached: checkout's case)."""

    async def load(_: str) -> Rulebook:
        if conn is not None:
            return await pricing.load_rulebook(conn)
        async with runtime.db.connection() as own:
            return await pricing.load_rulebook(own)

    settings = runtime.settings
    return CartContext(
        rulebook=await runtime.local_cache(RULEBOOK_TOPIC, max_entries=1).get("all", load),
        prices_include_tax=settings.prices_include_tax,
        policy=ROUNDING_POLICIES[settings.rounding_policy],
        max_lines=settings.cart_max_lines,
        max_quantity=settings.cart_max_quantity,
        guest_ttl_days=settings.guest_cart_ttl_days,
    )

"""Checkout: validate and re-price the cart, then write the order, its payment, its events and its
stock holds in one transaction, under the request's idempotency key.

Inside the transaction, in this order: the idempotency key is claimed (a replay or a 409 ends
here); the cart is locked and priced exactly as a cart read prices it; what the shopper must
fix is refused (nothing sellable, unavailable items, no address or shipping, no e-mail, a total
other than ``expectedTotal``); coupon uses are taken; the order with its lines and one
fulfilment per vendor, the payment, the cart's conversion, the outbox events
(``orders.placed``, ``payments.pending``, ``inventory.reserved``) and the stored answer are
written; last, stock is held across warehouses, so the stock rows' locks are held for the
shortest time. A lost serialization or deadlock race reruns the whole transaction, up to
``CITADEL_CHECKOUT_RETRIES`` times.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from citadel.auth.models import Principal
from citadel.cart import service as carts
from citadel.cart.models import CartContext
from citadel.checkout.models import CheckoutInput
from citadel.inventory import service as inventory
from citadel.inventory.models import HoldRequest, StockLine, StockReserved
from citadel.kit import idempotency
from citadel.kit.db import Connection, Database
from citadel.kit.errors import Conflict, FieldError, ValidationFailed
from citadel.kit.events import emit_many
from citadel.kit.ids import uuid7
from citadel.kit.money import format_amount
from citadel.orders import service as orders
from citadel.orders.models import LineDraft, OrderDraft, OrderPlaced, PlacedLine
from citadel.payments import service as payments
from citadel.pricing import service as pricing
from citadel.settings import Settings
from citadel.users import service as users

ROUTE = "checkout"
_encoder = msgspec.json.Encoder()


class PriceChanged(Conflict):
    code = "price_changed"
    title = "The total changed"


class CartEmpty(ValidationFailed):
    code = "cart_empty"
    title = "The cart is empty"


class CartHasUnavailableItems(Conflict):
    code = "cart_has_unavailable_items"
    title = "Some items are no longer sold"


class ShippingAddressRequired(ValidationFailed):
    code = "shipping_address_required"
    title = "A shipping address is needed"


class ShippingNotAvailable(ValidationFailed):
    code = "shipping_not_available"
    title = "Nothing ships this cart to this address"


class EmailRequired(ValidationFailed):
    code = "email_required"
    title = "An e-mail address is needed"


class Answer(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes
    replayed: bool
    # of an order placed by this call (not a replay): what the metrics count
    currency: str | None = None
    total_amount: int = 0


def _scope(shopper: Principal | None, token: str | None) -> str:
    if shopper is not None:
        return f"user:{shopper.user_id}"
    return "cart:" + hashlib.sha256((token or "").encode()).hexdigest()


async def checkout(
    db: Database,
    settings: Settings,
    ctx: CartContext,
    shopper: Principal | None,
    token: str | None,
    key: str | None,
    data: CheckoutInput,
) -> Answer:
    key = idempotency.check_key(key)
    details = payments.prepare(data.payment)  # a bad card number is refused before any query
    scope = _scope(shopper, token)
    print_ = idempotency.fingerprint(_encoder.encode(data))
    for attempt in range(1, settings.checkout_retries + 1):
        try:
            async with db.transaction(generic_plans=True) as conn:
                stored = await idempotency.claim(conn, scope, ROUTE, key, print_, settings.idempotency_ttl_h)
                if stored is not None:
                    return Answer(stored.status_code, stored.body, True)
                body, draft = await _place(conn, settings, ctx, shopper, token, data, details)
                await idempotency.record(conn, scope, ROUTE, key, print_, 201, body)
            return Answer(201, body, False, draft.currency, draft.total)
        except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
            if attempt == settings.checkout_retries:
                raise
    raise AssertionError("unreachable")


def _refuse_what_needs_fixing(p: carts.PricedCart, data: CheckoutInput) -> None:
    if not p.lines:
        raise CartEmpty("Add items to the cart first.")
    unavailable = [n for n in p.notices if n.code == "unavailable"]
    if unavailable:
        raise CartHasUnavailableItems(
            "Remove the items that are no longer sold.",
            errors=[
                FieldError(field=f"lines[{n.variant_id}]", message=n.message, code="unavailable")
                for n in unavailable
            ],
        )
    if p.cart.shipping_address is None:
        raise ShippingAddressRequired(
            "Set the cart's shipping address first.",
            errors=[FieldError(field="shippingAddress", message="Required", code="required")],
        )
    if p.priced.shipping is None:
        raise ShippingNotAvailable("No shipping method ships this cart to its address.")
    totals = p.priced.totals
    if data.expected_total != totals.total_amount or (data.currency and data.currency != totals.currency):
        shown = format_amount(totals.total_amount, totals.currency)
        raise PriceChanged(
            f"The total is now {shown}; review the cart and confirm the new total.",
            errors=[
                FieldError(
                    field="expectedTotal",
                    message=f"Now {totals.total_amount} {totals.currency}",
                    code="price_changed",
                )
            ],
        )


async def _email(
    conn: Connection, shopper: Principal | None, cart_email: str | None, given: str | None
) -> str:
    if given:
        return users.normalize_email(given)
    if cart_email:
        return cart_email
    if shopper is not None:
        return (await users.get_user(conn, shopper.user_id)).email
    raise EmailRequired(
        "Guests give an e-mail address for the order.",
        errors=[FieldError(field="email", message="Required", code="required")],
    )


async def _place(
    conn: Connection,
    settings: Settings,
    ctx: CartContext,
    shopper: Principal | None,
    token: str | None,
    data: CheckoutInput,
    details: dict[str, str],
) -> tuple[bytes, OrderDraft]:
    cart = await carts.find(conn, shopper, token, lock=True)
    p = await carts.priced(conn, ctx, cart, shopper, stock=False)  # the holds check stock, locked
    _refuse_what_needs_fixing(p, data)
    email = await _email(conn, shopper, cart.email, data.email)
    order_id = uuid7()
    customer = pricing.customer_key(shopper.user_id if shopper else None, email) or email
    for applied in p.priced.discounts:
        coupon = p.coupon if p.coupon and p.coupon.id == applied.coupon_id else None
        coupon = coupon or next(c for c in ctx.rulebook.automatic if c.id == applied.coupon_id)
        if not coupon.automatic or coupon.usage_limit is not None or coupon.per_customer_limit is not None:
            await pricing.redeem(conn, coupon, order_id, customer)
    now = datetime.now(UTC)
    provider = payments.provider(data.payment.provider)
    totals = p.priced.totals
    lines = [
        LineDraft(
            id=uuid7(), product_id=b.variant.product_id, variant_id=b.variant.variant_id,
            vendor_id=b.variant.vendor_id, sku=b.variant.sku, name=b.variant.name, quantity=b.quantity,
            unit_price=priced.unit_price, subtotal=priced.subtotal, discount=priced.discount, tax=priced.tax,
            total=priced.total, tax_rate_ppm=priced.tax_rate_ppm,
        )
        for b, priced in zip(p.basket, p.priced.lines, strict=True)
    ]  # fmt: skip
    shipping = p.priced.shipping
    coupon_used = p.coupon is not None and any(d.coupon_id == p.coupon.id for d in p.priced.discounts)
    pay_by = now + timedelta(seconds=provider.hold_seconds(settings))
    draft = OrderDraft(
        id=order_id, user_id=shopper.user_id if shopper else None, email=email, cart_id=cart.id,
        currency=totals.currency, subtotal=totals.subtotal_amount, discount=totals.discount_amount,
        tax=totals.tax_amount, shipping=totals.shipping_amount, shipping_tax=totals.shipping_tax_amount,
        total=totals.total_amount, prices_include_tax=totals.prices_include_tax,
        coupon_code=cart.coupon_code if coupon_used else None,
        shipping_method_id=shipping.method_id if shipping else None,
        shipping_method_name=shipping.name if shipping else None, shipping_address=cart.shipping_address,
        payment_provider=provider.name, holds_expire_at=pay_by,
        placed_at=now, lines=lines,
    )  # fmt: skip
    number = await orders.insert(conn, draft)
    payment = await payments.create(
        conn, order_id, provider.name, totals.total_amount, totals.currency, details
    )
    await carts.mark_converted(conn, cart.id)
    stock_lines = [
        StockLine(variant_id=x.variant_id, product_id=x.product_id, quantity=x.quantity) for x in lines
    ]
    placed = OrderPlaced(
        order_id=order_id, number=number, user_id=draft.user_id, email=email, currency=draft.currency,
        total_amount=draft.total, payment_provider=provider.name,
        lines=[
            PlacedLine(
                line_id=x.id, variant_id=x.variant_id, product_id=x.product_id, vendor_id=x.vendor_id,
                quantity=x.quantity, total_amount=x.total,
            )
            for x in lines
        ],
    )  # fmt: skip
    await emit_many(
        conn,
        [
            (placed, order_id),
            (StockReserved(order_id=order_id, lines=stock_lines), order_id),
            (payments.pending_event(payment), payment.id),
        ],
    )
    body = _encoder.encode(orders.placed_view(draft, number, payment))
    await inventory.reserve(
        conn,
        order_id,
        [HoldRequest(line_id=x.id, variant_id=x.variant_id, quantity=x.quantity) for x in lines],
        draft.holds_expire_at,
    )
    return body, draft

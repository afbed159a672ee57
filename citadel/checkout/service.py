"""Checkout: validate and re-price the cart, then write the order, its payment, its events and its
stock holds in one transaction, under the request's idempotency key.

Inside the transaction, in this order: the idempotency key is claimed (a replay or a 409 ends
here); the cart is locked, and its lines are read with their variants, their stock rows and the
order's number in one statement; the cart is priced exactly as a cart read prices it; what the
shopper must fix is refused (nothing sellable, unavailable items, no address or shipping, no
e-mail, a total other than ``expectedTotal``); coupon uses are taken; the allocation kernel plans
where each line is held; one statement (``place_order``) writes the order with its lines, history
and one fulfilment per vendor, the payment, the cart's conversion, the outbox events
(``orders.placed``, ``inventory.reserved``, ``payments.pending``), the stock holds with their
ledger rows, and the stored answer; last, the held units are taken on the stock rows in the
message that commits (``inventory.reserve_at_commit``: the function ``reserve_placed_holds()``
and COMMIT sent together), so that those rows are locked for that update and the commit's flush
only, not for a round trip to the API: a checkout of a hot SKU waits for no more than that. Six
round trips, BEGIN and COMMIT included, where each domain writing its own rows took fourteen.

The plan is made from stock rows read without their locks, and holds only where it leaves a row
above zero and above its low-stock threshold (nothing to announce). When a row no longer allows
its part, the commit is refused (SQLSTATE CB409) and rolled back, and the transaction runs once
more with the rows locked before planning, takes the units with ``inventory.reserve`` and
announces what the holds change. A lost serialization or deadlock race reruns the whole
transaction, up to ``CITADEL_CHECKOUT_RETRIES`` times.
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from citadel.auth.models import Principal
from citadel.cart import service as carts
from citadel.cart.models import CartContext, CartLineRow
from citadel.catalog.models import SellableVariant
from citadel.checkout.models import CheckoutInput
from citadel.inventory import service as inventory
from citadel.inventory.models import HoldRequest, OfferedLevel, StockLine, StockReserved
from citadel.kit import idempotency
from citadel.kit.db import Connection, Database, load_queries
from citadel.kit.errors import Conflict, FieldError, ValidationFailed
from citadel.kit.events import OutboxRows, new_aggregate_events
from citadel.kit.ids import uuid7
from citadel.kit.money import format_amount
from citadel.orders import service as orders
from citadel.orders.models import LineDraft, OrderDraft, OrderPlaced, PlacedLine
from citadel.payments import service as payments
from citadel.payments.models import PaymentRow
from citadel.pricing import service as pricing
from citadel.settings import Settings
from citadel.users import service as users

Q = load_queries(__file__)

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


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    """The idempotency key this checkout holds, under which its answer is stored."""

    scope: str
    key: str
    fingerprint: bytes


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
    claimed = Claimed(scope=scope, key=key, fingerprint=print_)
    unlocked, failures = True, 0
    while True:
        try:
            async with db.transaction(generic_plans=True) as conn:
                stored = await idempotency.claim(conn, scope, ROUTE, key, print_, settings.idempotency_ttl_h)
                if stored is not None:
                    return Answer(stored.status_code, stored.body, True)
                body, draft = await _place(
                    conn, settings, ctx, shopper, token, data, details, claimed, unlocked
                )
            return Answer(201, body, False, draft.currency, draft.total)
        except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
            failures += 1
            if failures == settings.checkout_retries:
                raise
        except asyncpg.PostgresError as exc:
            if not (unlocked and inventory.stock_moved(exc)):
                raise
            unlocked = False  # once more, planning under the stock rows' locks (it cannot move then)


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


async def _basket(
    conn: Connection, cart_id: uuid.UUID
) -> tuple[
    list[CartLineRow],
    dict[uuid.UUID, SellableVariant],
    dict[tuple[uuid.UUID, uuid.UUID], OfferedLevel],
    int | None,
]:
    """The cart's lines, their variants (those still in the catalog), their stock rows (read
    without their locks) and the order's number."""
    rows = await conn.fetch(Q.cart_basket, cart_id)
    offered = {
        (r["variant_id"], warehouse): OfferedLevel(
            variant_id=r["variant_id"], warehouse_id=warehouse, on_hand=on_hand, reserved=reserved,
            priority=priority, is_active=active,
        )
        for r in rows
        if r["warehouses"] is not None
        for warehouse, on_hand, reserved, priority, active in zip(
            r["warehouses"], r["on_hand"], r["reserved"], r["priorities"], r["active"], strict=True
        )
    }  # fmt: skip
    lines = [
        CartLineRow(
            variant_id=r["variant_id"], quantity=r["quantity"], seen_unit_amount=r["seen_unit_amount"],
            added_at=r["added_at"],
        )
        for r in rows
    ]  # fmt: skip
    variants = {
        r["variant_id"]: SellableVariant(
            variant_id=r["variant_id"], product_id=r["product_id"], vendor_id=r["vendor_id"], sku=r["sku"],
            name=r["name"], product_slug=r["product_slug"], image_url=r["image_url"], sellable=r["sellable"],
            currency=r["currency"], base_amount=r["base_amount"], own_amount=r["own_amount"],
            adjustment=r["adjustment"], weight_grams=r["weight_grams"], tax_category=r["tax_category"],
            category_path=r["category_path"],
        )
        for r in rows
        if r["found"]
    }  # fmt: skip
    return lines, variants, offered, rows[0]["order_seq"] if rows else None


async def _place(
    conn: Connection,
    settings: Settings,
    ctx: CartContext,
    shopper: Principal | None,
    token: str | None,
    data: CheckoutInput,
    details: dict[str, str],
    claimed: Claimed,
    unlocked: bool,
) -> tuple[bytes, OrderDraft]:
    cart = await carts.find(conn, shopper, token, lock=True)
    lines, variants, offered, seq = await _basket(conn, cart.id)
    p = await carts.price(conn, ctx, cart, shopper, lines, variants, None)  # the holds check stock
    _refuse_what_needs_fixing(p, data)
    assert seq is not None  # a cart with lines drew a number
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
    hold_until = now + timedelta(seconds=provider.hold_seconds(settings))
    draft = _draft(p, shopper, email, order_id, provider.name, hold_until, now)
    number = orders.order_number(seq)
    payment = payments.new_payment(order_id, provider.name, draft.total, draft.currency, details, now)
    requests = [HoldRequest(line_id=x.id, variant_id=x.variant_id, quantity=x.quantity) for x in draft.lines]
    levels = None if unlocked else await inventory.lock_levels(conn, [x.variant_id for x in draft.lines])
    parts = inventory.plan_holds(requests, offered if levels is None else levels)  # before any write
    body = _encoder.encode(orders.placed_view(draft, number, payment))
    await _write(conn, draft, number, payment, parts, _events(conn, draft, number, payment), claimed, body)
    # the units on the stock rows last, so that the rows are locked from there to the commit only
    if levels is None:
        inventory.reserve_at_commit(conn)  # in the message that commits: no round trip under lock
    else:
        await inventory.reserve(conn, parts)
        await inventory.announce_holds(conn, levels, parts)
    return body, draft


def _draft(
    p: carts.PricedCart,
    shopper: Principal | None,
    email: str,
    order_id: uuid.UUID,
    provider: str,
    hold_until: datetime,
    now: datetime,
) -> OrderDraft:
    """The order the priced cart makes, each line as the kernels priced it."""
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
    return OrderDraft(
        id=order_id, user_id=shopper.user_id if shopper else None, email=email, cart_id=p.cart.id,
        currency=totals.currency, subtotal=totals.subtotal_amount, discount=totals.discount_amount,
        tax=totals.tax_amount, shipping=totals.shipping_amount, shipping_tax=totals.shipping_tax_amount,
        total=totals.total_amount, prices_include_tax=totals.prices_include_tax,
        coupon_code=p.cart.coupon_code if coupon_used else None,
        shipping_method_id=shipping.method_id if shipping else None,
        shipping_method_name=shipping.name if shipping else None, shipping_address=p.cart.shipping_address,
        payment_provider=provider, holds_expire_at=hold_until, placed_at=now, lines=lines,
    )  # fmt: skip


def _events(conn: Connection, draft: OrderDraft, number: str, payment: PaymentRow) -> OutboxRows:
    """``orders.placed`` and ``inventory.reserved`` of the order, ``payments.pending`` of its payment."""
    lines = draft.lines
    placed = OrderPlaced(
        order_id=draft.id, number=number, user_id=draft.user_id, email=draft.email, currency=draft.currency,
        total_amount=draft.total, payment_provider=draft.payment_provider,
        lines=[
            PlacedLine(
                line_id=x.id, variant_id=x.variant_id, product_id=x.product_id, vendor_id=x.vendor_id,
                quantity=x.quantity, total_amount=x.total,
            )
            for x in lines
        ],
    )  # fmt: skip
    held = [StockLine(variant_id=x.variant_id, product_id=x.product_id, quantity=x.quantity) for x in lines]
    reserved = StockReserved(order_id=draft.id, lines=held)
    return new_aggregate_events(
        conn, [(placed, draft.id), (reserved, draft.id), (payments.pending_event(payment), payment.id)]
    )


async def _write(
    conn: Connection,
    draft: OrderDraft,
    number: str,
    payment: PaymentRow,
    parts: list[inventory.HoldPart],
    events: OutboxRows,
    claimed: Claimed,
    body: bytes,
) -> None:
    """The statement that places the order (see ``place_order`` in queries.sql)."""
    fulfilment_of = orders.fulfilment_ids(draft)
    lines = draft.lines
    await conn.execute(
        Q.place_order,
        draft.id, number, draft.user_id, draft.email, draft.cart_id, draft.currency, draft.subtotal,
        draft.discount, draft.tax, draft.shipping, draft.shipping_tax, draft.total, draft.prices_include_tax,
        draft.coupon_code, draft.shipping_method_id, draft.shipping_method_name, draft.shipping_address,
        draft.payment_provider, draft.holds_expire_at, draft.placed_at,
        list(fulfilment_of.values()), list(fulfilment_of),
        [x.id for x in lines], [fulfilment_of[x.vendor_id] for x in lines], [x.product_id for x in lines],
        [x.variant_id for x in lines], [x.vendor_id for x in lines], [x.sku for x in lines],
        [x.name for x in lines], [x.quantity for x in lines], [x.unit_price for x in lines],
        [x.subtotal for x in lines], [x.discount for x in lines], [x.tax for x in lines],
        [x.total for x in lines], [x.tax_rate_ppm for x in lines],
        payment.id, payment.provider_reference, payment.method_details,
        events.ids, events.types, events.aggregates, events.sequences, events.data,
        events.sequence_aggregates, events.last_sequences,
        claimed.scope, ROUTE, claimed.key, claimed.fingerprint, 201, body,
        [x.line_id for x in parts], [x.variant_id for x in parts], [x.warehouse_id for x in parts],
        [x.quantity for x in parts],
    )  # fmt: skip

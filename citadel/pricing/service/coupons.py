"""Coupons (admins), and their use: checking a code, taking and giving back uses.

A coupon's kind decides what it gives: ``percentage`` (discountPpm off every eligible line),
``fixed`` (amountOff split over the eligible lines), ``buy_x_get_y`` (of every buy + get eligible
units, the get cheapest ones discountPpm off), ``tiered`` (the rate of the highest tier the
eligible subtotal reaches) or ``free_shipping``. What is eligible: the listed products and the
products of the listed categories and their subcategories; with neither listed, everything.
Usage limits hold under concurrency: a use is taken by a conditional update of the coupon's row
in the checkout's transaction, and a customer's uses are counted after that row is locked.
"""

import uuid
from datetime import datetime
from typing import Any

import msgspec

from citadel.kit.db import Connection, from_row, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.money import check_currency
from citadel.kit.security import Signer
from citadel.kit.text import squash
from citadel.pricing.models import Coupon, CouponCreate, CouponPage, CouponRow, CouponUpdate, Tier
from citadel.pricing.service.price_lists import check_window
from citadel.tax.models import RULEBOOK_TOPIC

Q = load_queries(__file__)


class CouponNotFound(NotFound):
    code = "coupon_not_found"
    title = "Coupon not found"


class CouponCodeTaken(Conflict):
    code = "coupon_code_taken"
    title = "Another coupon has this code"


class CouponInUse(Conflict):
    code = "coupon_in_use"
    title = "Orders used this coupon; deactivate it instead"


class CouponNotApplicable(ValidationFailed):
    """Why a code cannot be used now; ``code`` is set per instance from ``PROBLEMS``."""

    code = "coupon_not_applicable"
    title = "This coupon cannot be used"

    def __init__(self, problem: str) -> None:
        self.code = problem  # type: ignore[misc]
        super().__init__(
            PROBLEMS[problem], errors=[FieldError(field="code", message=PROBLEMS[problem], code=problem)]
        )


class CouponUsedUp(Conflict):
    code = "coupon_exhausted"
    title = "This coupon has no uses left"


PROBLEMS = {
    "coupon_not_found": "No coupon has this code.",
    "coupon_inactive": "This coupon is not active.",
    "coupon_not_started": "This coupon cannot be used yet.",
    "coupon_expired": "This coupon has expired.",
    "coupon_exhausted": "This coupon has no uses left.",
    "coupon_limit_reached": "You have used this coupon as often as it allows.",
    "coupon_currency_mismatch": "This coupon is for another currency.",
    "coupon_minimum_not_met": "The eligible items do not reach this coupon's minimum yet.",
    "coupon_not_applicable": "Nothing in the cart is eligible for this coupon.",
    "coupon_automatic": "This discount applies by itself to carts that qualify; it is not entered.",
}


def _invalid(detail: str, field: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(detail, errors=[FieldError(field=field, message=detail, code=code)])


def normalize_code(code: str) -> str:
    return code.strip().upper()


def _check(values: dict[str, Any]) -> None:
    """What a coupon of its kind needs, and nothing that contradicts it."""
    kind = values["kind"]
    if values["currency"] is not None:
        check_currency(values["currency"])
    if kind in {"percentage", "buy_x_get_y"} and values["discount_ppm"] <= 0:
        raise _invalid(f"A {kind} coupon needs a discountPpm above 0.", "discountPpm", "required")
    if kind == "fixed" and values["amount_off"] <= 0:
        raise _invalid("A fixed coupon needs an amountOff above 0.", "amountOff", "required")
    if kind == "buy_x_get_y" and (values["buy_quantity"] is None or values["get_quantity"] is None):
        raise _invalid("A buy-x-get-y coupon needs buyQuantity and getQuantity.", "buyQuantity", "required")
    tiers: list[Tier] = values["tiers"]
    if kind == "tiered":
        if not tiers:
            raise _invalid("A tiered coupon needs at least one tier.", "tiers", "required")
        thresholds = [t.threshold_amount for t in tiers]
        if thresholds != sorted(set(thresholds)):
            raise _invalid("Tier thresholds must rise from one tier to the next.", "tiers", "invalid_order")
    elif tiers:
        raise _invalid("Only tiered coupons have tiers.", "tiers", "not_allowed")
    has_amounts = values["minimum_subtotal"] > 0 or values["max_discount_amount"] is not None
    needs_currency = kind in {"fixed", "tiered"} or has_amounts
    if needs_currency and values["currency"] is None:
        raise _invalid("A coupon with amounts names their currency.", "currency", "required")
    check_window(values["starts_at"], values["ends_at"])


def _tiers(tiers: list[Tier]) -> list[dict[str, int]]:
    return [{"threshold": t.threshold_amount, "ppm": t.discount_ppm} for t in tiers]


def _args(values: dict[str, Any]) -> list[Any]:
    return [
        squash(values["name"]) if values["name"] else "", values["automatic"], values["currency"],
        values["discount_ppm"], values["amount_off"], values["max_discount_amount"],
        values["minimum_subtotal"], values["buy_quantity"], values["get_quantity"],
        _tiers(values["tiers"]), values["exclusive_group"], sorted(set(values["product_ids"])),
        sorted(set(values["category_ids"])), values["starts_at"], values["ends_at"],
        values["usage_limit"], values["per_customer_limit"], values["is_active"],
    ]  # fmt: skip


async def coupon_row(conn: Connection, coupon_id: uuid.UUID) -> CouponRow:
    row = await conn.fetchrow(Q.get_coupon, coupon_id)
    if row is None:
        raise CouponNotFound()
    return from_row(CouponRow, row)


async def get_coupon(conn: Connection, coupon_id: uuid.UUID) -> Coupon:
    return Coupon.of(await coupon_row(conn, coupon_id))


async def create_coupon(conn: Connection, data: CouponCreate) -> Coupon:
    values = msgspec.structs.asdict(data)
    _check(values)
    coupon_id = uuid7()
    name, *rest = _args(values)
    created = await conn.fetchval(
        Q.insert_coupon, coupon_id, normalize_code(data.code), name, data.kind, *rest
    )
    if created is None:
        raise CouponCodeTaken(
            errors=[FieldError(field="code", message="Already in use", code="coupon_code_taken")]
        )
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return await get_coupon(conn, coupon_id)


async def update_coupon(conn: Connection, coupon_id: uuid.UUID, data: CouponUpdate) -> Coupon:
    current = await coupon_row(conn, coupon_id)
    values: dict[str, Any] = {f: getattr(current, f) for f in CouponUpdate.__struct_fields__}
    values["tiers"] = [Tier(threshold_amount=t["threshold"], discount_ppm=t["ppm"]) for t in current.tiers]
    values.update(
        {f: v for f in CouponUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    values["kind"] = current.kind
    _check(values)
    if values["usage_limit"] is not None and values["usage_limit"] < current.times_used:
        raise _invalid(f"It has been used {current.times_used} times already.", "usageLimit", "out_of_range")
    await conn.execute(Q.update_coupon, coupon_id, *_args(values))
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return await get_coupon(conn, coupon_id)


async def delete_coupon(conn: Connection, coupon_id: uuid.UUID) -> None:
    await coupon_row(conn, coupon_id)
    if await conn.fetchval(Q.delete_unused_coupon, coupon_id) is None:
        raise CouponInUse()
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")


COUPON_LIST = ListSpec(
    source=Q.coupon_list_source,
    filters={"q": Filter("code", "prefix"), "automatic": Filter("automatic"), "active": Filter("is_active")},
    sorts={"newest": Sort("created_at", "timestamp", descending=True), "code": Sort("code", "text")},
    default_sort="newest",
)


async def list_coupons(
    conn: Connection,
    signer: Signer,
    *,
    q: str | None,
    automatic: bool | None,
    active: bool | None,
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> CouponPage:
    code_prefix = normalize_code(q) if q and q.strip() else None
    page = await fetch_page(
        conn,
        COUPON_LIST,
        signer,
        filters={"q": code_prefix, "automatic": automatic, "active": active},
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return CouponPage(
        items=[Coupon.of(CouponRow(**{f: r[f] for f in CouponRow.__struct_fields__})) for r in page.rows],
        next_cursor=page.next_cursor,
    )


async def automatic_coupons(conn: Connection) -> list[CouponRow]:
    return [from_row(CouponRow, r) for r in await conn.fetch(Q.automatic_coupons)]


# --- use -----------------------------------------------------------------------------------------


async def coupon_by_code(conn: Connection, code: str) -> CouponRow | None:
    row = await conn.fetchrow(Q.coupon_by_code, normalize_code(code))
    return from_row(CouponRow, row) if row else None


def standing_problem(coupon: CouponRow, currency: str | None, now: datetime) -> str | None:
    """Why the coupon cannot be used now whatever the cart holds (None: it can)."""
    if not coupon.is_active:
        return "coupon_inactive"
    if coupon.starts_at is not None and now < coupon.starts_at:
        return "coupon_not_started"
    if coupon.ends_at is not None and now >= coupon.ends_at:
        return "coupon_expired"
    if coupon.usage_limit is not None and coupon.times_used >= coupon.usage_limit:
        return "coupon_exhausted"
    if coupon.currency is not None and currency is not None and coupon.currency != currency:
        return "coupon_currency_mismatch"
    return None


def customer_key(user_id: uuid.UUID | None, email: str | None) -> str | None:
    """Who a per-customer limit counts: the user, or a guest by e-mail (None: not known yet)."""
    if user_id is not None:
        return str(user_id)
    return email.strip().lower() if email else None


async def customer_uses(conn: Connection, coupon: CouponRow, customer: str | None) -> int:
    if coupon.per_customer_limit is None or customer is None:
        return 0
    return int(await conn.fetchval(Q.count_customer_redemptions, coupon.id, customer))


async def redeem(conn: Connection, coupon: CouponRow, order_id: uuid.UUID, customer: str) -> None:
    """Take one use of the coupon for an order, or refuse (409) when none is left for this customer."""
    if await conn.fetchval(Q.take_coupon_use, coupon.id) is None:
        raise CouponUsedUp(f"Coupon {coupon.code} has no uses left; remove it and review your total.")
    # counted after the row lock above: a concurrent redemption by the same customer has committed
    if coupon.per_customer_limit is not None and (
        await conn.fetchval(Q.count_customer_redemptions, coupon.id, customer) >= coupon.per_customer_limit
    ):
        raise CouponUsedUp(PROBLEMS["coupon_limit_reached"])
    await conn.execute(Q.insert_redemption, coupon.id, order_id, customer)


async def release(conn: Connection, order_id: uuid.UUID) -> None:
    """Give back the coupon uses of a cancelled order."""
    await conn.execute(Q.release_redemptions, order_id)

"""Commission rules, and the ledger they write: one entry per delivered line, one reversal per
refund of a delivered line.

A line's commission base is its goods: subtotal less its discount, before tax (tax is the
state's, not the vendor's revenue). The first active rule, by priority (highest first), that
matches the line's vendor, its product's category (or an ancestor) and the order's goods total
(within the rule's band, in the rule's currency) gives the rate; the commission is the base ×
rate, rounded half-up by the compiled pricing kernel, then clamped to the rule's minimum and
maximum and to the base itself. Without a matching rule the vendor's own rate applies (15% unless
an admin set another). A refund reverses the same share of a line's commission as it takes of the
line's goods, never more than is left.
"""

import uuid
from array import array
from datetime import UTC, datetime
from typing import Any

from citadel._fast import money, pricing
from citadel.auth.models import Principal
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7, uuid7s
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.money import check_currency
from citadel.kit.security import Signer
from citadel.vendors.models import (
    CommissionEntry,
    CommissionPage,
    CommissionQuote,
    CommissionQuoted,
    CommissionRule,
    CommissionRuleCreate,
    CommissionRuleRow,
    CommissionRuleUpdate,
)
from citadel.vendors.service import get_vendor, own_vendor

Q = load_queries(__file__)


class CommissionRuleNotFound(NotFound):
    code = "commission_rule_not_found"
    title = "Commission rule not found"


def _view(row: CommissionRuleRow) -> CommissionRule:
    return CommissionRule(**{f: getattr(row, f) for f in CommissionRule.__struct_fields__})


# --- rules (admins) --------------------------------------------------------------------------------


def _check_rule(values: dict[str, Any]) -> None:
    errors: list[FieldError] = []
    currency = values.get("currency")
    if currency is not None:
        try:
            values["currency"] = check_currency(currency)
        except ValidationFailed:
            errors.append(
                FieldError(field="currency", message="Not a known currency", code="invalid_currency")
            )
    bounded = [
        k
        for k in ("min_order_amount", "max_order_amount", "min_commission", "max_commission")
        if values.get(k) is not None
    ]
    if bounded and currency is None:
        errors.append(
            FieldError(field="currency", message="Bands and bounds need a currency", code="required")
        )
    pairs = (
        ("min_order_amount", "max_order_amount", "maxOrderAmount"),
        ("min_commission", "max_commission", "maxCommission"),
    )
    for low, high, field in pairs:
        if values.get(low) is not None and values.get(high) is not None and values[high] < values[low]:
            errors.append(FieldError(field=field, message="Below the minimum", code="out_of_range"))
    if values.get("starts_at") and values.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        errors.append(FieldError(field="endsAt", message="Must be after startsAt", code="out_of_range"))
    if errors:
        raise ValidationFailed("The rule is not valid.", errors=errors)


async def _check_refs(conn: Connection, values: dict[str, Any]) -> None:
    if values.get("vendor_id") is not None:
        try:
            await get_vendor(conn, values["vendor_id"])
        except NotFound:
            raise ValidationFailed(
                "No such vendor.",
                errors=[FieldError(field="vendorId", message="Unknown", code="vendor_not_found")],
            ) from None
    if values.get("category_id") is not None and not await conn.fetch(
        Q.category_paths, [values["category_id"]]
    ):
        raise ValidationFailed(
            "No such category.",
            errors=[FieldError(field="categoryId", message="Unknown", code="category_not_found")],
        )


_RULE_COLUMNS = (
    "name", "vendor_id", "category_id", "currency", "min_order_amount", "max_order_amount", "rate_ppm",
    "min_commission", "max_commission", "priority", "active", "starts_at", "ends_at",
)  # fmt: skip


async def create_rule(conn: Connection, data: CommissionRuleCreate) -> CommissionRule:
    values = {c: getattr(data, c) for c in _RULE_COLUMNS}
    values["name"] = values["name"].strip()
    _check_rule(values)
    await _check_refs(conn, values)
    row = await conn.fetchrow(Q.insert_commission_rule, uuid7(), *(values[c] for c in _RULE_COLUMNS))
    return _view(from_row(CommissionRuleRow, row))


async def update_rule(conn: Connection, rule_id: uuid.UUID, data: CommissionRuleUpdate) -> CommissionRule:
    row = await conn.fetchrow(Q.get_commission_rule_for_update, rule_id)
    if row is None:
        raise CommissionRuleNotFound()
    current = from_row(CommissionRuleRow, row)
    values = {c: getattr(current, c) for c in _RULE_COLUMNS}
    values.update({c: getattr(data, c) for c in _RULE_COLUMNS if getattr(data, c) is not None})
    _check_rule(values)
    await _check_refs(conn, values)
    row = await conn.fetchrow(Q.replace_commission_rule, rule_id, *(values[c] for c in _RULE_COLUMNS))
    return _view(from_row(CommissionRuleRow, row))


async def get_rule(conn: Connection, rule_id: uuid.UUID) -> CommissionRule:
    row = await conn.fetchrow(Q.get_commission_rule, rule_id)
    if row is None:
        raise CommissionRuleNotFound()
    return _view(from_row(CommissionRuleRow, row))


async def delete_rule(conn: Connection, rule_id: uuid.UUID) -> None:
    if not await conn.fetchval(Q.delete_commission_rule, rule_id):
        raise CommissionRuleNotFound()


async def list_rules(conn: Connection, vendor_id: uuid.UUID | None) -> list[CommissionRule]:
    return [
        _view(r) for r in from_rows(CommissionRuleRow, await conn.fetch(Q.list_commission_rules, vendor_id))
    ]


# --- matching --------------------------------------------------------------------------------------


class LineBase:
    """What one line's commission depends on."""

    __slots__ = ("amount", "category_path", "currency", "fallback_ppm", "order_amount", "vendor_id")

    def __init__(
        self,
        vendor_id: uuid.UUID,
        amount: int,
        currency: str,
        order_amount: int,
        category_path: list[uuid.UUID],
        fallback_ppm: int,
    ) -> None:
        self.vendor_id = vendor_id
        self.amount = amount
        self.currency = currency
        self.order_amount = order_amount
        self.category_path = category_path
        self.fallback_ppm = fallback_ppm


def _matches(rule: CommissionRuleRow, line: LineBase) -> bool:
    if rule.vendor_id is not None and rule.vendor_id != line.vendor_id:
        return False
    if rule.category_id is not None and rule.category_id not in line.category_path:
        return False
    if rule.currency is not None and rule.currency != line.currency:
        return False
    if rule.min_order_amount is not None and line.order_amount < rule.min_order_amount:
        return False
    return rule.max_order_amount is None or line.order_amount <= rule.max_order_amount


def compute(rules: list[CommissionRuleRow], lines: list[LineBase]) -> list[tuple[int, int, uuid.UUID | None]]:
    """Per line: (commission, rate in ppm, the rule that set it), in one kernel call."""
    picked = [next((r for r in rules if _matches(r, line)), None) for line in lines]
    rates = [rule.rate_ppm if rule else line.fallback_ppm for rule, line in zip(picked, lines, strict=True)]
    raw = pricing.commissions(array("q", [line.amount for line in lines]), array("q", rates))
    out = []
    for line, rule, rate, computed in zip(lines, picked, rates, raw, strict=True):
        value = computed
        if rule is not None:
            if rule.min_commission is not None:
                value = max(value, rule.min_commission)
            if rule.max_commission is not None:
                value = min(value, rule.max_commission)
        out.append((max(0, min(value, line.amount)), rate, rule.id if rule else None))
    return out


async def _rules_and_paths(
    conn: Connection, vendor_ids: list[uuid.UUID], category_ids: list[uuid.UUID]
) -> tuple[list[CommissionRuleRow], dict[uuid.UUID, list[uuid.UUID]]]:
    rules = from_rows(CommissionRuleRow, await conn.fetch(Q.rules_for_vendors, vendor_ids, datetime.now(UTC)))
    paths = (
        {r["id"]: list(r["path"]) for r in await conn.fetch(Q.category_paths, category_ids)}
        if category_ids
        else {}
    )
    return rules, paths


async def quote(conn: Connection, principal: Principal, data: CommissionQuote) -> CommissionQuoted:
    """What a vendor would pay on a line (its own rules and the general ones)."""
    vendor = await own_vendor(conn, principal)
    currency = check_currency(data.currency)
    rules, paths = await _rules_and_paths(conn, [vendor.id], [data.category_id] if data.category_id else [])
    line = LineBase(
        vendor.id, data.amount, currency, data.order_amount if data.order_amount is not None else data.amount,
        paths.get(data.category_id, []) if data.category_id else [], vendor.commission_rate_ppm,
    )  # fmt: skip
    [(commission, rate, rule_id)] = compute(rules, [line])
    return CommissionQuoted(
        amount=data.amount, currency=currency, commission_amount=commission, rate_ppm=rate, rule_id=rule_id
    )


# --- the ledger ------------------------------------------------------------------------------------


def _goods_left(goods: int, quantity: int, refunded_quantity: int) -> int:
    """The goods of a line's units not refunded by quantity (the parts add up to the line)."""
    if refunded_quantity <= 0:
        return goods
    parts = money.allocate(goods, array("q", [1] * quantity))
    return sum(parts[refunded_quantity:])


async def book_delivered(conn: Connection, fulfilment_id: uuid.UUID) -> int:
    """A commission entry for each line of a delivered fulfilment (once; a repeat books nothing)."""
    rows = await conn.fetch(Q.delivered_lines, fulfilment_id)
    if not rows:
        return 0
    categories = sorted({r["category_id"] for r in rows if r["category_id"] is not None})
    rules, paths = await _rules_and_paths(conn, sorted({r["vendor_id"] for r in rows}), categories)
    bases = [
        LineBase(
            r["vendor_id"],
            _goods_left(r["subtotal_amount"] - r["discount_amount"], r["quantity"], r["refunded_quantity"]),
            r["currency"], r["order_amount"], paths.get(r["category_id"], []), r["commission_rate_ppm"],
        )
        for r in rows
    ]  # fmt: skip
    computed = compute(rules, bases)
    await conn.execute(
        Q.insert_commission_entries,
        uuid7s(len(rows)),
        [r["vendor_id"] for r in rows],
        [r["order_id"] for r in rows],
        [r["id"] for r in rows],
        [None] * len(rows),
        ["commission"] * len(rows),
        [r["currency"] for r in rows],
        [b.amount for b in bases],
        [c[0] for c in computed],
        [c[1] for c in computed],
        [c[2] for c in computed],
    )
    return len(rows)


async def reverse_refund(
    conn: Connection, refund_id: uuid.UUID, refunded: dict[uuid.UUID, int], totals: dict[uuid.UUID, int]
) -> int:
    """Reversals for a refund: per delivered line, the refunded share (``refunded[line]`` of the
    line's ``totals[line]``, tax included) of its goods and of its commission."""
    lines = [line for line, amount in refunded.items() if amount > 0]
    booked = {r["line_id"]: r for r in await conn.fetch(Q.booked_commissions, lines)}
    if not booked:
        return 0
    before = {r["line_id"]: r for r in await conn.fetch(Q.reversed_so_far, list(booked))}
    entries = []
    for line_id, entry in booked.items():
        total = totals[line_id]
        gross_left = entry["gross_amount"] - (before[line_id]["gross"] if line_id in before else 0)
        commission_left = entry["commission_amount"] - (
            before[line_id]["commission"] if line_id in before else 0
        )
        if total <= 0 or gross_left <= 0:
            continue
        gross = min(gross_left, _share(entry["gross_amount"], refunded[line_id], total))
        commission = min(commission_left, _share(entry["commission_amount"], gross, entry["gross_amount"]))
        if gross > 0:
            entries.append((entry, line_id, gross, commission))
    if entries:
        await conn.execute(
            Q.insert_commission_entries,
            uuid7s(len(entries)),
            [e["vendor_id"] for e, *_ in entries],
            [e["order_id"] for e, *_ in entries],
            [line for _, line, _, _ in entries],
            [refund_id] * len(entries),
            ["reversal"] * len(entries),
            [e["currency"] for e, *_ in entries],
            [-gross for *_, gross, _ in entries],
            [-commission for *_, commission in entries],
            [e["rate_ppm"] for e, *_ in entries],
            [e["rule_id"] for e, *_ in entries],
        )
    return len(entries)


def _share(amount: int, part: int, whole: int) -> int:
    """amount × part / whole, rounded half-up (all non-negative)."""
    if whole <= 0:
        return 0
    return (2 * amount * part + whole) // (2 * whole)


COMMISSION_LIST = ListSpec(
    source=Q.list_commissions_source,
    filters={"vendor": Filter("vendor_id"), "kind": Filter("kind"), "payout": Filter("payout_id")},
    sorts={"newest": Sort("occurred_at", "timestamp", descending=True)},
    default_sort="newest",
)


async def list_entries(
    conn: Connection,
    signer: Signer,
    vendor_id: uuid.UUID,
    *,
    kind: str | None,
    payout_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> CommissionPage:
    page = await fetch_page(
        conn, COMMISSION_LIST, signer, filters={"vendor": vendor_id, "kind": kind, "payout": payout_id},
        sort=None, cursor=cursor, limit=limit,
    )  # fmt: skip
    fields = CommissionEntry.__struct_fields__
    return CommissionPage(
        items=[CommissionEntry(**{f: r[f] for f in fields}) for r in page.rows], next_cursor=page.next_cursor
    )

"""Payouts: per vendor, period and currency, the goods delivered less commission less refunds.

A run for [start, end) takes, per vendor and currency, every ledger entry not yet paid out that
occurred before ``end`` (so entries that arrive late are paid in the next run, never lost):
gross is the delivered goods, commission what those entries add up to (reversals included),
refunds the goods refunded. A payout is made only when the net is positive; otherwise the entries
wait for the next period. Runs are idempotent: one live payout per vendor, period and currency
(a unique index), so a second run, or two at once, pays nothing twice. A failed payout releases
its entries, and a later run pays them.
"""

import uuid
from datetime import UTC, datetime, time, timedelta

from citadel.auth.models import Principal
from citadel.kit.db import Connection, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.vendors.models import (
    Payout,
    PayoutCreated,
    PayoutPage,
    PayoutRun,
    PayoutRunResult,
    PayoutSettled,
    PayoutStatus,
)
from citadel.vendors.service import own_vendor

Q = load_queries(__file__)
MAX_PERIOD_DAYS = 366


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    title = "Payout not found"


class PayoutSettledAlready(Conflict):
    code = "invalid_transition"
    title = "The payout is settled"


def _view(row: object) -> Payout:
    return Payout(**{f: row[f] for f in Payout.__struct_fields__})  # type: ignore[index]


def _check_period(data: PayoutRun) -> None:
    days = (data.period_end - data.period_start).days
    if days <= 0 or days > MAX_PERIOD_DAYS:
        raise ValidationFailed(
            "A period ends after it starts and lasts at most a year.",
            errors=[FieldError(field="periodEnd", message="Out of range", code="out_of_range")],
        )
    if data.period_end > datetime.now(UTC).date() + timedelta(days=1):
        raise ValidationFailed(
            "A period cannot end in the future.",
            errors=[FieldError(field="periodEnd", message="In the future", code="out_of_range")],
        )


def _reference(payout_id: uuid.UUID) -> str:
    return "PAY-" + payout_id.hex[:12].upper()


async def run(conn: Connection, data: PayoutRun) -> PayoutRunResult:
    _check_period(data)
    cutoff = datetime.combine(data.period_end, time.min, tzinfo=UTC)
    created: list[Payout] = []
    already = skipped = 0
    for payable in await conn.fetch(Q.payable_vendors, cutoff):
        vendor_id, currency = payable["vendor_id"], payable["currency"]
        # under the vendor's lock, a concurrent run (of this period or another) has either
        # committed its claim, which the totals below no longer count, or not begun
        await conn.execute(Q.lock_vendor_payouts, vendor_id)
        if await conn.fetchval(
            Q.live_payout_of_period, vendor_id, data.period_start, data.period_end, currency
        ):
            already += 1
            continue
        row = await conn.fetchrow(Q.unpaid_totals, vendor_id, currency, cutoff)
        gross, commission, refunds = (row["gross"], row["commission"], row["refunds"]) if row else (0, 0, 0)
        net = gross - commission - refunds
        if row is None or net <= 0:
            skipped += 1
            continue
        payout_id = uuid7()
        inserted = await conn.fetchrow(
            Q.insert_payout, payout_id, vendor_id, data.period_start, data.period_end, currency,
            gross, commission, refunds, net, row["entries"], row["payout_method"], _reference(payout_id),
        )  # fmt: skip
        if inserted is None:  # a concurrent run made it first
            already += 1
            continue
        payout = _view(await conn.fetchrow(Q.claim_payout_entries, payout_id, vendor_id, currency, cutoff))
        if payout.net_amount <= 0:  # what the claim took adds up to nothing to pay: undo it
            await conn.execute(Q.release_payout_entries, payout_id)
            await conn.execute(Q.delete_payout, payout_id)
            skipped += 1
            continue
        created.append(payout)
        await emit(
            conn,
            PayoutCreated(
                payout_id=payout_id, vendor_id=payout.vendor_id, currency=payout.currency,
                net_amount=payout.net_amount, period_start=data.period_start, period_end=data.period_end,
            ),
            aggregate_id=payout.vendor_id,
        )  # fmt: skip
    return PayoutRunResult(
        period_start=data.period_start,
        period_end=data.period_end,
        created=created,
        already=already,
        skipped=skipped,
    )


async def settle(
    conn: Connection,
    payout_id: uuid.UUID,
    status: PayoutStatus,
    *,
    transaction_id: str | None = None,
    reason: str | None = None,
) -> Payout:
    """Mark a pending payout paid (with the transfer's id) or failed (its entries go back)."""
    row = await conn.fetchrow(Q.get_payout_for_update, payout_id)
    if row is None:
        raise PayoutNotFound()
    if row["status"] != "pending":
        raise PayoutSettledAlready(f"The payout is already {row['status']}.")
    updated = await conn.fetchrow(Q.settle_payout, payout_id, status, transaction_id, reason)
    if status == "failed":
        await conn.execute(Q.release_payout_entries, payout_id)
    await emit(
        conn,
        PayoutSettled(
            payout_id=payout_id, vendor_id=row["vendor_id"], status=status, net_amount=row["net_amount"],
            currency=row["currency"],
        ),
        aggregate_id=row["vendor_id"],
    )  # fmt: skip
    return _view(updated)


async def get(conn: Connection, principal: Principal, payout_id: uuid.UUID) -> Payout:
    row = await conn.fetchrow(Q.get_payout, payout_id)
    if row is None:
        raise PayoutNotFound()
    if principal.role != "admin" and row["vendor_id"] != (await own_vendor(conn, principal)).id:
        raise PayoutNotFound()
    return _view(row)


PAYOUT_LIST = ListSpec(
    source=Q.list_payouts_source,
    filters={"vendor": Filter("vendor_id"), "status": Filter("status")},
    sorts={"newest": Sort("created_at", "timestamp", descending=True)},
    default_sort="newest",
)


async def list_payouts(
    conn: Connection,
    signer: Signer,
    *,
    vendor_id: uuid.UUID | None,
    status: PayoutStatus | None,
    cursor: str | None,
    limit: int,
) -> PayoutPage:
    page = await fetch_page(
        conn, PAYOUT_LIST, signer, filters={"vendor": vendor_id, "status": status}, sort=None,
        cursor=cursor, limit=limit,
    )  # fmt: skip
    return PayoutPage(items=[_view(r) for r in page.rows], next_cursor=page.next_cursor)

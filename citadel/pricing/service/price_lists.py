"""Price lists (admins): fixed prices or discounts for variants, per currency, audience and window."""

import uuid

import msgspec

from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import FieldError, NotFound, ValidationFailed
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.money import check_currency
from citadel.kit.security import Signer
from citadel.kit.text import squash
from citadel.pricing.models import (
    PriceList,
    PriceListCreate,
    PriceListEntriesPut,
    PriceListEntry,
    PriceListEntryPage,
    PriceListRow,
    PriceListUpdate,
)
from citadel.tax.models import RULEBOOK_TOPIC

Q = load_queries(__file__)


class PriceListNotFound(NotFound):
    code = "price_list_not_found"
    title = "Price list not found"


class PriceListEntryNotFound(NotFound):
    code = "price_list_entry_not_found"
    title = "The price list has no entry for this variant"


def check_window(starts_at: object, ends_at: object) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:  # type: ignore[operator]
        raise ValidationFailed(
            "The window must end after it starts.",
            errors=[FieldError(field="endsAt", message="After startsAt", code="out_of_range")],
        )


async def list_price_lists(conn: Connection) -> list[PriceList]:
    return [PriceList.of(r) for r in from_rows(PriceListRow, await conn.fetch(Q.list_price_lists))]


async def get_price_list(conn: Connection, price_list_id: uuid.UUID) -> PriceList:
    row = await conn.fetchrow(Q.get_price_list, price_list_id)
    if row is None:
        raise PriceListNotFound()
    return PriceList.of(from_row(PriceListRow, row))


async def create_price_list(conn: Connection, data: PriceListCreate) -> PriceList:
    check_currency(data.currency)
    check_window(data.starts_at, data.ends_at)
    row = await conn.fetchrow(
        Q.insert_price_list, uuid7(), squash(data.name), data.currency, data.audience, data.priority,
        data.starts_at, data.ends_at, data.is_active,
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return PriceList.of(from_row(PriceListRow, row))


async def update_price_list(conn: Connection, price_list_id: uuid.UUID, data: PriceListUpdate) -> PriceList:
    current = await get_price_list(conn, price_list_id)
    values = {f: getattr(current, f) for f in PriceListUpdate.__struct_fields__}
    values.update(
        {f: v for f in PriceListUpdate.__struct_fields__ if (v := getattr(data, f)) is not msgspec.UNSET}
    )
    check_window(values["starts_at"], values["ends_at"])
    row = await conn.fetchrow(
        Q.update_price_list, price_list_id, squash(values["name"]), values["audience"], values["priority"],
        values["starts_at"], values["ends_at"], values["is_active"],
    )  # fmt: skip
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")
    return PriceList.of(from_row(PriceListRow, row))


async def delete_price_list(conn: Connection, price_list_id: uuid.UUID) -> None:
    if await conn.fetchval(Q.delete_price_list, price_list_id) is None:
        raise PriceListNotFound()
    conn.invalidate_after_commit(RULEBOOK_TOPIC, "all")


async def put_entries(conn: Connection, price_list_id: uuid.UUID, data: PriceListEntriesPut) -> int:
    """Set the given variants' terms (all or none: every row at fault is named)."""
    price_list = await get_price_list(conn, price_list_id)
    ids = [e.variant_id for e in data.entries]
    currencies = {r["id"]: r["currency"] for r in await conn.fetch(Q.entry_variant_currencies, ids)}
    errors: list[FieldError] = []
    seen: set[uuid.UUID] = set()
    for i, entry in enumerate(data.entries):
        field = f"entries[{i}]"
        if (entry.price_amount is None) == (entry.discount_ppm is None):
            errors.append(FieldError(field=field, message="Give priceAmount or discountPpm", code="one_of"))
        if entry.variant_id in seen:
            errors.append(FieldError(field=f"{field}.variantId", message="Listed twice", code="duplicate"))
        seen.add(entry.variant_id)
        currency = currencies.get(entry.variant_id)
        if currency is None:
            errors.append(
                FieldError(field=f"{field}.variantId", message="No such variant", code="variant_not_found")
            )
        elif currency != price_list.currency:
            errors.append(
                FieldError(
                    field=f"{field}.variantId",
                    message=f"Sold in {currency}, the list is in {price_list.currency}",
                    code="currency_mismatch",
                )
            )
    if errors:
        raise ValidationFailed("Some entries cannot be set; nothing was changed.", errors=errors)
    await conn.execute(
        Q.upsert_price_list_entries, price_list_id, ids,
        [e.price_amount for e in data.entries], [e.discount_ppm for e in data.entries],
    )  # fmt: skip
    return len(ids)


async def delete_entry(conn: Connection, price_list_id: uuid.UUID, variant_id: uuid.UUID) -> None:
    await get_price_list(conn, price_list_id)
    if await conn.fetchval(Q.delete_price_list_entry, price_list_id, variant_id) is None:
        raise PriceListEntryNotFound()


ENTRY_LIST = ListSpec(
    source=Q.price_list_entries_source,
    filters={"price_list": Filter("price_list_id")},
    sorts={"variant": Sort("variant_id", "uuid")},
    default_sort="variant",
)


async def list_entries(
    conn: Connection, signer: Signer, price_list_id: uuid.UUID, *, cursor: str | None, limit: int
) -> PriceListEntryPage:
    await get_price_list(conn, price_list_id)
    page = await fetch_page(
        conn, ENTRY_LIST, signer, filters={"price_list": price_list_id}, sort=None, cursor=cursor, limit=limit
    )
    return PriceListEntryPage(
        items=[
            PriceListEntry(
                variant_id=r["variant_id"], price_amount=r["price_amount"], discount_ppm=r["discount_ppm"]
            )
            for r in page.rows
        ],
        next_cursor=page.next_cursor,
    )


async def any_active(conn: Connection) -> bool:
    return bool(await conn.fetchval(Q.any_active_price_list))


async def price_terms(
    conn: Connection, variant_ids: list[uuid.UUID], currency: str, *, signed_in: bool
) -> dict[uuid.UUID, tuple[int | None, int | None]]:
    """Per variant, the (fixed price, discount ppm) of the price list that applies now."""
    rows = await conn.fetch(Q.price_terms, variant_ids, currency, signed_in)
    return {r["variant_id"]: (r["price_amount"], r["discount_ppm"]) for r in rows}

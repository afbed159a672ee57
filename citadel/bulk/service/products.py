"""Bulk upsert of a vendor's products and variants, keyed by the vendor's SKUs.

Each row is checked on its own first (its fields; a SKU used twice in the batch; an unknown
category; a SKU that belongs to another of the vendor's products; a slug another product has);
rows that fail are answered with their errors and the rest go on. The valid rows are then
written set-wise: COPY into temporary tables; the products found by their key are updated in
place where they differ (identical ones are not touched, not even locked, so they answer
``unchanged``) and the new ones inserted, one statement each; their variants the same way.
Every created or changed product has its events written to the outbox in one statement and its
cached page dropped after commit; PostgreSQL search follows by its triggers, Elasticsearch by
the catalog events.
"""

import uuid
from typing import Any, NamedTuple

import msgspec

from citadel.bulk.models import BulkProduct, BulkResult, BulkSummary, RowResult, RowStatus
from citadel.bulk.service.parse import Parsed, row_error, split_valid
from citadel.catalog import service as catalog
from citadel.catalog.models import (
    PRODUCT_SLUGS_TOPIC,
    PRODUCT_TOPIC,
    PriceChanged,
    ProductArchived,
    ProductCreated,
    ProductUpdated,
)
from citadel.kit.db import Connection, load_queries
from citadel.kit.events import emit_many
from citadel.kit.ids import uuid7s
from citadel.kit.money import CURRENCY_EXPONENTS
from citadel.kit.structs import Event
from citadel.kit.text import slugify

Q = load_queries(__file__)

_PRODUCT_COLUMNS = (
    "id", "vendor_sku", "category_id", "name", "slug", "description", "brand", "tags", "attributes",
    "options", "images", "status", "price_amount", "compare_at_amount", "currency", "weight_grams",
    "length_mm", "width_mm", "height_mm", "known",
)  # fmt: skip
_VARIANT_COLUMNS = (
    "id", "vendor_sku", "sku", "name", "option_values", "price_amount", "price_adjustment", "barcode",
    "weight_grams", "position", "known",
)  # fmt: skip
# A variant as its row asks for it: _VARIANT_COLUMNS from "sku" to "position" (the id, key and
# whether it exists come at the write).
VariantRow = tuple[str, str, dict[str, str], int | None, int, str | None, int | None, int]


class Before(NamedTuple):
    """What a row's product was before the batch."""

    product_id: uuid.UUID
    slug: str
    status: str
    price_amount: int


def summarize(results: list[RowResult]) -> BulkResult:
    counts = {"created": 0, "updated": 0, "unchanged": 0, "error": 0}
    for r in results:
        counts[r.status] += 1
    results.sort(key=lambda r: r.row)
    return BulkResult(
        summary=BulkSummary(
            rows=len(results), created=counts["created"], updated=counts["updated"],
            unchanged=counts["unchanged"], errors=counts["error"],
        ),
        results=results,
    )  # fmt: skip


def _variants_of(p: BulkProduct) -> list[VariantRow]:
    if not p.variants:
        return [(p.sku, "Default", {}, None, 0, None, p.weight_grams, 0)]
    return [
        (
            v.sku, v.name or (" / ".join(v.option_values.values()) or v.sku), v.option_values,
            v.price_amount, v.price_adjustment, v.barcode, v.weight_grams, v.position or i,
        )
        for i, v in enumerate(p.variants)
    ]  # fmt: skip


def _row_problems(p: BulkProduct) -> tuple[str, str, str] | None:
    """A row's own inconsistency: (field, message, code), or None."""
    if p.currency not in CURRENCY_EXPONENTS:
        return "currency", "Not a known currency", "invalid_currency"
    if p.compare_at_amount is not None and p.compare_at_amount <= p.price_amount:
        return "compareAtAmount", "Must be above priceAmount", "out_of_range"
    axes = {o.name: set(o.values) for o in p.options}
    for i, v in enumerate(p.variants):
        for name, value in v.option_values.items():
            if name not in axes or value not in axes[name]:
                return (
                    f"variants[{i}].optionValues.{name}",
                    "Not one of the product's options",
                    "invalid_option",
                )
        if v.price_amount is None and p.price_amount + v.price_adjustment < 0:
            return f"variants[{i}].priceAdjustment", "The price would be negative", "out_of_range"
    return None


Checked = tuple[int, BulkProduct, uuid.UUID, "Before | None"]  # row, product, its id, what it was


async def upsert(conn: Connection, vendor_id: uuid.UUID, parsed: list[Parsed]) -> BulkResult:
    await conn.execute(Q.plan_for_keyed_batches)
    batch = _Batch(conn, vendor_id, parsed)
    rows = batch.screen()
    checked = await batch.resolve(rows)
    records, variants, accepted = await batch.assign_slugs(checked)
    if accepted:
        # the list and search pages the batch's public products are on before it writes
        public = [before.product_id for _, _, _, before in accepted if before and before.status == "active"]
        listed = await catalog.listing_scopes(conn, public)
        written, touched = await batch.write(records, variants)
        await batch.answer(accepted, written, touched, listed)
    return summarize(batch.results)


class _Batch:
    def __init__(self, conn: Connection, vendor_id: uuid.UUID, parsed: list[Parsed]) -> None:
        self.conn = conn
        self.vendor_id = vendor_id
        self.valid, self.results = split_valid(parsed, BulkProduct)
        self.parsed = {p.row: p for p in parsed}  # for the fields an updated row named
        self.variants: dict[int, list[VariantRow]] = {}  # by row, made once
        self.skus: set[str] = set()
        self.categories: dict[str, uuid.UUID] = {}
        self.adopt: dict[str, uuid.UUID] = {}
        self.slugs_of: dict[uuid.UUID, str] = {}
        self.owners: dict[str, Any] = {}  # the vendor's variants of the batch's SKUs, as found

    def fail(self, row: int, key: str, field: str, message: str, code: str) -> None:
        self.results.append(row_error(row, key, field, message, code))

    def screen(self) -> list[tuple[int, BulkProduct]]:
        """Each row alone, and SKUs used twice in the batch (the first row keeps them)."""
        rows: list[tuple[int, BulkProduct]] = []
        keys: set[str] = set()
        for row, p in self.valid:
            problem = _row_problems(p)
            variants = self.variants[row] = _variants_of(p)
            skus = [v[0] for v in variants]
            if problem is not None:
                self.fail(row, p.sku, *problem)
            elif p.sku in keys or any(s in self.skus for s in skus) or len(set(skus)) != len(skus):
                self.fail(row, p.sku, "sku", "A SKU used by an earlier row of this batch", "duplicate_sku")
            else:
                keys.add(p.sku)
                self.skus.update(skus)
                rows.append((row, p))
        return rows

    async def resolve(self, rows: list[tuple[int, BulkProduct]]) -> list[Checked]:
        """What exists: categories, the vendor's products by key and its variants by SKU."""
        conn, vendor_id = self.conn, self.vendor_id
        slugs = sorted({p.category for _, p in rows if p.category})
        if slugs:
            self.categories = {r["slug"]: r["id"] for r in await conn.fetch(Q.categories_by_slug, slugs)}
        existing = {
            r["vendor_sku"]: r
            for r in await conn.fetch(Q.products_by_key, vendor_id, [p.sku for _, p in rows])
        }
        owners = {r["sku"]: r for r in await conn.fetch(Q.variants_by_sku, vendor_id, sorted(self.skus))}
        self.owners = owners
        checked: list[Checked] = []
        fresh = iter(uuid7s(len(rows)))  # ids for the products that turn out to be new
        for row, p in rows:
            if p.category and p.category not in self.categories:
                self.fail(row, p.sku, "category", f"No category {p.category!r}", "unknown_category")
                continue
            before: Before | None = None
            if p.sku in existing:
                r = existing[p.sku]
                before = Before(r["id"], r["slug"], r["status"], r["price_amount"])
            elif p.sku in owners and owners[p.sku]["vendor_sku"] is None:
                r = owners[p.sku]  # made through the product API: the product takes its SKU as its key
                before = Before(r["product_id"], r["slug"], r["status"], r["price_amount"])
                self.adopt[p.sku] = r["product_id"]
            product_id = before.product_id if before else next(fresh)
            theirs = (v[0] for v in self.variants[row] if v[0] in owners)
            clash = next((s for s in theirs if owners[s]["product_id"] != product_id), None)
            if clash is not None:
                self.fail(row, p.sku, "sku", f"SKU {clash} belongs to another of your products", "sku_taken")
                continue
            checked.append((row, p, product_id, before))
        return checked

    async def assign_slugs(
        self, checked: list[Checked]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[Checked]]:
        """Existing products keep their slug unless a row sets one; new ones take their name's."""
        wanted: dict[int, list[str]] = {}
        for row, p, _, before in checked:
            if p.slug:
                wanted[row] = [p.slug]
            elif before is None:
                base = slugify(p.name)[:100] or "product"
                wanted[row] = [base, f"{base}-{slugify(p.sku)}"[:120]]
        candidates = sorted({s for options in wanted.values() for s in options})
        taken: dict[str, uuid.UUID] = {}
        if candidates:
            taken = {r["slug"]: r["id"] for r in await self.conn.fetch(Q.slugs_taken, candidates)}
        records: list[tuple[Any, ...]] = []
        variants: list[tuple[Any, ...]] = []
        accepted: list[Checked] = []
        fresh = iter(uuid7s(sum(len(self.variants[row]) for row, *_ in checked)))
        for row, p, product_id, before in checked:
            slug = before.slug if before is not None else ""
            if row in wanted:
                free = next((s for s in wanted[row] if taken.get(s, product_id) == product_id), None)
                if free is None:
                    self.fail(row, p.sku, "slug", "Another product has this slug", "slug_taken")
                    continue
                slug = free
                taken[free] = product_id
            records.append(self._record(p, product_id, slug, before is not None))
            self.slugs_of[product_id] = slug
            key, owners = p.sku, self.owners
            for v in self.variants[row]:
                found = owners.get(v[0])  # a variant found keeps its id and is updated in place
                variants.append((found["id"] if found else next(fresh), key, *v, found is not None))
            accepted.append((row, p, product_id, before))
        return records, variants, accepted

    def _record(self, p: BulkProduct, product_id: uuid.UUID, slug: str, known: bool) -> tuple[Any, ...]:
        """The product's row, in the order of _PRODUCT_COLUMNS."""
        return (
            product_id, p.sku, self.categories.get(p.category) if p.category else None, p.name.strip(),
            slug, p.description, p.brand, sorted({t.strip().lower() for t in p.tags}), p.attributes,
            msgspec.to_builtins(p.options), msgspec.to_builtins(p.images), p.status, p.price_amount,
            p.compare_at_amount, p.currency, p.weight_grams, p.length_mm, p.width_mm, p.height_mm, known,
        )  # fmt: skip

    async def write(
        self, records: list[tuple[Any, ...]], variants: list[tuple[Any, ...]]
    ) -> tuple[dict[str, Any], set[uuid.UUID]]:
        """COPY into temporary tables; then the products found are updated where they differ and
        the new ones inserted, and the same for their variants."""
        conn, vendor_id = self.conn, self.vendor_id
        if self.adopt:
            await conn.execute(Q.adopt_products, vendor_id, list(self.adopt.values()), list(self.adopt))
        await conn.execute(Q.create_bulk_products)
        await conn.execute(Q.create_bulk_variants)
        await conn.copy_records_to_table("bulk_products", records=records, columns=_PRODUCT_COLUMNS)
        await conn.copy_records_to_table("bulk_variants", records=variants, columns=_VARIANT_COLUMNS)
        await conn.execute(Q.insert_bulk_facet_values, vendor_id)
        # (a statement that fails rolls the transaction back, and the setting with it)
        await conn.execute(Q.derived_columns_given)
        written = {r["vendor_sku"]: r for r in await conn.fetch(Q.update_known_products, vendor_id)}
        written.update((r["vendor_sku"], r) for r in await conn.fetch(Q.insert_new_products, vendor_id))
        await conn.execute(Q.derived_columns_left_to_triggers)
        touched = {r["product_id"] for r in await conn.fetch(Q.update_known_variants, vendor_id)}
        touched.update(r["product_id"] for r in await conn.fetch(Q.insert_new_variants, vendor_id))
        return written, touched

    async def answer(
        self,
        accepted: list[Checked],
        written: dict[str, Any],
        touched: set[uuid.UUID],
        listed: frozenset[str],
    ) -> None:
        """Each row's answer; the events of what changed; the cached pages of what changed."""
        conn, vendor_id = self.conn, self.vendor_id
        events: list[tuple[Event, uuid.UUID | str]] = []
        public: list[uuid.UUID] = []
        for row, p, product_id, before in accepted:
            hit = written.get(p.sku)
            actual = hit["id"] if hit is not None else product_id  # a concurrent call may have made it
            slug = self.slugs_of[product_id]
            status: RowStatus = "unchanged"
            if hit is not None and hit["created"]:
                status = "created"
                created = ProductCreated(product_id=actual, vendor_id=vendor_id, status=p.status, slug=slug)
                events.append((created, actual))
            elif hit is not None or actual in touched:
                status = "updated"
                sent = self.parsed[row].fields()
                fields = sorted(str(k) for k in sent if k != "sku") if isinstance(sent, dict) else []
                events.append(
                    (ProductUpdated(product_id=actual, vendor_id=vendor_id, changed=fields), actual)
                )
                if before is not None and hit is not None:
                    events.extend(_follow_ups(before, p, actual, vendor_id))
                    if before.slug != slug:
                        conn.invalidate_after_commit(PRODUCT_SLUGS_TOPIC, before.slug)
            self.results.append(RowResult(row=row, key=p.sku, status=status, id=actual))
            if status == "updated":  # a new product has no cached page to drop
                conn.invalidate_after_commit(PRODUCT_TOPIC, str(actual))
            if status != "unchanged" and "active" in (p.status, before.status if before else ""):
                public.append(actual)
        if events:
            await emit_many(conn, events)
        if public:
            await catalog.listings_changed(conn, public, listed)


def _follow_ups(
    before: "Before", p: BulkProduct, product_id: uuid.UUID, vendor_id: uuid.UUID
) -> list[tuple[Event, uuid.UUID | str]]:
    out: list[tuple[Event, uuid.UUID | str]] = []
    if before.price_amount != p.price_amount:
        out.append(
            (
                PriceChanged(
                    product_id=product_id, variant_id=None, currency=p.currency,
                    old_amount=before.price_amount, new_amount=p.price_amount,
                ),
                product_id,
            )
        )  # fmt: skip
    if p.status == "archived" and before.status != "archived":
        out.append((ProductArchived(product_id=product_id, vendor_id=vendor_id), product_id))
    return out

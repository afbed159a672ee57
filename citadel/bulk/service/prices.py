"""Bulk prices: new prices for up to 10,000 SKUs a call.

A SKU that is a product's key, or the only variant of its product, sets the product's price (and
its compare-at price; one the new price reaches is cleared, as a sale ends); another variant's SKU
sets that variant's own price. The rows are locked in id order and written with one UPDATE per
table; each change writes a ``price_changed`` event (Elasticsearch follows through them) and drops
the product's cached page, and list and search pages are dropped once (PostgreSQL search reads
prices from the products themselves).
"""

import uuid
from typing import Any

from citadel.bulk.models import BulkPrice, BulkResult, RowResult, RowStatus
from citadel.bulk.service.parse import Parsed, row_error, split_valid
from citadel.bulk.service.products import summarize
from citadel.catalog import service as catalog
from citadel.catalog.models import PRODUCT_TOPIC, PriceChanged
from citadel.kit.db import Connection, load_queries
from citadel.kit.events import emit_many
from citadel.kit.structs import Event

Q = load_queries(__file__)


class _Changes:
    def __init__(self) -> None:
        self.products: dict[uuid.UUID, tuple[int, int | None]] = {}
        self.variants: dict[uuid.UUID, int] = {}
        self.events: list[tuple[Event, uuid.UUID | str]] = []


async def apply(conn: Connection, vendor_id: uuid.UUID, parsed: list[Parsed]) -> BulkResult:
    await conn.execute(Q.plan_for_keyed_batches)
    valid, results = split_valid(parsed, BulkPrice)
    rows: list[tuple[int, BulkPrice]] = []
    seen: set[str] = set()
    for row, line in valid:
        if line.sku in seen:
            results.append(
                row_error(row, line.sku, "sku", "Named by an earlier row of this batch", "duplicate_sku")
            )
        elif line.compare_at_amount is not None and line.compare_at_amount <= line.price_amount:
            results.append(
                row_error(row, line.sku, "compareAtAmount", "Must be above priceAmount", "out_of_range")
            )
        else:
            seen.add(line.sku)
            rows.append((row, line))
    skus = sorted(seen)
    keyed = {r["vendor_sku"]: r for r in await conn.fetch(Q.products_by_key_for_update, vendor_id, skus)}
    rest = [s for s in skus if s not in keyed]
    variants = {r["sku"]: r for r in await conn.fetch(Q.price_targets, vendor_id, rest)} if rest else {}
    changes = _Changes()
    updated: set[uuid.UUID] = set()
    for row, line in rows:
        result = _price(row, line, keyed.get(line.sku), variants.get(line.sku), changes)
        results.append(result)
        if result.status == "updated" and result.id is not None:
            conn.invalidate_after_commit(PRODUCT_TOPIC, str(result.id))
            updated.add(result.id)
    if changes.products:
        ids = sorted(changes.products)
        await conn.execute(
            Q.set_product_prices, vendor_id, ids, [changes.products[i][0] for i in ids],
            [changes.products[i][1] for i in ids],
        )  # fmt: skip
    if changes.variants:
        ids = sorted(changes.variants)
        await conn.execute(Q.set_variant_prices, vendor_id, ids, [changes.variants[i] for i in ids])
    if changes.events:
        await emit_many(conn, changes.events)
        await catalog.listings_changed(conn, updated)  # a price moves nothing else: before = after
    return summarize(results)


def _price(row: int, line: BulkPrice, keyed: Any, variant: Any, changes: _Changes) -> RowResult:
    if keyed is not None:
        target, prices_product, product_id = keyed, True, keyed["id"]
    elif variant is not None:
        target, prices_product, product_id = variant, variant["variants"] == 1, variant["product_id"]
    else:
        return row_error(row, line.sku, "sku", f"You have no SKU {line.sku}", "unknown_sku")
    currency = target["currency"]
    if line.currency is not None and line.currency != currency:
        return row_error(
            row, line.sku, "currency", f"The product is priced in {currency}", "currency_mismatch"
        )
    status: RowStatus = "unchanged"
    if prices_product:
        compare = (
            line.compare_at_amount if line.compare_at_amount is not None else target["compare_at_amount"]
        )
        if compare is not None and compare <= line.price_amount:
            compare = None
        if (target["price_amount"], target["compare_at_amount"]) != (line.price_amount, compare):
            status = "updated"
            changes.products[product_id] = (line.price_amount, compare)
            if target["price_amount"] != line.price_amount:
                change = PriceChanged(
                    product_id=product_id, variant_id=None, currency=currency,
                    old_amount=target["price_amount"], new_amount=line.price_amount,
                )  # fmt: skip
                changes.events.append((change, product_id))
    elif line.compare_at_amount is not None:
        message = "A variant has no compare-at price of its own; price its product's SKU"
        return row_error(row, line.sku, "compareAtAmount", message, "not_allowed")
    elif target["variant_price"] != line.price_amount:
        status = "updated"
        changes.variants[target["variant_id"]] = line.price_amount
        old = target["variant_price"] if target["variant_price"] is not None else target["price_amount"]
        change = PriceChanged(
            product_id=product_id, variant_id=target["variant_id"], currency=currency, old_amount=old,
            new_amount=line.price_amount,
        )  # fmt: skip
        changes.events.append((change, product_id))
    return RowResult(row=row, key=line.sku, status=status, id=product_id)

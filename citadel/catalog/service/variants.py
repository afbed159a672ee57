"""Variants: adding, generating, changing and archiving the sellable units of a product.

A variant's effective price is its own, or the product's plus its adjustment; a change of it
announces ``catalog.price_changed`` with the variant named. An active product keeps at least
one active variant, and no two active variants share a combination of option values.
"""

import uuid

import msgspec

from citadel.auth.models import Principal
from citadel.catalog.models import (
    MAX_VARIANTS,
    PriceChanged,
    ProductDetail,
    ProductOption,
    ProductRow,
    ProductUpdated,
    VariantGenerate,
    VariantInput,
    VariantRow,
    VariantUpdate,
)
from citadel.catalog.service.products import (
    Q,
    SkuTaken,
    VariantNotFound,
    check_variant_options,
    combinations,
    insert_variants,
    invalid,
    product_changed,
    view,
    writable_product,
)
from citadel.inventory import service as inventory
from citadel.kit.db import Connection, from_row, from_rows
from citadel.kit.errors import FieldError
from citadel.kit.events import emit


async def add_variant(
    conn: Connection, principal: Principal, product_id: uuid.UUID, data: VariantInput
) -> ProductDetail:
    product = await writable_product(conn, principal, product_id)
    options = msgspec.convert(product.options, list[ProductOption])
    check_variant_options([data], options, field="body")
    existing = [
        v
        for v in from_rows(VariantRow, await conn.fetch(Q.list_variants, product_id))
        if v.status == "active"
    ]
    if len(existing) >= MAX_VARIANTS:
        raise invalid(f"A product has at most {MAX_VARIANTS} variants.", "body", "too_many_variants")
    if options and any(v.option_values == data.option_values for v in existing):
        raise invalid("A variant with these option values exists.", "optionValues", "duplicate_combination")
    await insert_variants(conn, product, [data], field="body")
    await _variants_changed(conn, product)
    return await view(conn, product_id)


async def generate_variants(
    conn: Connection, principal: Principal, product_id: uuid.UUID, data: VariantGenerate
) -> ProductDetail:
    """The combinations of the product's options that have no variant yet (run it again: nothing new)."""
    product = await writable_product(conn, principal, product_id)
    options = msgspec.convert(product.options, list[ProductOption])
    if not options:
        raise invalid("The product has no options to combine.", "options", "no_options")
    existing = from_rows(VariantRow, await conn.fetch(Q.list_variants, product_id))
    have = [v.option_values for v in existing if v.status == "active"]
    missing = [
        v
        for v in combinations(options, data.sku_prefix, data.price_adjustments)
        if v.option_values not in have
    ]
    if missing:
        await insert_variants(conn, product, missing)
        await _variants_changed(conn, product)
    return await view(conn, product_id)


async def update_variant(
    conn: Connection, principal: Principal, product_id: uuid.UUID, variant_id: uuid.UUID, data: VariantUpdate
) -> ProductDetail:
    product = await writable_product(conn, principal, product_id)
    row = await conn.fetchrow(Q.get_variant_for_update, variant_id, product_id)
    if row is None:
        raise VariantNotFound()
    current = from_row(VariantRow, row)
    fields = (
        "sku",
        "name",
        "price_amount",
        "price_adjustment",
        "barcode",
        "weight_grams",
        "position",
        "status",
    )
    values = {
        f: getattr(current, f) if getattr(data, f) is msgspec.UNSET else getattr(data, f) for f in fields
    }
    if values["sku"] != current.sku and await conn.fetchval(
        Q.sku_taken, product.vendor_id, values["sku"], variant_id
    ):
        raise SkuTaken(
            errors=[FieldError(field="sku", message="Already used by another variant", code="sku_taken")]
        )
    if (
        values["status"] == "archived"
        and current.status == "active"
        and product.status == "active"
        and int(await conn.fetchval(Q.count_active_variants, product_id)) <= 1
    ):
        raise invalid("An active product keeps at least one active variant.", "status", "last_variant")
    updated = from_row(
        VariantRow, await conn.fetchrow(Q.update_variant, variant_id, *(values[f] for f in fields))
    )
    if updated.status != current.status:  # an archived variant's stock no longer counts
        await inventory.refresh_product_in_stock(conn, product_id)
    before = (
        current.price_amount
        if current.price_amount is not None
        else product.price_amount + current.price_adjustment
    )
    after = (
        updated.price_amount
        if updated.price_amount is not None
        else product.price_amount + updated.price_adjustment
    )
    if before != after:
        await emit(
            conn,
            PriceChanged(
                product_id=product_id,
                variant_id=variant_id,
                currency=product.currency,
                old_amount=before,
                new_amount=after,
            ),
            aggregate_id=product_id,
        )
    await _variants_changed(conn, product)
    return await view(conn, product_id)


async def archive_variant(
    conn: Connection, principal: Principal, product_id: uuid.UUID, variant_id: uuid.UUID
) -> ProductDetail:
    return await update_variant(conn, principal, product_id, variant_id, VariantUpdate(status="archived"))


async def _variants_changed(conn: Connection, product: ProductRow) -> None:
    await emit(
        conn,
        ProductUpdated(product_id=product.id, vendor_id=product.vendor_id, changed=["variants"]),
        aggregate_id=product.id,
    )
    await product_changed(conn, product, was_public=product.status == "active")

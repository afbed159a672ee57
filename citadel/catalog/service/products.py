"""Products and variants: who may write them, what a valid one is, and what a change announces.

Vendors write their own products (and only while their vendor account is active); admins write
any, naming the vendor on create. Another vendor's product answers 404, as if it did not exist.
Every product has at least one variant: a product made with one ``sku`` and no options gets one
default variant, a product with options and a ``sku`` prefix gets every combination. Slugs are
unique and stable: derived from the name once, changed only when a writer sets one. Every write
drops the product's cached page and the cached lists after commit, and writes its events
(created, updated, archived, price changed) to the outbox in the same transaction.
"""

import itertools
import uuid
from typing import Any

import msgspec

from citadel.auth.models import Principal
from citadel.catalog.models import (
    MAX_VARIANTS,
    PRODUCT_SLUGS_TOPIC,
    PRODUCT_TOPIC,
    ListSort,
    PriceChanged,
    ProductArchived,
    ProductCreate,
    ProductCreated,
    ProductDetail,
    ProductOption,
    ProductPage,
    ProductRow,
    ProductUpdate,
    ProductUpdated,
    VariantInput,
    VariantRow,
)
from citadel.catalog.service.categories import CategoryNotFound
from citadel.catalog.service.listings import listing_scopes, listings_changed
from citadel.catalog.service.reads import list_vendor_products, product_detail
from citadel.kit.db import Connection, from_row, from_rows, load_queries
from citadel.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7, uuid7s
from citadel.kit.money import check_currency
from citadel.kit.security import Signer
from citadel.kit.text import slugify, squash
from citadel.vendors import service as vendors

Q = load_queries(__file__)


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "Product not found"


class VariantNotFound(NotFound):
    code = "variant_not_found"
    title = "Variant not found"


class ProductSlugTaken(Conflict):
    code = "slug_taken"
    title = "Slug already in use"


class SkuTaken(Conflict):
    code = "sku_taken"
    title = "SKU already used by another of your variants"


class InvalidProduct(ValidationFailed):
    code = "validation_failed"
    title = "Validation failed"


def invalid(detail: str, field: str, code: str, message: str | None = None) -> InvalidProduct:
    return InvalidProduct(detail, errors=[FieldError(field=field, message=message or detail, code=code)])


# --- who may write ---------------------------------------------------------------------------------


async def _vendor_for_create(
    conn: Connection, principal: Principal, vendor_id: uuid.UUID | None
) -> uuid.UUID:
    if principal.role == "admin":
        if vendor_id is None:
            raise invalid("Name the vendor the product belongs to.", "vendorId", "required")
        try:
            return (await vendors.get_vendor(conn, vendor_id)).id
        except vendors.VendorNotFound:
            raise invalid("No such vendor.", "vendorId", "vendor_not_found") from None
    vendor = await vendors.selling_vendor_of_user(conn, principal.user_id)
    if vendor_id is not None and vendor_id != vendor.id:
        raise invalid("Vendors list products as themselves.", "vendorId", "not_allowed")
    return vendor.id


async def writable_product(conn: Connection, principal: Principal, product_id: uuid.UUID) -> ProductRow:
    """The product, locked, if the caller may change it (another vendor's is 'not found')."""
    row = await conn.fetchrow(Q.get_product_for_update, product_id)
    if row is None:
        raise ProductNotFound()
    product = from_row(ProductRow, row)
    if principal.role != "admin":
        vendor = await vendors.selling_vendor_of_user(conn, principal.user_id)
        if vendor.id != product.vendor_id:
            raise ProductNotFound()
    return product


async def product_changed(
    conn: Connection, product: ProductRow, was_public: bool, before: frozenset[str] = frozenset()
) -> None:
    """Its page dropped after commit, and the list and search pages it was (``before``) or is on."""
    conn.invalidate_after_commit(PRODUCT_TOPIC, str(product.id))
    if was_public or product.status == "active":
        await listings_changed(conn, [product.id], before)


# --- checking input ------------------------------------------------------------------------------


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = [squash(tag).lower() for tag in tags]
    return list(dict.fromkeys(tag for tag in cleaned if tag))


def _clean_attributes(attributes: dict[str, str | int | bool]) -> dict[str, str | int | bool]:
    return {key: squash(value) if isinstance(value, str) else value for key, value in attributes.items()}


def _check_options(options: list[ProductOption]) -> list[ProductOption]:
    names = [option.name for option in options]
    if len(set(names)) != len(names):
        raise invalid("Each option appears once.", "options", "duplicate_option")
    for i, option in enumerate(options):
        values = [squash(v) for v in option.values]
        if len(set(values)) != len(values):
            raise invalid(
                f"Option {option.name} lists a value twice.", f"options[{i}].values", "duplicate_value"
            )
    return [ProductOption(name=o.name, values=[squash(v) for v in o.values]) for o in options]


def _check_prices(price: int, compare_at: int | None) -> None:
    if compare_at is not None and compare_at <= price:
        raise invalid(
            "The compare-at price is the higher, earlier price: it must exceed the price.",
            "compareAtAmount",
            "invalid_compare_at",
        )


def check_variant_options(
    variants: list[VariantInput], options: list[ProductOption], field: str = "variants"
) -> None:
    allowed = {o.name: set(o.values) for o in options}
    seen_skus: set[str] = set()
    seen_combos: set[tuple[tuple[str, str], ...]] = set()
    for i, variant in enumerate(variants):
        if variant.sku in seen_skus:
            raise invalid("Each variant needs its own SKU.", f"{field}[{i}].sku", "duplicate_sku")
        seen_skus.add(variant.sku)
        for name, value in variant.option_values.items():
            if name not in allowed or value not in allowed[name]:
                raise invalid(
                    f"{name}={value} is not one of the product's options.",
                    f"{field}[{i}].optionValues",
                    "invalid_option_value",
                )
        if options and set(variant.option_values) != set(allowed):
            raise invalid(
                "A variant names a value for every option of the product.",
                f"{field}[{i}].optionValues",
                "incomplete_options",
            )
        combo = tuple(sorted(variant.option_values.items()))
        if options and combo in seen_combos:
            raise invalid(
                "Two variants have the same option values.",
                f"{field}[{i}].optionValues",
                "duplicate_combination",
            )
        seen_combos.add(combo)


def combinations(
    options: list[ProductOption], prefix: str, adjustments: dict[str, dict[str, int]] | None = None
) -> list[VariantInput]:
    """One variant per combination of option values: ``PREFIX-M-RED``, named ``M / Red``."""
    count = 1
    for option in options:
        count *= len(option.values)
    if count > MAX_VARIANTS:
        raise invalid(
            f"The options make {count} combinations; a product has at most {MAX_VARIANTS}.",
            "options",
            "too_many_variants",
        )
    adjustments = adjustments or {}
    made = []
    for position, values in enumerate(itertools.product(*(option.values for option in options))):
        chosen = {option.name: value for option, value in zip(options, values, strict=True)}
        suffix = "-".join(slugify(value, 20).upper() or "X" for value in values)
        made.append(
            VariantInput(
                sku=f"{prefix}-{suffix}"[:64] if suffix else prefix,
                name=" / ".join(values) or None,
                option_values=chosen,
                price_adjustment=sum(
                    adjustments.get(o.name, {}).get(v, 0) for o, v in zip(options, values, strict=True)
                ),
                position=position,
            )
        )
    return made


async def _free_slug(conn: Connection, wanted: str | None, name: str, product_id: uuid.UUID) -> str:
    if wanted is not None:
        if await conn.fetchval(Q.product_slug_taken, wanted, product_id):
            raise ProductSlugTaken(
                errors=[FieldError(field="slug", message="Already in use", code="slug_taken")]
            )
        return wanted
    base = slugify(name) or "product"
    taken = {row["slug"] for row in await conn.fetch(Q.slugs_like, base)}
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in itertools.count(2) if f"{base}-{n}" not in taken)


async def _check_category(conn: Connection, category_id: uuid.UUID | None) -> None:
    if category_id is not None and await conn.fetchrow(Q.get_category, category_id) is None:
        raise CategoryNotFound(
            errors=[FieldError(field="categoryId", message="No such category", code="category_not_found")]
        )


async def insert_variants(
    conn: Connection, product: ProductRow, variants: list[VariantInput], field: str = "variants"
) -> None:
    taken = {
        row["sku"] for row in await conn.fetch(Q.skus_taken, product.vendor_id, [v.sku for v in variants])
    }
    if taken:
        raise SkuTaken(
            errors=[
                FieldError(
                    field=f"{field}[{i}].sku", message="Already used by another variant", code="sku_taken"
                )
                for i, v in enumerate(variants)
                if v.sku in taken
            ]
        )
    inserted = await conn.fetch(
        Q.insert_variants,
        uuid7s(len(variants)),
        product.id,
        product.vendor_id,
        [v.sku for v in variants],
        [v.barcode for v in variants],
        [
            squash(v.name) if v.name else (" / ".join(v.option_values.values()) or product.name)
            for v in variants
        ],
        [v.option_values for v in variants],
        [v.price_amount for v in variants],
        [v.price_adjustment for v in variants],
        [v.weight_grams for v in variants],
        [v.position for v in variants],
    )
    if len(inserted) != len(variants):  # a concurrent writer took a SKU between the check and now
        raise SkuTaken("Another write took one of these SKUs just now; try again.")


# --- products ---------------------------------------------------------------------------------


async def create_product(conn: Connection, principal: Principal, data: ProductCreate) -> ProductDetail:
    vendor_id = await _vendor_for_create(conn, principal, data.vendor_id)
    check_currency(data.currency)
    _check_prices(data.price_amount, data.compare_at_amount)
    options = _check_options(data.options)
    if data.variants:
        if data.sku is not None:
            raise invalid("Give either variants or one sku, not both.", "sku", "not_allowed")
        variants = data.variants
        check_variant_options(variants, options)
    elif data.sku is not None:
        variants = combinations(options, data.sku) if options else [VariantInput(sku=data.sku)]
    else:
        raise invalid(
            "A product needs variants, or one sku for its single variant.", "sku", "variants_required"
        )
    await _check_category(conn, data.category_id)
    product_id = uuid7()
    name = squash(data.name)
    slug = await _free_slug(conn, data.slug, name, product_id)
    row = await conn.fetchrow(
        Q.insert_product, product_id, vendor_id, data.category_id, name, slug, data.description,
        data.brand and squash(data.brand), _clean_tags(data.tags), _clean_attributes(data.attributes),
        [msgspec.to_builtins(o) for o in options], [msgspec.to_builtins(i) for i in data.images],
        data.status, data.price_amount, data.compare_at_amount, data.currency, data.weight_grams,
        data.length_mm, data.width_mm, data.height_mm, data.tax_category,
    )  # fmt: skip
    product = from_row(ProductRow, row)
    await insert_variants(conn, product, variants)
    await emit(
        conn,
        ProductCreated(product_id=product.id, vendor_id=vendor_id, status=product.status, slug=product.slug),
        aggregate_id=product.id,
    )
    await product_changed(conn, product, was_public=False)
    return await view(conn, product.id)


_UPDATABLE = (
    "category_id", "name", "slug", "description", "brand", "tags", "attributes", "options", "images",
    "status", "price_amount", "compare_at_amount", "weight_grams", "length_mm", "width_mm", "height_mm",
    "tax_category",
)  # fmt: skip


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def update_product(
    conn: Connection, principal: Principal, product_id: uuid.UUID, data: ProductUpdate
) -> ProductDetail:
    current = await writable_product(conn, principal, product_id)
    values: dict[str, Any] = {name: getattr(current, name) for name in _UPDATABLE}
    for name in _UPDATABLE:
        given = getattr(data, name)
        if given is not msgspec.UNSET:
            values[name] = given
    values["name"] = squash(values["name"])
    if data.brand is not msgspec.UNSET and data.brand is not None:
        values["brand"] = squash(data.brand)
    if data.tags is not msgspec.UNSET:
        values["tags"] = _clean_tags(data.tags)
    if data.attributes is not msgspec.UNSET:
        values["attributes"] = _clean_attributes(data.attributes)
    if data.options is not msgspec.UNSET:
        options = _check_options(data.options)
        await _check_options_still_fit(conn, product_id, options)
        values["options"] = [msgspec.to_builtins(o) for o in options]
    if data.images is not msgspec.UNSET:
        values["images"] = [msgspec.to_builtins(i) for i in data.images]
    if data.slug is not msgspec.UNSET and data.slug != current.slug:
        values["slug"] = await _free_slug(conn, data.slug, values["name"], product_id)
    _check_prices(values["price_amount"], values["compare_at_amount"])
    if data.category_id is not msgspec.UNSET and data.category_id != current.category_id:
        await _check_category(conn, data.category_id)
    if (
        values["status"] == "active"
        and current.status != "active"
        and not await conn.fetchval(Q.count_active_variants, product_id)
    ):
        raise invalid(
            "A product goes on sale with at least one active variant.", "status", "no_active_variants"
        )
    changed = [name for name in _UPDATABLE if values[name] != getattr(current, name)]
    if not changed:
        return await view(conn, product_id)
    before = await listing_scopes(conn, [product_id]) if current.status == "active" else frozenset()
    product = from_row(
        ProductRow, await conn.fetchrow(Q.update_product, product_id, *(values[n] for n in _UPDATABLE))
    )
    await _announce(conn, current, product, changed, before)
    return await view(conn, product_id)


async def _check_options_still_fit(
    conn: Connection, product_id: uuid.UUID, options: list[ProductOption]
) -> None:
    allowed = {o.name: set(o.values) for o in options}
    for variant in from_rows(VariantRow, await conn.fetch(Q.list_variants, product_id)):
        if variant.status != "active":
            continue
        for name, value in variant.option_values.items():
            if value not in allowed.get(name, set()):
                raise invalid(
                    f"Variant {variant.sku} still uses {name}={value}; archive it or keep the value.",
                    "options",
                    "option_in_use",
                )


async def _announce(
    conn: Connection, before: ProductRow, after: ProductRow, changed: list[str], listed: frozenset[str]
) -> None:
    await emit(
        conn,
        ProductUpdated(product_id=after.id, vendor_id=after.vendor_id, changed=[_camel(n) for n in changed]),
        aggregate_id=after.id,
    )
    if after.price_amount != before.price_amount:
        await emit(
            conn,
            PriceChanged(
                product_id=after.id, variant_id=None, currency=after.currency,
                old_amount=before.price_amount, new_amount=after.price_amount,
            ),
            aggregate_id=after.id,
        )  # fmt: skip
    if after.slug != before.slug:
        conn.invalidate_after_commit(PRODUCT_SLUGS_TOPIC, before.slug)
    if after.status == "archived" and before.status != "archived":
        await emit(
            conn, ProductArchived(product_id=after.id, vendor_id=after.vendor_id), aggregate_id=after.id
        )
    await product_changed(conn, after, was_public=before.status == "active", before=listed)


async def archive_product(conn: Connection, principal: Principal, product_id: uuid.UUID) -> None:
    current = await writable_product(conn, principal, product_id)
    if current.status != "archived":
        await update_product(conn, principal, product_id, ProductUpdate(status="archived"))


async def view(conn: Connection, product_id: uuid.UUID) -> ProductDetail:
    detail = await product_detail(conn, product_id)
    if detail is None:  # just written in this transaction: it exists
        raise ProductNotFound()
    return detail


# --- what owners read ------------------------------------------------------------------------------


async def preview_product(conn: Connection, principal: Principal, ref: str) -> ProductDetail:
    """A product of any status by id or slug, for its own vendor and for admins."""
    try:
        product_id: uuid.UUID | None = uuid.UUID(ref)
    except ValueError:
        product_id = await conn.fetchval(Q.product_id_by_slug, ref)
    detail = await product_detail(conn, product_id) if product_id else None
    if detail is None:
        raise ProductNotFound()
    if principal.role != "admin":
        vendor = await vendors.vendor_of_user(conn, principal.user_id)
        if vendor is None or vendor.id != detail.vendor.id:
            raise ProductNotFound()
    return detail


async def vendor_products(
    conn: Connection,
    signer: Signer,
    principal: Principal,
    *,
    vendor_id: uuid.UUID | None,
    status: str | None,
    sort: ListSort,
    cursor: str | None,
    limit: int,
) -> ProductPage:
    """A vendor's own products (admins: any vendor's, or everyone's)."""
    if principal.role != "admin":
        own = await vendors.vendor_of_user(conn, principal.user_id)
        if own is None or (vendor_id is not None and vendor_id != own.id):
            return ProductPage(items=[], next_cursor=None)
        vendor_id = own.id
    return await list_vendor_products(
        conn, signer, vendor_id, status=status, sort=sort, cursor=cursor, limit=limit
    )

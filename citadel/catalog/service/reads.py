"""Reading the catalog: product pages, product lists and the category tree, cached as encoded JSON.

Public reads go through the worker's response cache (memory, then Redis, then PostgreSQL) and
come back as ``CachedBody``: the encoded bytes and their ETag, ready to send. A product page is
one query; a list page is one query built by the whitelisting list builder. Only active
products are public; their vendors and admins read drafts through the uncached
``product_detail``.
"""

import uuid

import asyncpg
import msgspec

from citadel.catalog.models import (
    CATEGORIES_TOPIC,
    PRODUCT_LISTS_TOPIC,
    PRODUCT_SLUGS_TOPIC,
    PRODUCT_TOPIC,
    CategoryRef,
    Dimensions,
    Image,
    ListSort,
    ProductDetail,
    ProductFilters,
    ProductOption,
    ProductPage,
    ProductSummary,
    SellableVariant,
    Variant,
)
from citadel.catalog.service.categories import category_index
from citadel.catalog.service.listings import list_scopes
from citadel.kit.cache import CachedBody
from citadel.kit.db import Connection, load_queries
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.runtime import Runtime
from citadel.kit.security import Signer
from citadel.vendors.models import VendorRef

Q = load_queries(__file__)

_encoder = msgspec.json.Encoder()
_options = msgspec.json.Decoder(list[ProductOption])
_images = msgspec.json.Decoder(list[Image])
_attributes = msgspec.json.Decoder(dict[str, str | int | bool])
_image = msgspec.json.Decoder(Image)


def _variant(row: asyncpg.Record) -> Variant:
    variant_id, sku, name, option_values, price, barcode, weight, position, status, available = row
    return Variant(
        id=variant_id,
        sku=sku,
        name=name,
        option_values=option_values,
        price_amount=price,
        barcode=barcode,
        weight_grams=weight,
        position=position,
        status=status,
        available=available,
        in_stock=available > 0,
    )


def _detail_of(row: asyncpg.Record, breadcrumbs: list[CategoryRef]) -> ProductDetail:
    variants = [_variant(v) for v in row["variants"] or ()]
    return ProductDetail(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        brand=row["brand"],
        status=row["status"],
        vendor=VendorRef(id=row["vendor_id"], name=row["vendor_name"], slug=row["vendor_slug"]),
        category=breadcrumbs[-1] if breadcrumbs else None,
        breadcrumbs=breadcrumbs,
        tags=row["tags"],
        attributes=_attributes.decode(row["attributes"]),
        options=_options.decode(row["options"]),
        images=_images.decode(row["images"]),
        price_amount=row["price_amount"],
        compare_at_amount=row["compare_at_amount"],
        currency=row["currency"],
        weight_grams=row["weight_grams"],
        dimensions=Dimensions(
            length_mm=row["length_mm"], width_mm=row["width_mm"], height_mm=row["height_mm"]
        ),
        tax_category=row["tax_category"],
        in_stock=any(v.in_stock for v in variants),
        variants=variants,
        published_at=row["published_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def product_detail(conn: Connection, product_id: uuid.UUID) -> ProductDetail | None:
    """A product of any status, uncached (what its vendor and admins see)."""
    row = await conn.fetchrow(Q.product_detail, product_id)
    if row is None:
        return None
    crumbs = await conn.fetch(Q.category_breadcrumbs, row["category_id"]) if row["category_id"] else []
    return _detail_of(row, [CategoryRef(id=c["id"], name=c["name"], slug=c["slug"]) for c in crumbs])


async def _product_id(runtime: Runtime, ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        pass

    async def load(slug: str) -> uuid.UUID | None:
        async with runtime.db.connection() as conn:
            found: uuid.UUID | None = await conn.fetchval(Q.product_id_by_slug, slug)
            return found

    slug_ids = runtime.local_cache(PRODUCT_SLUGS_TOPIC, max_entries=100_000)
    found: uuid.UUID | None = await slug_ids.get(ref, load)
    if found is None:  # not kept: the slug may belong to a product made a moment from now
        slug_ids.drop(ref)
    return found


async def product_page(runtime: Runtime, ref: str) -> CachedBody | None:
    """The public page of an active product, by id or slug; None if there is none."""
    if hit := runtime.responses.peek(PRODUCT_TOPIC, ref):  # the hot path: no parsing, no await
        return hit
    product_id = await _product_id(runtime, ref)
    if product_id is None:
        return None

    async def load() -> bytes | None:
        async with runtime.db.connection() as conn:
            row = await conn.fetchrow(Q.product_detail, product_id)
        if row is None or row["status"] != "active":
            return None
        index = await category_index(runtime)
        category = index.rows.get(row["category_id"]) if row["category_id"] else None
        return _encoder.encode(_detail_of(row, index.breadcrumbs(category) if category else []))

    key = str(product_id)
    return await runtime.responses.get(PRODUCT_TOPIC, key, key, load)


# --- lists ---------------------------------------------------------------------------------------

_SORTS = {
    "newest": Sort("created_at", "timestamp", descending=True),
    "price_asc": Sort("price_amount", "int"),
    "price_desc": Sort("price_amount", "int", descending=True),
    "popular": Sort("units_sold_30d", "int", descending=True),
}
_FILTERS = {
    "category": Filter("category_id", "in"),
    "vendor": Filter("vendor_id"),
    "min_price": Filter("price_amount", "gte"),
    "max_price": Filter("price_amount", "lte"),
    "currency": Filter("currency"),
    "in_stock": Filter("in_stock"),
    "tags": Filter("tags", "has_all"),
    "attributes": Filter("attributes", "matches_all"),
    "status": Filter("status"),
}
PRODUCT_LIST = ListSpec(source=Q.product_list_source, filters=_FILTERS, sorts=_SORTS, default_sort="newest")
VENDOR_PRODUCT_LIST = ListSpec(
    source=Q.vendor_product_list_source, filters=_FILTERS, sorts=_SORTS, default_sort="newest"
)


def filter_values(filters: ProductFilters) -> dict[str, object]:
    """The list builder's named filter values (None: not filtered)."""
    return {
        "category": list(filters.category_ids) if filters.category_ids is not None else None,
        "vendor": filters.vendor_id,
        "min_price": filters.min_price,
        "max_price": filters.max_price,
        "currency": filters.currency,
        "in_stock": filters.in_stock,
        "tags": list(filters.tags) or None,
        "attributes": [[{key: value} for value in values] for key, values in filters.attributes] or None,
    }


def _summary(row: asyncpg.Record) -> ProductSummary:
    image = row["image"]
    return ProductSummary(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        brand=row["brand"],
        vendor_id=row["vendor_id"],
        category_id=row["category_id"],
        status=row["status"],
        price_amount=row["price_amount"],
        compare_at_amount=row["compare_at_amount"],
        currency=row["currency"],
        image=msgspec.convert(image, Image) if image else None,
        tags=row["tags"],
        in_stock=row["in_stock"],
        created_at=row["created_at"],
    )


async def _page(
    conn: Connection,
    spec: ListSpec,
    signer: Signer,
    filters: dict[str, object],
    sort: ListSort,
    cursor: str | None,
    limit: int,
) -> ProductPage:
    page = await fetch_page(conn, spec, signer, filters=filters, sort=sort, cursor=cursor, limit=limit)
    return ProductPage(items=[_summary(row) for row in page.rows], next_cursor=page.next_cursor)


async def list_products(
    runtime: Runtime, filters: ProductFilters, *, sort: ListSort, cursor: str | None, limit: int, key: str
) -> CachedBody:
    """A page of active products (cached under ``key``, the request's identity, until a product
    it may hold changes, or a category)."""

    async def load() -> bytes:
        async with runtime.db.connection() as conn:
            page = await _page(
                conn, PRODUCT_LIST, runtime.cursors, filter_values(filters), sort, cursor, limit
            )
        return _encoder.encode(page)

    body = await runtime.responses.get(PRODUCT_LISTS_TOPIC, list_scopes(filters), key, load)
    assert body is not None  # a list always loads
    return body


async def list_vendor_products(
    conn: Connection,
    signer: Signer,
    vendor_id: uuid.UUID | None,
    *,
    status: str | None,
    sort: ListSort,
    cursor: str | None,
    limit: int,
) -> ProductPage:
    """Every product of a vendor (or of all vendors), of any status: uncached, for their owners."""
    values: dict[str, object] = {"vendor": vendor_id, "status": status}
    return await _page(conn, VENDOR_PRODUCT_LIST, signer, values, sort, cursor, limit)


async def category_tree(runtime: Runtime) -> CachedBody:
    async def load() -> bytes:
        return _encoder.encode((await category_index(runtime)).tree(active_only=True))

    body = await runtime.responses.get(CATEGORIES_TOPIC, "*", "tree", load)
    assert body is not None
    return body


async def sellable_variants(
    conn: Connection, variant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, SellableVariant]:
    """The variants a cart holds, as pricing needs them (missing ids are simply absent)."""
    rows = await conn.fetch(Q.sellable_variants, variant_ids)
    return {row["variant_id"]: SellableVariant(**row) for row in rows}

"""Product lists: whitelisted filters and sorts, keyset pages by signed cursor, HTTP caching."""

from typing import Any

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import (
    Seller,
    create_category,
    create_product,
    create_seller,
    create_warehouse,
    set_stock,
)
from tests.fixtures.factories import create_account


async def _all_pages(client: AppClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(
            "/api/v1/products", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["nextCursor"]
        if cursor is None:
            return items


@pytest.fixture
async def shop(client: AppClient) -> tuple[Seller, list[dict[str, Any]]]:
    """One vendor's seven products, with distinct prices, tags and attributes."""
    seller = await create_seller(client)
    products = []
    for n, price in enumerate([500, 1500, 2500, 3500, 4500, 5500, 6500]):
        products.append(
            await create_product(
                client,
                seller,
                priceAmount=price,
                tags=["gift"] if n % 2 == 0 else ["sale"],
                attributes={"size_cm": 10 * n, "colour": "red" if n < 3 else "blue", "organic": n == 1},
            )
        )
    return seller, products


async def test_keyset_pages_cover_every_product_once_in_order(
    client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]
) -> None:
    seller, products = shop
    vendor = str(seller.vendor_id)
    newest = await _all_pages(client, vendor=vendor, limit=3)
    assert [p["id"] for p in newest] == [p["id"] for p in reversed(products)]
    cheap_first = await _all_pages(client, vendor=vendor, sort="price_asc", limit=2)
    assert [p["priceAmount"] for p in cheap_first] == [500, 1500, 2500, 3500, 4500, 5500, 6500]
    dear_first = await _all_pages(client, vendor=vendor, sort="price_desc", limit=4)
    assert [p["priceAmount"] for p in dear_first] == [6500, 5500, 4500, 3500, 2500, 1500, 500]
    popular = await _all_pages(client, vendor=vendor, sort="popular", limit=5)
    assert len(popular) == 7


async def test_filters(client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]) -> None:
    seller, products = shop
    vendor = str(seller.vendor_id)

    async def ids(**params: Any) -> set[str]:
        return {p["id"] for p in await _all_pages(client, vendor=vendor, **params)}

    def where(*indexes: int) -> set[str]:
        return {products[i]["id"] for i in indexes}

    assert await ids(minPrice=1500, maxPrice=3500) == where(1, 2, 3)
    assert await ids(minPrice=1500, maxPrice=3500, currency="EUR") == set()
    assert await ids(tag="gift") == where(0, 2, 4, 6)
    assert await ids(tag=["gift", "sale"]) == set()
    assert await ids(attr="colour:red") == where(0, 1, 2)
    assert await ids(attr="size_cm:40") == where(4)
    assert await ids(attr="organic:true") == where(1)
    assert await ids(attr=["colour:blue", "size_cm:60"]) == where(6)
    assert await ids(inStock="false") == where(*range(7))
    assert await ids(inStock="true") == set()


async def test_in_stock_follows_the_stock(
    client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]
) -> None:
    seller, products = shop
    admin = await create_account(client, "admin")
    warehouse = await create_warehouse(client, admin)
    await set_stock(client, seller, products[3]["variants"][0]["id"], warehouse["id"], 5)
    stocked = await _all_pages(client, vendor=str(seller.vendor_id), inStock="true")
    assert [p["id"] for p in stocked] == [products[3]["id"]]
    assert stocked[0]["inStock"] is True


async def test_category_filter_takes_descendants(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    top = await create_category(client, admin)
    child = await create_category(client, admin, parentId=top["id"])
    a = await create_product(client, seller, categoryId=top["id"])
    b = await create_product(client, seller, categoryId=child["id"])
    assert {p["id"] for p in await _all_pages(client, category=top["id"])} == {a["id"], b["id"]}
    assert {p["id"] for p in await _all_pages(client, category=child["slug"])} == {b["id"]}


async def test_a_cursor_continues_only_its_own_list(
    client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]
) -> None:
    seller, _ = shop
    first = await client.get("/api/v1/products", params={"vendor": str(seller.vendor_id), "limit": 2})
    cursor = first.json()["nextCursor"]
    other_sort = await client.get(
        "/api/v1/products",
        params={"vendor": str(seller.vendor_id), "limit": 2, "sort": "price_asc", "cursor": cursor},
    )
    assert other_sort.status_code == 422
    assert other_sort.json()["errors"][0]["code"] == "invalid_cursor"
    other_filter = await client.get("/api/v1/products", params={"limit": 2, "cursor": cursor})
    assert other_filter.status_code == 422
    forged = cursor[:-2] + ("yy" if cursor[-2:] == "xx" else "xx")  # always differs from the real cursor
    tampered = await client.get("/api/v1/products", params={"cursor": forged})
    assert tampered.status_code == 422


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"limit": 101}, "limit", "invalid"),
        ({"limit": 0}, "limit", "invalid"),
        ({"sort": "cheapest"}, "sort", "invalid"),
        ({"cursor": "garbage"}, "cursor", "invalid_cursor"),
        ({"colour": "red"}, "colour", "unknown_parameter"),
        ({"minPrice": -1}, "minPrice", "invalid"),
        ({"minPrice": 10, "maxPrice": 5}, "minPrice", "invalid_range"),
        ({"attr": "nocolon"}, "attr", "invalid_attribute_filter"),
        ({"currency": "dollars"}, "currency", "unknown_currency"),
        ({"category": "no-such-category"}, "category", "unknown_category"),
        ({"vendor": "not-a-uuid"}, "vendor", "invalid"),
        ({"inStock": "maybe"}, "inStock", "invalid"),
    ],
)
async def test_bad_list_parameters(client: AppClient, params: dict, field: str, code: str) -> None:
    response = await client.get("/api/v1/products", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_lists_and_pages_are_cacheable_with_etags(
    client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]
) -> None:
    seller, products = shop
    params = {"vendor": str(seller.vendor_id), "limit": 3}
    first = await client.get("/api/v1/products", params=params)
    assert first.headers["cache-control"] == "public, max-age=30"
    etag = first.headers["etag"]
    again = await client.get("/api/v1/products", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    strong = etag.removeprefix("W/")
    weak = await client.get(
        "/api/v1/products", params=params, headers={"If-None-Match": f'"other", W/{strong}'}
    )
    assert weak.status_code == 304
    plain = await client.get(
        "/api/v1/products", params=params, headers={"If-None-Match": strong, "Accept-Encoding": "identity"}
    )
    assert plain.headers["etag"] == strong  # no gzip possible: the validator stays strong
    assert weak.status_code == 304
    await client.patch(
        f"/api/v1/products/{products[-1]['id']}", json={"name": "Renamed"}, headers=seller.headers
    )
    changed = await client.get("/api/v1/products", params=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["items"][0]["name"] == "Renamed"


async def test_large_pages_are_gzipped_with_a_weak_etag(
    client: AppClient, shop: tuple[Seller, list[dict[str, Any]]]
) -> None:
    seller, _ = shop
    response = await client.get(
        "/api/v1/products", params={"vendor": str(seller.vendor_id)}, headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"].startswith('W/"')
    assert len(response.json()["items"]) == 7
    revalidated = await client.get(
        "/api/v1/products",
        params={"vendor": str(seller.vendor_id)},
        headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["etag"]},
    )
    assert revalidated.status_code == 304
    # the cached page is compressed once per worker: the second answer is the kept bytes
    from citadel.kit.http import _COMPRESSED

    kept = len(_COMPRESSED.entries)
    again = await client.get(
        "/api/v1/products", params={"vendor": str(seller.vendor_id)}, headers={"Accept-Encoding": "gzip"}
    )
    assert again.content == response.content and len(_COMPRESSED.entries) == kept

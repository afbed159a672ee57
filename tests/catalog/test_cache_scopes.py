"""Which cached list and search pages a product write drops: the ones it can change, no others."""

from typing import Any

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import Seller, create_category, create_product, create_seller, unique
from tests.fixtures.factories import create_account


def _loads(client: AppClient, topic: str) -> float:
    """Pages of ``topic`` this worker did not find in its memory (each one went on to load)."""
    return client.runtime.metrics._counters["citadel_cache_lookups"].get((topic, "memory", "miss"), 0.0)


async def _names(client: AppClient, path: str, **params: Any) -> list[str]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def _patch(client: AppClient, seller: Seller, product: dict[str, Any], **fields: Any) -> None:
    response = await client.patch(f"/api/v1/products/{product['id']}", json=fields, headers=seller.headers)
    assert response.status_code == 200, response.text


async def test_a_category_page_is_dropped_only_by_products_filed_under_it(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    shoes = await create_category(client, admin, name=unique("Shoes"))
    boots = await create_category(client, admin, name=unique("Boots"), parentId=shoes["id"])
    hats = await create_category(client, admin, name=unique("Hats"))
    boot = await create_product(client, seller, name=unique("Boot"), categoryId=boots["id"])
    hat = await create_product(client, seller, name=unique("Hat"), categoryId=hats["id"])
    loose = await create_product(client, seller, name=unique("Loose"))
    page = f"/api/v1/categories/{shoes['slug']}/products"
    assert await _names(client, page) == [boot["name"]]

    loads = _loads(client, "product_lists")
    await _patch(client, seller, hat, priceAmount=2500)  # another category
    await _patch(client, seller, loose, priceAmount=2600)  # no category
    await create_product(client, seller, name=unique("New"), categoryId=hats["id"])
    assert await _names(client, page) == [boot["name"]]
    assert _loads(client, "product_lists") == loads  # still the page it kept

    await _patch(client, seller, boot, priceAmount=3100)  # filed under a descendant
    prices = (await client.get(page)).json()["items"]
    assert [p["priceAmount"] for p in prices] == [3100]
    await _patch(client, seller, hat, categoryId=boots["id"])  # moved in: the page it goes to
    assert sorted(await _names(client, page)) == sorted([boot["name"], hat["name"]])
    await _patch(client, seller, boot, categoryId=hats["id"])  # moved out: the page it leaves
    assert await _names(client, page) == [hat["name"]]


async def test_a_search_is_dropped_only_by_products_holding_its_words(client: AppClient) -> None:
    seller = await create_seller(client)
    word = unique("zqkettle").replace("-", "")
    other = unique("zqtoaster").replace("-", "")
    kettle = await create_product(client, seller, name=f"Steel {word}")
    toaster = await create_product(client, seller, name=f"Steel {other}")
    assert await _names(client, "/api/v1/search", q=word) == [kettle["name"]]

    loads = _loads(client, "search_pages")
    await _patch(client, seller, toaster, priceAmount=4100)
    await create_product(client, seller, name=unique("Unrelated"))
    assert await _names(client, "/api/v1/search", q=word) == [kettle["name"]]
    assert _loads(client, "search_pages") == loads

    await _patch(client, seller, kettle, priceAmount=4200)
    found = (await client.get("/api/v1/search", params={"q": word})).json()["items"]
    assert [p["priceAmount"] for p in found] == [4200]
    await _patch(client, seller, toaster, name=f"Steel {word} and {other}")  # renamed to hold it
    assert sorted(await _names(client, "/api/v1/search", q=word)) == sorted(
        [kettle["name"], f"Steel {word} and {other}"]
    )
    await _patch(client, seller, kettle, name="Steel jug")  # renamed away from it
    assert await _names(client, "/api/v1/search", q=word) == [f"Steel {word} and {other}"]


async def test_a_search_that_needed_a_correction_follows_every_product_change(client: AppClient) -> None:
    seller = await create_seller(client)
    word = unique("zqblender").replace("-", "")
    typo = word[:-2] + word[-1]  # one letter short
    quiet = await create_product(client, seller, name=f"Quiet {word}")
    first = (await client.get("/api/v1/search", params={"q": typo})).json()
    assert (first["correctedQuery"], [p["name"] for p in first["items"]]) == (word, [quiet["name"]])
    silent = await create_product(client, seller, name=f"Silent {word}")  # holds the word, not the typo
    assert sorted(await _names(client, "/api/v1/search", q=typo)) == sorted([quiet["name"], silent["name"]])
    exact = await create_product(client, seller, name=f"Loud {typo}")  # now the typo is a word
    assert await _names(client, "/api/v1/search", q=typo) == [exact["name"]]


async def test_a_vendors_bulk_upsert_of_loose_products_keeps_category_and_other_searches_cached(
    client: AppClient,
) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    shoes = await create_category(client, admin, name=unique("Shoes"))
    word = unique("zqsandal").replace("-", "")
    sandal = await create_product(client, seller, name=f"Beach {word}", categoryId=shoes["id"])
    page = f"/api/v1/categories/{shoes['slug']}/products"
    assert await _names(client, page) == [sandal["name"]]
    assert await _names(client, "/api/v1/search", q=word) == [sandal["name"]]
    await client.get("/api/v1/products", params={"limit": 20})

    rows = [
        {"sku": unique("LOOSE").upper(), "name": f"Loose item {n}", "currency": "USD", "priceAmount": 900 + n,
         "status": "active"}
        for n in range(3)
    ]  # fmt: skip
    for price_round in range(2):  # created, then updated
        for r in rows:
            r["priceAmount"] += price_round
        response = await client.post("/api/v1/vendor/bulk/products", json=rows, headers=seller.headers)
        assert response.status_code == 200, response.text
    lists, searches = _loads(client, "product_lists"), _loads(client, "search_pages")
    assert await _names(client, page) == [sandal["name"]]
    assert await _names(client, "/api/v1/search", q=word) == [sandal["name"]]
    assert (_loads(client, "product_lists"), _loads(client, "search_pages")) == (lists, searches)
    newest = await _names(client, "/api/v1/products", limit=20)  # the unfiltered list does change
    assert sorted(newest[:3]) == ["Loose item 0", "Loose item 1", "Loose item 2"]

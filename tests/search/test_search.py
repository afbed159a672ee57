"""Search on PostgreSQL: relevance, typos, the list filters, facets, paging, suggestions, statistics."""

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest

from citadel.search import service as search
from tests.fixtures.app import AppClient
from tests.fixtures.catalog import Seller, create_category, create_product, create_seller, unique
from tests.fixtures.factories import Account, create_account, register


@pytest.fixture
async def catalog(client: AppClient) -> dict[str, Any]:
    """A vendor's small shop whose words no other test uses (a unique brand scopes every search)."""
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    brand = unique("zq").replace("-", "")
    audio = await create_category(client, admin, name=unique("Audio"))
    kitchen = await create_category(client, admin, name=unique("Kitchen"))
    made = {}
    for key, name, price, category, attributes in [
        ("headphones", "Wireless Headphones", 9900, audio, {"colour": "black", "anc": True}),
        ("earbuds", "Wireless Earbuds", 4900, audio, {"colour": "white", "anc": False}),
        ("speaker", "Portable Speaker", 7900, audio, {"colour": "black", "anc": False}),
        ("kettle", "Electric Kettle", 3900, kitchen, {"colour": "steel", "litres": 2}),
        ("kettlebell", "Kettlebell Set", 5900, kitchen, {"colour": "black", "litres": 0}),
    ]:
        made[key] = await create_product(
            client, seller, name=f"{brand} {name}", brand=brand, priceAmount=price, categoryId=category["id"],
            attributes=attributes, description=f"A {name.lower()} that lasts.",
        )  # fmt: skip
    return {"seller": seller, "brand": brand, "audio": audio, "kitchen": kitchen, "products": made}


async def _search(client: AppClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(results: dict[str, Any]) -> list[str]:
    return [item["name"].split(" ", 1)[1] for item in results["items"]]


async def test_all_words_must_match_ranked_by_relevance(client: AppClient, catalog: dict[str, Any]) -> None:
    brand = catalog["brand"]
    wireless = await _search(client, q=f"{brand} wireless")
    assert sorted(_names(wireless)) == ["Wireless Earbuds", "Wireless Headphones"]
    assert wireless["total"] == 2 and wireless["correctedQuery"] is None
    whole_words = await _search(client, q=f"{brand} kettle")
    assert _names(whole_words) == ["Electric Kettle"]  # a submitted word is a word, not a prefix
    typed_so_far = await _search(client, q=f"{brand} headph")
    assert _names(typed_so_far) == ["Wireless Headphones"]  # no whole word: then as a prefix
    assert typed_so_far["correctedQuery"] is None
    # a word the catalog holds stays that word when the filters leave nothing of it
    filtered = await _search(client, q=f"{brand} kettle", minPrice=5000)
    assert filtered["total"] == 0 and filtered["correctedQuery"] is None  # not the kettlebell set


async def test_one_wrong_letter_still_finds_the_product(client: AppClient, catalog: dict[str, Any]) -> None:
    results = await _search(client, q=f"{catalog['brand']} headphnes")
    assert _names(results) == ["Wireless Headphones"]
    assert results["correctedQuery"] == f"{catalog['brand']} headphones"
    swapped = await _search(client, q=f"{catalog['brand']} wirelsss earbds")
    assert _names(swapped) == ["Wireless Earbuds"]


async def test_filters_and_facets(client: AppClient, catalog: dict[str, Any]) -> None:
    brand, audio = catalog["brand"], catalog["audio"]
    results = await _search(client, q=brand, limit=2)
    assert results["total"] == 5
    facets = results["facets"]
    assert {(f["label"], f["count"]) for f in facets["categories"]} == {
        (audio["name"], 3),
        (catalog["kitchen"]["name"], 2),
    }
    assert facets["vendors"] == [
        {"value": str(catalog["seller"].vendor_id), "label": facets["vendors"][0]["label"], "count": 5}
    ]
    assert {(b["minAmount"], b["maxAmount"], b["count"]) for b in facets["price"]} == {
        (2500, 5000, 2),
        (5000, 10000, 3),
    }
    assert {(v["value"], v["count"]) for v in facets["attributes"]["colour"]} == {
        ("black", 3),
        ("white", 1),
        ("steel", 1),
    }
    assert results["nextCursor"] is not None
    in_audio = await _search(client, q=brand, category=audio["slug"], minPrice=5000)
    assert sorted(_names(in_audio)) == ["Portable Speaker", "Wireless Headphones"]
    black = await _search(client, q=brand, attr=["colour:black", "anc:false"])
    assert _names(black) == ["Portable Speaker"]  # the kettlebell set has no "anc" at all
    cheap_first = await _search(client, q=brand, sort="price_asc")
    assert [i["priceAmount"] for i in cheap_first["items"]] == [3900, 4900, 5900, 7900, 9900]
    assert (await _search(client, q=brand, inStock="true"))["total"] == 0


async def test_facet_values_written_after_a_search_are_labelled(
    client: AppClient, catalog: dict[str, Any]
) -> None:
    """The worker labels facet codes it has not seen yet (a value first written after its last
    search) and keeps counting the ones it has."""
    brand = catalog["brand"]
    before = (await _search(client, q=brand))["facets"]["attributes"]
    assert "finish" not in before
    material = unique("m").replace("-", "")
    await create_product(
        client, catalog["seller"], name=f"{brand} Travel Kettle", brand=brand, priceAmount=2900,
        categoryId=catalog["kitchen"]["id"], attributes={"colour": "black", "finish": material},
    )  # fmt: skip
    after = (await _search(client, q=brand))["facets"]
    assert after["attributes"]["finish"] == [{"value": material, "label": material, "count": 1}]
    assert {(v["value"], v["count"]) for v in after["attributes"]["colour"]} == {
        ("black", 4),
        ("white", 1),
        ("steel", 1),
    }
    assert {(f["label"], f["count"]) for f in after["categories"]} == {
        (catalog["audio"]["name"], 3),
        (catalog["kitchen"]["name"], 3),
    }


async def test_pages_by_cursor_at_most_ten_deep(client: AppClient, catalog: dict[str, Any]) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"q": catalog["brand"], "limit": 2, "sort": "price_desc"}
    while True:
        page = await _search(client, **params)
        seen += [i["id"] for i in page["items"]]
        if not page["nextCursor"]:
            break
        params["cursor"] = page["nextCursor"]
    assert len(seen) == len(set(seen)) == 5
    foreign = await client.get("/api/v1/search", params={"q": "other words", "cursor": params["cursor"]})
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({}, "q", "required"),
        ({"q": ""}, "q", "invalid"),
        ({"q": "!!! ???"}, "q", "empty_query"),
        ({"q": "x" * 201}, "q", "invalid"),
        ({"q": "shoes", "colour": "red"}, "colour", "unknown_parameter"),
        ({"q": "shoes", "sort": "random"}, "sort", "invalid"),
        ({"q": "shoes", "limit": 500}, "limit", "invalid"),
        ({"q": "shoes", "cursor": "nope"}, "cursor", "invalid_cursor"),
        ({"q": "shoes", "maxPrice": 1, "minPrice": 2}, "minPrice", "invalid_range"),
    ],
)
async def test_bad_searches(client: AppClient, params: dict, field: str, code: str) -> None:
    response = await client.get("/api/v1/search", params=params)
    assert response.status_code == 422, response.text
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_suggestions_complete_words_products_and_categories(
    client: AppClient, catalog: dict[str, Any]
) -> None:
    brand = catalog["brand"]
    response = await client.get("/api/v1/search/suggest", params={"q": f"{brand} earb"})
    items = response.json()["items"]
    assert {"text": f"{brand} earbuds", "kind": "term", "id": None, "slug": None} in items
    assert any(i["kind"] == "product" and i["id"] == catalog["products"]["earbuds"]["id"] for i in items)
    typo = await client.get("/api/v1/search/suggest", params={"q": f"{brand} earbdus"})
    assert any(i["kind"] == "product" for i in typo.json()["items"])
    category = catalog["audio"]["name"]
    by_category = await client.get("/api/v1/search/suggest", params={"q": category.lower()})
    assert {
        "text": category,
        "kind": "category",
        "id": catalog["audio"]["id"],
        "slug": catalog["audio"]["slug"],
    } in by_category.json()["items"]
    assert (await client.get("/api/v1/search/suggest", params={"q": ""})).status_code == 422


async def test_suggestions_are_kept_a_few_seconds_per_worker(client: AppClient) -> None:
    seller = await create_seller(client)
    word = unique("quorvex").replace("-", "")[:30]
    first = await client.get("/api/v1/search/suggest", params={"q": word[:7]})
    assert [i for i in first.json()["items"] if i["kind"] == "product"] == []
    product = await create_product(client, seller, name=f"{word} lantern")
    kept = await client.get("/api/v1/search/suggest", params={"q": word[:7]})
    assert kept.json() == first.json()  # the same answer, from this worker's memory
    cache = client.runtime.local_cache(search.SUGGEST_TOPIC)
    assert cache.ttl_s == search.SUGGEST_TTL_S <= 10
    _, value = cache._entries[(word[:7], 8)]
    cache._entries[(word[:7], 8)] = (0.0, value)  # as if its few seconds had passed
    fresh = await client.get("/api/v1/search/suggest", params={"q": word[:7]})
    assert product["id"] in {i["id"] for i in fresh.json()["items"] if i["kind"] == "product"}


async def test_admins_read_what_shoppers_search_for(client: AppClient, catalog: dict[str, Any]) -> None:
    popular = f"{catalog['brand']} wireless"
    missing = unique("nothing").replace("-", "")
    for _ in range(3):
        await _search(client, q=popular)
    await _search(client, q=missing)
    await client.runtime.tally.flush()
    admin = await create_account(client, "admin")
    report = await client.get("/api/v1/admin/search/analytics", headers=admin.headers, params={"limit": 100})
    assert report.status_code == 200
    body = report.json()
    assert {"query": popular, "searches": 3, "zeroResults": 0} in body["popular"]
    assert {"query": missing, "searches": 1, "zeroResults": 1} in body["zeroResults"]
    assert 0 < body["zeroResultRate"] <= 1
    customer: Account = await register(client)
    assert (await client.get("/api/v1/admin/search/analytics", headers=customer.headers)).status_code == 403
    backwards = await client.get(
        "/api/v1/admin/search/analytics",
        headers=admin.headers,
        params={"since": "2026-02-01", "until": "2026-01-01"},
    )
    assert backwards.status_code == 422


async def test_search_follows_catalog_changes(client: AppClient, catalog: dict[str, Any]) -> None:
    seller: Seller = catalog["seller"]
    brand = catalog["brand"]
    assert (await _search(client, q=f"{brand} speaker"))["total"] == 1
    speaker = catalog["products"]["speaker"]
    await client.patch(
        f"/api/v1/products/{speaker['id']}", json={"status": "archived"}, headers=seller.headers
    )
    assert (await _search(client, q=f"{brand} speaker"))["total"] == 0
    await create_product(client, seller, name=f"{brand} Bluetooth Speaker", brand=brand)
    assert _names(await _search(client, q=f"{brand} speaker")) == ["Bluetooth Speaker"]


def test_search_words_are_plain_words_only() -> None:
    assert search.words_of("Café & <script>:* | !shoes") == ("café", "script", "shoes")
    assert len(search.words_of(" ".join(f"w{n}" for n in range(20)))) == 8


async def test_workers_flushing_the_same_queries_at_once_do_not_deadlock(client: AppClient) -> None:
    """Two workers' counts of the same queries, gathered in opposite orders, written together:
    both land whole (no deadlock, nothing lost), round after round."""
    day = datetime.now(UTC).date()
    queries = [unique("flush") for _ in range(2000)]
    forward = {(day, q): (1, 0) for q in queries}
    backward = {(day, q): (2, 1) for q in reversed(queries)}
    db = client.runtime.db

    async def flush(counts: dict[tuple[date, str], tuple[int, int]]) -> None:
        async with db.transaction() as conn:
            await search.flush_query_stats(conn, counts)

    rounds = 5
    for _ in range(rounds):
        await asyncio.gather(flush(forward), flush(backward))
    async with db.connection() as conn:
        rows = await conn.fetch(
            "SELECT searches, zero_results FROM search_query_stats WHERE day = $1 AND query = ANY ($2)",
            day,
            queries,
        )
    assert sorted((r["searches"], r["zero_results"]) for r in rows) == [(3 * rounds, rounds)] * len(queries)

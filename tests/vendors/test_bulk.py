"""Synchronous bulk calls: every row answered, bad rows never fail the good ones, writes set-wise."""

import asyncio
from typing import Any

import msgspec

from citadel.bulk.service import parse
from citadel.bulk.service import products as products_service
from tests.fixtures.app import AppClient
from tests.fixtures.catalog import Seller, create_category, create_product, create_seller, unique
from tests.fixtures.commerce import add, checkout, customer, open_shop, ship_to
from tests.fixtures.factories import create_account
from tests.fixtures.vendors import bulk, by_row


def _product(sku: str, **fields: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Item {sku}",
        "priceAmount": 1500,
        "currency": "USD",
        "status": "active",
        **fields,
    }


async def test_product_upsert_answers_every_row(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    category = await create_category(client, admin)
    a, b, c = (unique("BK").upper() for _ in range(3))
    first = by_row(
        await bulk(
            client, seller.headers, "products",
            [
                _product(a, category=category["slug"], tags=["Tools"], attributes={"material": "steel"}),
                _product(b, options=[{"name": "size", "values": ["S", "M"]}],
                         variants=[{"sku": f"{b}-S", "optionValues": {"size": "S"}},
                                   {"sku": f"{b}-M", "optionValues": {"size": "M"}, "priceAdjustment": 200}]),
                _product(a),  # the same SKU again
                _product(c, priceAmount=-5),
                _product(c, category="no-such-category"),
                {"sku": c, "name": "x"},  # missing fields
                _product(c, compareAtAmount=100),
                _product(unique("BK").upper(), variants=[{"sku": f"{b}-S"}]),  # another row's variant SKU
            ],
        )
    )  # fmt: skip
    assert [first[n]["status"] for n in range(1, 9)] == [
        "created", "created", "error", "error", "error", "error", "error", "error",
    ]  # fmt: skip
    assert first[3]["errors"][0]["code"] == "duplicate_sku"
    assert first[4]["errors"][0]["field"] == "priceAmount"
    assert first[5]["errors"][0]["code"] == "unknown_category"
    assert first[6]["errors"][0]["code"] == "validation_failed"
    assert first[7]["errors"][0]["code"] == "out_of_range"
    assert first[8]["errors"][0]["code"] == "duplicate_sku"
    page = await client.get(f"/api/v1/products/{first[2]['id']}")
    assert page.status_code == 200
    assert sorted(v["sku"] for v in page.json()["variants"]) == [f"{b}-M", f"{b}-S"]
    # again: the same rows are unchanged; a changed one is updated (price change event written)
    sizes = [{"name": "size", "values": ["S", "M"]}]
    variants = [
        {"sku": f"{b}-S", "optionValues": {"size": "S"}},
        {"sku": f"{b}-M", "optionValues": {"size": "M"}, "priceAdjustment": 200},
    ]
    same_a = _product(a, category=category["slug"], tags=["tools"], attributes={"material": "steel"})
    second = by_row(
        await bulk(
            client, seller.headers, "products",
            [same_a, _product(b, priceAmount=1700, options=sizes, variants=variants)],
        )
    )  # fmt: skip
    assert (second[1]["status"], second[2]["status"]) == ("unchanged", "updated")
    assert second[1]["id"] == first[1]["id"]
    async with client.runtime.db.connection() as conn:
        events = await conn.fetch(
            "SELECT event_type FROM outbox WHERE aggregate_id = $1 ORDER BY seq", str(first[2]["id"])
        )
    assert [e["event_type"] for e in events] == [
        "catalog.product_created",
        "catalog.product_updated",
        "catalog.price_changed",
    ]
    assert (await client.get(f"/api/v1/products/{first[2]['id']}")).json()["priceAmount"] == 1700


async def test_ndjson_keeps_good_lines_and_refuses_too_many_rows(client: AppClient) -> None:
    seller = await create_seller(client)
    good = unique("ND").upper()
    answer = await bulk(
        client, seller.headers, "products", [_product(good), b"{not json", b'["a list"]'], ndjson=True
    )
    rows = by_row(answer)
    assert rows[1]["status"] == "created"
    assert rows[2]["errors"][0]["code"] == "malformed_json"
    assert rows[3]["status"] == "error"
    timing = dict(part.split(";dur=") for part in answer.headers["server-timing"].split(", "))
    assert set(timing) == {"parse", "apply", "encode", "app"}
    assert float(timing["app"]) >= float(timing["apply"]) > 0
    too_many = await bulk(client, seller.headers, "prices", [{"sku": "X", "priceAmount": 1}] * 10_001)
    assert (too_many.status_code, too_many.json()["code"]) == (422, "too_many_rows")
    broken = await client.post(
        "/api/v1/vendor/bulk/products",
        content=b"[{",
        headers={**seller.headers, "Content-Type": "application/json"},
    )
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    not_a_list = await client.post("/api/v1/vendor/bulk/products", json={"sku": "x"}, headers=seller.headers)
    assert not_a_list.status_code == 422


async def test_vendors_never_touch_each_others_products(client: AppClient) -> None:
    mine, theirs = await create_seller(client), await create_seller(client)
    sku = unique("SHARED").upper()
    a = by_row(await bulk(client, mine.headers, "products", [_product(sku, name="Mine")]))[1]
    b = by_row(await bulk(client, theirs.headers, "products", [_product(sku, name="Theirs")]))[1]
    assert a["status"] == b["status"] == "created" and a["id"] != b["id"]
    assert (await client.get(f"/api/v1/products/{a['id']}")).json()["name"] == "Mine"
    # a product made through the product API is adopted by its SKU, not duplicated
    made = await create_product(client, mine, sku=unique("API").upper())
    adopted = by_row(
        await bulk(client, mine.headers, "products", [_product(made["variants"][0]["sku"], name="Renamed")])
    )
    assert (adopted[1]["status"], adopted[1]["id"]) == ("updated", made["id"])
    # stock and prices of another vendor's SKU are unknown SKUs
    theirs_stock = by_row(
        await bulk(
            client,
            theirs.headers,
            "stock",
            [{"sku": made["variants"][0]["sku"], "warehouse": "X", "onHand": 1}],
        )
    )
    assert theirs_stock[1]["errors"][0]["code"] == "unknown_sku"
    theirs_price = by_row(
        await bulk(client, theirs.headers, "prices", [{"sku": made["variants"][0]["sku"], "priceAmount": 1}])
    )
    assert theirs_price[1]["errors"][0]["code"] == "unknown_sku"


async def _stock_rows(client: AppClient, seller: Seller) -> tuple[list[str], str, str]:
    admin = await create_account(client, "admin")
    made = await client.post(
        "/api/v1/warehouses",
        json={"code": unique("BW").upper(), "name": "Bulk", "country": "US"},
        headers=admin.headers,
    )
    warehouse = made.json()
    skus = [unique("ST").upper() for _ in range(3)]
    by_row(await bulk(client, seller.headers, "products", [_product(s) for s in skus]))
    return skus, warehouse["code"], warehouse["id"]


async def test_stock_sets_and_adjusts_with_the_ledger(client: AppClient) -> None:
    seller = await create_seller(client)
    skus, code, _ = await _stock_rows(client, seller)
    rows = by_row(
        await bulk(
            client, seller.headers, "stock",
            [
                {"sku": skus[0], "warehouse": code, "onHand": 10, "lowStockThreshold": 2},
                {"sku": skus[1], "warehouse": code, "delta": 5},
                {"sku": skus[2], "warehouse": code, "delta": -1},  # would go below zero
                {"sku": skus[0], "warehouse": code, "onHand": 3},  # named twice
                {"sku": skus[2], "warehouse": "NOWHERE", "onHand": 1},
                {"sku": skus[2], "warehouse": code, "onHand": 1, "delta": 1},
                {"sku": skus[2], "warehouse": code, "onHand": -4},
            ],
        )
    )  # fmt: skip
    assert [rows[n]["status"] for n in range(1, 8)] == ["updated", "updated"] + ["error"] * 5
    assert [rows[n]["errors"][0]["code"] for n in range(3, 8)] == [
        "negative_stock", "duplicate_row", "unknown_warehouse", "one_of", "validation_failed",
    ]  # fmt: skip
    again = by_row(
        await bulk(client, seller.headers, "stock", [{"sku": skus[0], "warehouse": code, "onHand": 10}])
    )
    assert again[1]["status"] == "unchanged"
    async with client.runtime.db.connection() as conn:
        drift = await conn.fetchval(
            "SELECT count(*) FROM stock s JOIN product_variants v ON v.id = s.variant_id"
            " LEFT JOIN (SELECT variant_id, warehouse_id, sum(on_hand_delta) AS n"
            "  FROM stock_movements GROUP BY 1, 2) m"
            "  USING (variant_id, warehouse_id) WHERE v.vendor_id = $1 AND s.on_hand <> COALESCE(m.n, 0)",
            seller.vendor_id,
        )  # fmt: skip
        in_stock = await conn.fetchval(
            "SELECT count(*) FROM products WHERE vendor_id = $1 AND in_stock", seller.vendor_id
        )
    assert (drift, in_stock) == (0, 2)


async def test_stock_never_goes_below_what_orders_hold(client: AppClient) -> None:
    shop = await open_shop(client)
    sku = unique("HELD").upper()
    by_row(await bulk(client, shop.seller.headers, "products", [_product(sku)]))
    code = shop.warehouses[0]["code"]
    by_row(await bulk(client, shop.seller.headers, "stock", [{"sku": sku, "warehouse": code, "onHand": 5}]))
    shopper = await customer(client)
    async with client.runtime.db.connection() as conn:
        variant = await conn.fetchval(
            "SELECT id FROM product_variants WHERE vendor_id = $1 AND sku = $2", shop.seller.vendor_id, sku
        )
    await add(client, shopper, str(variant), 3)
    cart = await ship_to(client, shopper, shop)
    assert (
        await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
    ).status_code == 201
    low = by_row(
        await bulk(client, shop.seller.headers, "stock", [{"sku": sku, "warehouse": code, "onHand": 2}])
    )
    assert low[1]["errors"][0]["code"] == "below_reserved"


async def test_concurrent_bulk_calls_of_two_vendors(client: AppClient) -> None:
    sellers = [await create_seller(client), await create_seller(client)]
    prepared = [await _stock_rows(client, s) for s in sellers]

    async def hammer(seller: Seller, skus: list[str], code: str) -> list[str]:
        statuses = []
        for _ in range(4):
            answer = await bulk(
                client, seller.headers, "stock", [{"sku": s, "warehouse": code, "delta": 1} for s in skus]
            )
            statuses.append(answer.json()["summary"]["updated"])
            products = await bulk(
                client, seller.headers, "products", [_product(unique("CC").upper()) for _ in range(20)]
            )
            statuses.append(products.json()["summary"]["created"])
        return statuses

    results = await asyncio.gather(
        *(hammer(s, p[0], p[1]) for s, p in zip(sellers, prepared, strict=True) for _ in range(2))
    )
    assert all(r == [3, 20] * 4 for r in results)
    async with client.runtime.db.connection() as conn:
        for seller, (_, _, warehouse_id) in zip(sellers, prepared, strict=True):
            levels = await conn.fetch(
                "SELECT s.on_hand FROM stock s JOIN product_variants v ON v.id = s.variant_id"
                " WHERE v.vendor_id = $1 AND s.warehouse_id = $2", seller.vendor_id, warehouse_id,
            )  # fmt: skip
            assert sorted(r["on_hand"] for r in levels) == [8, 8, 8]  # 2 callers × 4 rounds, each +1
            assert (
                await conn.fetchval("SELECT count(*) FROM products WHERE vendor_id = $1", seller.vendor_id)
                == 3 + 160
            )


async def test_overlapping_bulk_calls_of_one_vendor_write_each_sku_once(client: AppClient) -> None:
    """Calls of one vendor at once, over the same SKUs: rows found are updated in place, new keys
    inserted (a key another call made a moment ago meets ON CONFLICT, or the retry). Every row is
    answered, nothing fails, and each SKU ends as one product holding one call's values."""
    seller = await create_seller(client)
    known = [unique("OVK").upper() for _ in range(15)]
    fresh = [unique("OVN").upper() for _ in range(15)]
    sizes = [{"name": "size", "values": ["S", "L"]}]

    def row(sku: str, price: int) -> dict[str, Any]:
        variants = [
            {"sku": f"{sku}-S", "optionValues": {"size": "S"}},
            {"sku": f"{sku}-L", "optionValues": {"size": "L"}},
        ]
        return _product(sku, priceAmount=price, options=sizes, variants=variants)

    made = await bulk(client, seller.headers, "products", [row(s, 1000) for s in known])
    assert made.json()["summary"]["created"] == 15
    prices = [1100 + 100 * n for n in range(6)]
    answers = await asyncio.gather(
        *(
            bulk(client, seller.headers, "products", [row(s, price) for s in known + fresh])
            for price in prices
        )
    )
    for answer in answers:
        assert answer.status_code == 200, answer.text
        summary = answer.json()["summary"]
        assert summary["errors"] == 0 and summary["rows"] == 30
    async with client.runtime.db.connection() as conn:
        found = await conn.fetch(
            "SELECT p.vendor_sku, p.price_amount, count(v.id) AS variants FROM products p"
            " JOIN product_variants v ON v.product_id = p.id WHERE p.vendor_id = $1 GROUP BY p.id",
            seller.vendor_id,
        )
    assert sorted(r["vendor_sku"] for r in found) == sorted(known + fresh)  # one product per SKU
    assert all(r["variants"] == 2 and r["price_amount"] in prices for r in found)


async def test_prices_follow_to_the_product_page(client: AppClient) -> None:
    seller = await create_seller(client)
    simple, multi = unique("PR").upper(), unique("PM").upper()
    by_row(await bulk(client, seller.headers, "products", [
        _product(simple, compareAtAmount=2000),
        _product(multi, variants=[{"sku": f"{multi}-A"}, {"sku": f"{multi}-B"}]),
    ]))  # fmt: skip
    page_id = by_row(
        await bulk(client, seller.headers, "products", [_product(simple, compareAtAmount=2000)])
    )[1]["id"]
    assert (await client.get(f"/api/v1/products/{page_id}")).json()["priceAmount"] == 1500  # cached now
    rows = by_row(
        await bulk(
            client, seller.headers, "prices",
            [
                {"sku": simple, "priceAmount": 2100},  # reaches the compare-at price: that is cleared
                {"sku": f"{multi}-B", "priceAmount": 999},
                {"sku": f"{multi}-A", "priceAmount": 5, "compareAtAmount": 10},
                {"sku": multi, "priceAmount": 1800, "currency": "EUR"},
                {"sku": "NO-SUCH", "priceAmount": 1},
                {"sku": simple, "priceAmount": 1},
                {"sku": multi, "priceAmount": -1},
            ],
        )
    )  # fmt: skip
    assert [rows[n]["status"] for n in range(1, 8)] == ["updated", "updated"] + ["error"] * 5
    assert [rows[n]["errors"][0]["code"] for n in range(3, 8)] == [
        "not_allowed", "currency_mismatch", "unknown_sku", "duplicate_sku", "validation_failed",
    ]  # fmt: skip
    page = (await client.get(f"/api/v1/products/{page_id}")).json()
    assert (page["priceAmount"], page["compareAtAmount"]) == (2100, None)
    same = by_row(await bulk(client, seller.headers, "prices", [{"sku": simple, "priceAmount": 2100}]))
    assert same[1]["status"] == "unchanged"


_DERIVED = """
SELECT p.search_vector = product_search_document(
           p.name, p.brand, p.tags, (SELECT c.name FROM categories c WHERE c.id = p.category_id),
           p.description) AS document_matches,
       ARRAY(SELECT unnest(facet_code_ids(p.facet_codes)) ORDER BY 1) = ARRAY(
           SELECT facet_value_id(f.kind, f.key, f.value)
           FROM (SELECT 'category', p.category_id::text, '' WHERE p.category_id IS NOT NULL
                 UNION ALL SELECT 'vendor', p.vendor_id::text, ''
                 UNION ALL SELECT 'attribute', a.key, a.value FROM jsonb_each_text(p.attributes) a)
                AS f (kind, key, value)
           ORDER BY 1) AS codes_match
FROM products p WHERE p.id = $1
"""


async def test_bulk_products_are_searchable_like_any_other(client: AppClient) -> None:
    """The upsert computes the search document and facet codes set-wise; they must equal what the
    row triggers give a product written any other way, on create and on update."""
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    category = await create_category(client, admin, name=unique("Chisels"))
    word = unique("zorblat").replace("-", "")
    row = _product(
        unique("SRCH").upper(), name=f"Bench {word}", brand="Narex", tags=["Wood"], category=category["slug"],
        attributes={"width_mm": 12, "steel": "cr-v"}, description="A bevel-edged chisel",
    )  # fmt: skip
    made = by_row(await bulk(client, seller.headers, "products", [row]))[1]
    assert made["status"] == "created"

    async def derived() -> tuple[bool, bool]:
        async with client.runtime.db.connection() as conn:
            found = await conn.fetchrow(_DERIVED, made["id"])
        return found["document_matches"], found["codes_match"]

    assert await derived() == (True, True)
    hits = (await client.get("/api/v1/search", params={"q": word})).json()["items"]
    assert [h["id"] for h in hits] == [made["id"]]
    renamed = f"Mortise {unique('quellix').replace('-', '')}"
    changed = {**row, "name": renamed, "attributes": {"width_mm": 14}, "category": None}
    assert by_row(await bulk(client, seller.headers, "products", [changed]))[1]["status"] == "updated"
    assert await derived() == (True, True)
    assert (await client.get("/api/v1/search", params={"q": word})).json()["items"] == []
    again = (await client.get("/api/v1/search", params={"q": renamed.split()[1]})).json()["items"]
    assert [h["id"] for h in again] == [made["id"]]


async def test_the_update_triggers_skip_only_the_upsert_that_brings_its_own_values(client: AppClient) -> None:
    """The upsert tells the update triggers it computed the search document and facet codes
    (migration 0009); the setting ends with that statement, so a later write in the same
    transaction has its derived columns computed by the triggers again."""
    seller = await create_seller(client)
    row = _product(unique("TRG").upper(), attributes={"grip": "ash"})
    made = by_row(await bulk(client, seller.headers, "products", [row]))[1]
    price_only = {**row, "priceAmount": 1750}  # the words and facets stay as they were
    assert by_row(await bulk(client, seller.headers, "products", [price_only]))[1]["status"] == "updated"
    async with client.runtime.db.connection() as conn:
        kept = await conn.fetchrow(_DERIVED, made["id"])
    assert (kept["document_matches"], kept["codes_match"]) == (True, True)
    async with client.runtime.db.transaction() as conn:
        renamed = {**row, "name": "Renamed"}
        again = parse.json_rows(msgspec.json.encode([renamed]))
        answered = await products_service.upsert(conn, seller.vendor_id, again)
        assert answered.summary.updated == 1
        assert await conn.fetchval("SELECT current_setting('citadel.derived_columns', true)") == ""
        await conn.execute(
            "UPDATE products SET name = 'Spokeshave', attributes = '{\"grip\": \"box\"}' WHERE id = $1",
            made["id"],
        )
        found = await conn.fetchrow(_DERIVED, made["id"])
        assert (found["document_matches"], found["codes_match"]) == (True, True)
        assert await conn.fetchval(
            "SELECT search_vector @@ to_tsquery('spokeshave') FROM products WHERE id = $1", made["id"]
        )


async def test_identical_rows_are_neither_locked_nor_rewritten(client: AppClient) -> None:
    """A row equal to what is stored leaves the product and its variants as they are: no new row
    version, no row lock (a vendor's nightly feed re-sends mostly what it sent before)."""
    seller = await create_seller(client)
    sku = unique("SAME").upper()
    sizes = [{"name": "size", "values": ["S", "M"]}]
    variants = [
        {"sku": f"{sku}-S", "optionValues": {"size": "S"}},
        {"sku": f"{sku}-M", "optionValues": {"size": "M"}},
    ]
    row = _product(sku, tags=["Oak"], attributes={"finish": "oil"}, options=sizes, variants=variants)
    made = by_row(await bulk(client, seller.headers, "products", [row]))[1]
    versions = (  # (the product's row version and lock, each variant's, by SKU)
        "SELECT p.xmin::text || '/' || p.xmax::text, ARRAY(SELECT v.xmin::text || '/' || v.xmax::text"
        " FROM product_variants v WHERE v.product_id = p.id ORDER BY v.sku) FROM products p WHERE p.id = $1"
    )
    async with client.runtime.db.connection() as conn:
        before = tuple(await conn.fetchrow(versions, made["id"]))
    assert by_row(await bulk(client, seller.headers, "products", [row]))[1]["status"] == "unchanged"
    async with client.runtime.db.connection() as conn:
        assert tuple(await conn.fetchrow(versions, made["id"])) == before
    # one variant's price changes: that variant is updated in place, under its own id
    ids = {v["sku"]: v["id"] for v in (await client.get(f"/api/v1/products/{made['id']}")).json()["variants"]}
    changed = {**row, "variants": [variants[0], {**variants[1], "priceAmount": 2100}]}
    assert by_row(await bulk(client, seller.headers, "products", [changed]))[1]["status"] == "updated"
    page = (await client.get(f"/api/v1/products/{made['id']}")).json()
    assert {v["sku"]: v["id"] for v in page["variants"]} == ids
    assert {v["sku"]: v["priceAmount"] for v in page["variants"]} == {f"{sku}-S": 1500, f"{sku}-M": 2100}
    async with client.runtime.db.connection() as conn:
        after = await conn.fetchrow(versions, made["id"])
    assert after[0] == before[0] and after[1][0] != before[1][0] and after[1][1] == before[1][1]


async def test_batches_of_a_vendor_unknown_to_the_statistics_probe_the_unique_keys(
    client: AppClient,
) -> None:
    """A vendor new since the last ANALYZE is estimated at one row: planned for it, a probe by
    (vendor, key) walks the vendor's (vendor_id, created_at) index and filters every key, which
    is quadratic once the vendor has its rows. Bulk statements are planned for any vendor."""
    seller = await create_seller(client)
    name = f"keyed_probe_{unique('p').replace('-', '_')}"
    async with client.runtime.db.transaction() as conn:
        await conn.execute(products_service.Q.plan_for_keyed_batches)
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        assert await conn.fetchval("SHOW random_page_cost") == "1.1"
        await conn.execute(f"PREPARE {name} (uuid, text[]) AS {products_service.Q.products_by_key}")
        try:
            plan = "\n".join(
                row[0]
                for row in await conn.fetch(f"EXPLAIN EXECUTE {name} ('{seller.vendor_id}', ARRAY['a', 'b'])")
            )
        finally:
            await conn.execute(f"DEALLOCATE {name}")
    assert "products_vendor_sku_key" in plan and "products_vendor_idx" not in plan, plan

"""Stock: one counter per variant and warehouse, a ledger row for every change, and what pages show."""

import asyncio
import uuid
from typing import Any

import pytest

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import Seller, create_product, create_seller, create_warehouse, set_stock
from tests.fixtures.factories import Account, create_account, register


@pytest.fixture
async def admin(client: AppClient) -> Account:
    return await create_account(client, "admin")


@pytest.fixture
async def setup(
    client: AppClient, admin: Account
) -> tuple[Seller, dict[str, Any], dict[str, Any], dict[str, Any]]:
    seller = await create_seller(client)
    product = await create_product(client, seller)
    return (
        seller,
        product,
        await create_warehouse(client, admin),
        await create_warehouse(client, admin, priority=5),
    )


async def _ledger(client: AppClient, variant_id: str) -> list[tuple[int, str]]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT on_hand_delta, reason FROM stock_movements WHERE variant_id = $1 ORDER BY id",
            uuid.UUID(variant_id),
        )
    return [(r["on_hand_delta"], r["reason"]) for r in rows]


async def _stock_events(client: AppClient, product_id: str) -> list[dict[str, Any]]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT data FROM outbox WHERE aggregate_id = $1 AND event_type = 'catalog.stock_status_changed' "
            "ORDER BY aggregate_sequence",
            product_id,
        )
    return [r["data"] for r in rows]


async def test_counts_and_adjustments_write_the_ledger(client: AppClient, setup: tuple) -> None:
    seller, product, east, west = setup
    variant = product["variants"][0]["id"]
    level = await set_stock(client, seller, variant, east["id"], 10)
    assert (level["onHand"], level["reserved"], level["available"]) == (10, 0, 10)
    await set_stock(client, seller, variant, west["id"], 4)
    await set_stock(client, seller, variant, east["id"], 7)
    adjusted = await client.post(
        "/api/v1/inventory/adjustments",
        json={
            "variantId": variant,
            "warehouseId": west["id"],
            "delta": -3,
            "reason": "damaged",
            "reference": "RMA-1",
        },
        headers=seller.headers,
    )
    assert adjusted.json()["onHand"] == 1
    assert await _ledger(client, variant) == [(10, "count"), (4, "count"), (-3, "count"), (-3, "damaged")]
    stock = await client.get(f"/api/v1/inventory/variants/{variant}", headers=seller.headers)
    assert stock.json()["available"] == 8
    assert sum(level["onHand"] for level in stock.json()["levels"]) == sum(
        d for d, _ in await _ledger(client, variant)
    )


async def test_stock_never_goes_below_what_is_reserved(client: AppClient, setup: tuple) -> None:
    seller, product, east, _ = setup
    variant = product["variants"][0]["id"]
    await set_stock(client, seller, variant, east["id"], 5)
    async with client.runtime.db.transaction() as conn:
        await conn.execute(
            "UPDATE stock SET reserved = 3 WHERE variant_id = $1 AND warehouse_id = $2",
            uuid.UUID(variant), uuid.UUID(east["id"]),
        )  # fmt: skip
    below = await client.put(
        f"/api/v1/inventory/variants/{variant}/warehouses/{east['id']}",
        json={"onHand": 2},
        headers=seller.headers,
    )
    assert below.status_code == 409
    assert below.json()["code"] == "stock_reserved"
    too_many = await client.post(
        "/api/v1/inventory/adjustments",
        json={"variantId": variant, "warehouseId": east["id"], "delta": -3, "reason": "lost"},
        headers=seller.headers,
    )
    assert too_many.status_code == 409
    assert await _ledger(client, variant) == [(5, "count")]  # nothing half-written


async def test_going_in_and_out_of_stock_is_announced_and_shown(client: AppClient, setup: tuple) -> None:
    seller, product, east, west = setup
    variant = product["variants"][0]["id"]
    page = f"/api/v1/products/{product['id']}"
    assert (await client.get(page)).json()["inStock"] is False
    await set_stock(client, seller, variant, east["id"], 3)
    shown = (await client.get(page)).json()
    assert (shown["inStock"], shown["variants"][0]["available"]) == (True, 3)
    await set_stock(client, seller, variant, west["id"], 2)  # still in stock: nothing to announce
    assert (await client.get(page)).json()["variants"][0]["available"] == 5
    await set_stock(client, seller, variant, east["id"], 0)
    await set_stock(client, seller, variant, west["id"], 0)
    assert (await client.get(page)).json()["inStock"] is False
    assert [(e["inStock"], e["available"]) for e in await _stock_events(client, product["id"])] == [
        (True, 3),
        (False, 0),
    ]


async def test_vendors_count_only_their_own_stock(client: AppClient, setup: tuple, admin: Account) -> None:
    _, product, east, _ = setup
    variant = product["variants"][0]["id"]
    other = await create_seller(client)
    sneaky = await client.put(
        f"/api/v1/inventory/variants/{variant}/warehouses/{east['id']}",
        json={"onHand": 99},
        headers=other.headers,
    )
    assert sneaky.status_code == 404
    assert (
        await client.get(f"/api/v1/inventory/variants/{variant}", headers=other.headers)
    ).status_code == 404
    customer = await register(client)
    assert (
        await client.get(f"/api/v1/inventory/variants/{variant}", headers=customer.headers)
    ).status_code == 403
    assert (await set_stock(client, admin, variant, east["id"], 1))["onHand"] == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"onHand": -1}, "onHand", "out_of_range"),
        ({"onHand": "ten"}, "onHand", "wrong_type"),
        ({}, "onHand", "required"),
        ({"onHand": 1, "reserved": 1}, "reserved", "unknown_field"),
    ],
)
async def test_bad_counts(client: AppClient, setup: tuple, body: dict, field: str, code: str) -> None:
    seller, product, east, _ = setup
    response = await client.put(
        f"/api/v1/inventory/variants/{product['variants'][0]['id']}/warehouses/{east['id']}",
        json=body,
        headers=seller.headers,
    )
    assert response.status_code == 422
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


async def test_unknown_variants_and_warehouses(client: AppClient, setup: tuple) -> None:
    seller, product, east, _ = setup
    ghost = await client.put(
        f"/api/v1/inventory/variants/{uuid.uuid4()}/warehouses/{east['id']}",
        json={"onHand": 1},
        headers=seller.headers,
    )
    assert ghost.json()["code"] == "variant_not_found"
    nowhere = await client.put(
        f"/api/v1/inventory/variants/{product['variants'][0]['id']}/warehouses/{uuid.uuid4()}",
        json={"onHand": 1},
        headers=seller.headers,
    )
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == "warehouse_not_found"


async def test_warehouses(client: AppClient, admin: Account) -> None:
    made = await create_warehouse(client, admin, region="CA", priority=1)
    again = await client.post(
        "/api/v1/warehouses",
        json={"code": made["code"], "name": "Copy", "country": "US"},
        headers=admin.headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "warehouse_code_taken"
    bad = await client.post(
        "/api/v1/warehouses", json={"code": "lower", "name": "X", "country": "USA"}, headers=admin.headers
    )
    assert {e["field"] for e in bad.json()["errors"]} == {"code", "country"}
    seller = await create_seller(client)
    listed = await client.get("/api/v1/warehouses", headers=seller.headers)
    assert made["id"] in [w["id"] for w in listed.json()["items"]]
    assert (await client.post("/api/v1/warehouses", json={}, headers=seller.headers)).status_code == 403


async def test_two_variants_selling_out_at_once_leave_the_product_out_of_stock(
    client: AppClient, admin: Account
) -> None:
    """Each flip recomputes the product's flag under its row lock, so neither misses the other."""
    seller = await create_seller(client)
    product = await create_product(
        client, seller, options=[{"name": "size", "values": ["S", "M"]}], sku="TWIN"
    )
    warehouse = await create_warehouse(client, admin)
    small, medium = (v["id"] for v in product["variants"])
    await set_stock(client, seller, small, warehouse["id"], 1)
    await set_stock(client, seller, medium, warehouse["id"], 1)
    for _ in range(5):
        await asyncio.gather(
            set_stock(client, seller, small, warehouse["id"], 0),
            set_stock(client, seller, medium, warehouse["id"], 0),
        )
        listed = await client.get(
            "/api/v1/products", params={"vendor": str(seller.vendor_id), "inStock": "true"}
        )
        assert listed.json()["items"] == []
        await asyncio.gather(
            set_stock(client, seller, small, warehouse["id"], 2),
            set_stock(client, seller, medium, warehouse["id"], 2),
        )
        listed = await client.get(
            "/api/v1/products", params={"vendor": str(seller.vendor_id), "inStock": "true"}
        )
        assert [p["id"] for p in listed.json()["items"]] == [product["id"]]


async def test_archiving_the_stocked_variant_takes_the_product_out_of_stock(
    client: AppClient, admin: Account
) -> None:
    seller = await create_seller(client)
    product = await create_product(
        client, seller, options=[{"name": "size", "values": ["S", "M"]}], sku="ARCH"
    )
    warehouse = await create_warehouse(client, admin)
    stocked = product["variants"][0]["id"]
    await set_stock(client, seller, stocked, warehouse["id"], 3)
    params = {"vendor": str(seller.vendor_id), "inStock": "true"}
    assert len((await client.get("/api/v1/products", params=params)).json()["items"]) == 1
    await client.delete(f"/api/v1/products/{product['id']}/variants/{stocked}", headers=seller.headers)
    assert (await client.get("/api/v1/products", params=params)).json()["items"] == []

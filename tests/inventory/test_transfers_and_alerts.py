"""Transfers between warehouses, warehouses going inactive, and low-stock alerts."""

import uuid
from typing import Any

from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.catalog import set_stock
from tests.fixtures.commerce import checkout, open_shop, ready_cart, stocked_product
from tests.fixtures.factories import fetch_notifications


async def _levels(
    client: AppClient, variant: str, admin_headers: dict[str, str]
) -> dict[str, tuple[int, int]]:
    body = (await client.get(f"/api/v1/inventory/variants/{variant}", headers=admin_headers)).json()
    return {level["warehouseId"]: (level["onHand"], level["reserved"]) for level in body["levels"]}


async def test_a_transfer_moves_stock_step_by_step(client: AppClient) -> None:
    shop = await open_shop(client)
    east, west = (w["id"] for w in shop.warehouses)
    _, variant = await stocked_product(client, shop, stock=(10,))
    created = await client.post(
        "/api/v1/inventory/transfers",
        json={
            "sourceWarehouseId": east,
            "destinationWarehouseId": west,
            "lines": [{"variantId": variant, "quantity": 4}],
        },
        headers=shop.admin.headers,
    )
    assert created.status_code == 201, created.text
    transfer = created.json()
    assert transfer["status"] == "pending" and await _levels(client, variant, shop.admin.headers) == {
        east: (10, 0)
    }
    shipped = await client.post(
        f"/api/v1/inventory/transfers/{transfer['id']}/ship", headers=shop.admin.headers
    )
    assert shipped.json()["status"] == "in_transit"
    assert await _levels(client, variant, shop.admin.headers) == {east: (6, 0)}
    received = await client.post(
        f"/api/v1/inventory/transfers/{transfer['id']}/receive", headers=shop.admin.headers
    )
    assert received.json()["status"] == "completed" and received.json()["receivedAt"]
    assert await _levels(client, variant, shop.admin.headers) == {east: (6, 0), west: (4, 0)}
    again = await client.post(
        f"/api/v1/inventory/transfers/{transfer['id']}/cancel", headers=shop.admin.headers
    )
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    async with client.runtime.db.connection() as conn:
        reasons = [
            (r["reason"], r["on_hand_delta"])
            for r in await conn.fetch(
                "SELECT reason, on_hand_delta FROM stock_movements WHERE reference = $1 ORDER BY id",
                transfer["id"],
            )
        ]
    assert reasons == [("transfer_out", -4), ("transfer_in", 4)]


async def test_a_transfer_cannot_take_reserved_stock_and_a_cancel_returns_it(client: AppClient) -> None:
    shop = await open_shop(client, warehouses=2)
    east, west = (w["id"] for w in shop.warehouses)
    _, variant = await stocked_product(client, shop, stock=(5,))
    shopper, cart = await ready_cart(client, shop, [(variant, 3)])
    assert (
        await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
    ).status_code == 201
    body = {
        "sourceWarehouseId": east,
        "destinationWarehouseId": west,
        "lines": [{"variantId": variant, "quantity": 3}],
    }
    transfer = (
        await client.post("/api/v1/inventory/transfers", json=body, headers=shop.admin.headers)
    ).json()
    refused = await client.post(
        f"/api/v1/inventory/transfers/{transfer['id']}/ship", headers=shop.admin.headers
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "insufficient_stock")
    small = {**body, "lines": [{"variantId": variant, "quantity": 2}]}
    transfer = (
        await client.post("/api/v1/inventory/transfers", json=small, headers=shop.admin.headers)
    ).json()
    await client.post(f"/api/v1/inventory/transfers/{transfer['id']}/ship", headers=shop.admin.headers)
    assert await _levels(client, variant, shop.admin.headers) == {east: (3, 3)}
    cancelled = await client.post(
        f"/api/v1/inventory/transfers/{transfer['id']}/cancel", headers=shop.admin.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    assert await _levels(client, variant, shop.admin.headers) == {east: (5, 3)}
    same = await client.post(
        "/api/v1/inventory/transfers",
        json={**body, "destinationWarehouseId": east},
        headers=shop.admin.headers,
    )
    assert (same.status_code, same.json()["errors"][0]["code"]) == (422, "same_warehouse")
    listed = await client.get(
        "/api/v1/inventory/transfers", params={"status": "cancelled"}, headers=shop.admin.headers
    )
    assert transfer["id"] in [t["id"] for t in listed.json()["items"]]
    vendor = await client.post("/api/v1/inventory/transfers", json=body, headers=shop.seller.headers)
    assert vendor.status_code == 403


async def test_an_inactive_warehouse_offers_nothing(client: AppClient) -> None:
    shop = await open_shop(client, warehouses=1)
    warehouse = shop.warehouses[0]["id"]
    product, variant = await stocked_product(client, shop, stock=(5,))

    async def in_stock(expected: bool) -> dict[str, Any] | None:
        page = (await client.get(f"/api/v1/products/{product['id']}")).json()
        return page if page["inStock"] is expected else None

    assert await eventually(lambda: in_stock(True))
    off = await client.patch(
        f"/api/v1/warehouses/{warehouse}", json={"isActive": False}, headers=shop.admin.headers
    )
    assert off.status_code == 200 and off.json()["isActive"] is False
    page = await eventually(lambda: in_stock(False))
    assert page["variants"][0]["available"] == 0
    refused = await client.post("/api/v1/cart")
    shopper = {"X-Cart-Token": refused.json()["token"]}
    blocked = await client.post("/api/v1/cart/lines", json={"variantId": variant}, headers=shopper)
    assert (blocked.status_code, blocked.json()["code"]) == (409, "insufficient_stock")
    on = await client.patch(
        f"/api/v1/warehouses/{warehouse}", json={"isActive": True}, headers=shop.admin.headers
    )
    assert on.json()["isActive"] is True
    assert await eventually(lambda: in_stock(True))
    vendor = await client.patch(
        f"/api/v1/warehouses/{warehouse}", json={"priority": 1}, headers=shop.seller.headers
    )
    assert vendor.status_code == 403


async def test_falling_to_the_threshold_alerts_the_vendor_once(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client, warehouses=1)
    warehouse = shop.warehouses[0]["id"]
    _, variant = await stocked_product(client, shop, stock=(0,))
    level = await client.put(
        f"/api/v1/inventory/variants/{variant}/warehouses/{warehouse}",
        json={"onHand": 6, "lowStockThreshold": 2},
        headers=shop.seller.headers,
    )
    assert level.status_code == 200, level.text
    shopper, cart = await ready_cart(client, shop, [(variant, 4)])  # 6 -> 2 offered: at the threshold
    assert (
        await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
    ).status_code == 201
    await set_stock(client, shop.seller, variant, warehouse, 5)  # 5 - 4 = 1: already below, no new alert

    async def alerts() -> list[Any] | None:
        async with client.runtime.db.connection() as conn:
            found = [
                n
                for n in await fetch_notifications(conn, shop.seller.account.user_id)
                if n.template == "low_stock"
            ]
        return found or None

    found = await eventually(alerts)
    assert len(found) == 1 and "down to 2 available" in found[0].body
    async with client.runtime.db.connection() as conn:
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox"
            " WHERE event_type = 'inventory.stock_low' AND data->>'variantId' = $1",
            str(uuid.UUID(variant)),
        )
    assert events == 1

"""Every route under /api/v1/vendor is the calling vendor's own scope.

Vendor A gets one of everything (products, stock, orders with fulfilments, commissions, a payout,
an API key, a bulk job); vendor B then calls every vendor route, listed from the application
itself, with A's ids, A's SKUs and A's id as a filter. A route added without a case here fails
the test until it gets one.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.catalog import Seller, create_seller
from tests.fixtures.commerce import customer, deliver, open_shop, paid_order, stocked_product
from tests.fixtures.vendors import bulk, by_row, issue_key, key_headers

NDJSON = "application/x-ndjson"


class World(msgspec.Struct):
    a: Seller
    b: Seller
    product: dict[str, Any]
    sku: str
    variant: str
    warehouse_code: str
    delivered: str  # a delivered fulfilment (with commissions, paid out)
    open_fulfilment: str  # a paid order's fulfilment nobody started
    payout: str
    key: dict[str, Any]
    job: str


async def _world(client: AppClient) -> World:
    shop = await open_shop(client)
    a, b = shop.seller, await create_seller(client)
    product, variant = await stocked_product(client, shop, price=2_000, stock=(20,))
    shopper = await customer(client)
    first = await paid_order(client, shop, shopper, [(variant, 2)])
    delivered = (await deliver(client, a, first))["id"]
    second = await paid_order(client, shop, shopper, [(variant, 1)])
    today = datetime.now(UTC).date()
    period = {"periodStart": str(today - timedelta(days=1)), "periodEnd": str(today + timedelta(days=1))}
    run = await client.post("/api/v1/payouts/run", json=period, headers=shop.admin.headers)
    [payout] = [p["id"] for p in run.json()["created"] if p["vendorId"] == str(a.vendor_id)]
    key = await issue_key(client, a, "prices:write", "jobs:read")
    job = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=prices",
        content=b'{"sku": "%s", "priceAmount": 2000}\n' % product["variants"][0]["sku"].encode(),
        headers={**key_headers(key), "Content-Type": NDJSON, "Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert job.status_code == 202, job.text
    return World(
        a=a, b=b, product=product, sku=product["variants"][0]["sku"], variant=variant,
        warehouse_code=shop.warehouses[0]["code"], delivered=delivered,
        open_fulfilment=second["fulfilments"][0]["id"], payout=payout, key=key, job=job.json()["id"],
    )  # fmt: skip


Check = Callable[[AppClient, World], Awaitable[None]]
CASES: dict[tuple[str, str], Check] = {}


def case(method: str, path: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        CASES[(method, "/api/v1/vendor" + path)] = check
        return check

    return register


def _ids(response: Any, key: str = "id") -> set[str]:
    assert response.status_code == 200, response.text
    return {item[key] for item in response.json()["items"]}


@case("GET", "")
async def _profile(client: AppClient, w: World) -> None:
    assert (await client.get("/api/v1/vendor", headers=w.b.headers)).json()["id"] == str(w.b.vendor_id)


@case("PATCH", "")
async def _edit_profile(client: AppClient, w: World) -> None:
    before = (await client.get("/api/v1/vendor", headers=w.a.headers)).json()
    changed = await client.patch(
        "/api/v1/vendor", json={"description": "B's shop", "id": str(w.a.vendor_id)}, headers=w.b.headers
    )
    assert changed.status_code == 422  # no way to name another vendor
    changed = await client.patch("/api/v1/vendor", json={"description": "B's shop"}, headers=w.b.headers)
    assert changed.json()["id"] == str(w.b.vendor_id)
    assert (await client.get("/api/v1/vendor", headers=w.a.headers)).json() == before


@case("GET", "/products")
async def _products(client: AppClient, w: World) -> None:
    for params in ({}, {"vendorId": str(w.a.vendor_id)}):
        found = await client.get("/api/v1/vendor/products", params=params, headers=w.b.headers)
        assert w.product["id"] not in _ids(found)


@case("GET", "/analytics")
async def _analytics(client: AppClient, w: World) -> None:
    body = (await client.get("/api/v1/vendor/analytics", headers=w.b.headers)).json()
    assert body["totals"] == [] and body["topProducts"] == []
    assert w.variant not in {s["variantId"] for s in body["stockAlerts"]}


@case("GET", "/api-keys")
async def _keys(client: AppClient, w: World) -> None:
    assert w.key["key"]["id"] not in _ids(await client.get("/api/v1/vendor/api-keys", headers=w.b.headers))


@case("POST", "/api-keys")
async def _mint_key(client: AppClient, w: World) -> None:
    made = await issue_key(client, w.b, "products:read")
    assert made["key"]["id"] not in _ids(await client.get("/api/v1/vendor/api-keys", headers=w.a.headers))
    mine = await client.get("/api/v1/vendor/products", headers=key_headers(made))
    assert w.product["id"] not in _ids(mine)


@case("DELETE", "/api-keys/{key_id:uuid}")
async def _revoke_key(client: AppClient, w: World) -> None:
    revoke = await client.delete(f"/api/v1/vendor/api-keys/{w.key['key']['id']}", headers=w.b.headers)
    assert revoke.status_code == 404, revoke.text
    still = await client.get(f"/api/v1/vendor/bulk/jobs/{w.job}", headers=key_headers(w.key))
    assert still.status_code == 200


@case("GET", "/fulfilments")
async def _fulfilments(client: AppClient, w: World) -> None:
    listed = _ids(await client.get("/api/v1/vendor/fulfilments", headers=w.b.headers))
    assert not {w.delivered, w.open_fulfilment} & listed


@case("GET", "/fulfilments/{fulfilment_id:uuid}")
async def _fulfilment(client: AppClient, w: World) -> None:
    for fulfilment in (w.delivered, w.open_fulfilment):
        found = await client.get(f"/api/v1/vendor/fulfilments/{fulfilment}", headers=w.b.headers)
        assert (found.status_code, found.json()["code"]) == (404, "fulfilment_not_found")


async def _untouched_step(client: AppClient, w: World, step: str, body: dict[str, Any] | None) -> None:
    path = f"/api/v1/vendor/fulfilments/{w.open_fulfilment}"
    moved = await client.post(f"{path}/{step}", json=body, headers=w.b.headers)
    assert (moved.status_code, moved.json()["code"]) == (404, "fulfilment_not_found")
    assert (await client.get(path, headers=w.a.headers)).json()["status"] == "pending"


@case("POST", "/fulfilments/{fulfilment_id:uuid}/start")
async def _start(client: AppClient, w: World) -> None:
    await _untouched_step(client, w, "start", None)


@case("POST", "/fulfilments/{fulfilment_id:uuid}/pack")
async def _pack(client: AppClient, w: World) -> None:
    await _untouched_step(client, w, "pack", None)


@case("POST", "/fulfilments/{fulfilment_id:uuid}/ship")
async def _ship(client: AppClient, w: World) -> None:
    await _untouched_step(client, w, "ship", {"carrier": "UPS", "trackingNumber": "STOLEN"})


@case("POST", "/fulfilments/{fulfilment_id:uuid}/deliver")
async def _deliver(client: AppClient, w: World) -> None:
    await _untouched_step(client, w, "deliver", None)


@case("GET", "/commissions")
async def _commissions(client: AppClient, w: World) -> None:
    found = await client.get("/api/v1/vendor/commissions", params={"payoutId": w.payout}, headers=w.b.headers)
    assert _ids(found) == set()
    assert _ids(await client.get("/api/v1/vendor/commissions", headers=w.b.headers)) == set()


@case("POST", "/commissions/quote")
async def _quote(client: AppClient, w: World) -> None:
    quoted = await client.post(
        "/api/v1/vendor/commissions/quote", json={"amount": 1_000, "currency": "USD"}, headers=w.b.headers
    )
    assert quoted.json()["ratePpm"] == 150_000  # B's own rate


@case("GET", "/payouts")
async def _payouts(client: AppClient, w: World) -> None:
    assert w.payout not in _ids(await client.get("/api/v1/vendor/payouts", headers=w.b.headers))


@case("GET", "/payouts/{payout_id:uuid}")
async def _payout(client: AppClient, w: World) -> None:
    found = await client.get(f"/api/v1/vendor/payouts/{w.payout}", headers=w.b.headers)
    assert (found.status_code, found.json()["code"]) == (404, "payout_not_found")


@case("GET", "/bulk/jobs")
async def _jobs(client: AppClient, w: World) -> None:
    assert w.job not in _ids(await client.get("/api/v1/vendor/bulk/jobs", headers=w.b.headers))


@case("POST", "/bulk/jobs")
async def _job_of_a_sku(client: AppClient, w: World) -> None:
    made = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=stock",
        content=msgspec.json.encode({"sku": w.sku, "warehouse": w.warehouse_code, "onHand": 0}),
        headers={**w.b.headers, "Content-Type": NDJSON, "Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert made.status_code == 202, made.text

    async def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = (
            await client.get(f"/api/v1/vendor/bulk/jobs/{made.json()['id']}", headers=w.b.headers)
        ).json()
        return job if job["status"] in {"completed", "failed"} else None

    job = await eventually(finished, timeout=30)
    assert (job["status"], job["errorRows"]) == ("completed", 1)
    await _stock_is_untouched(client, w)


@case("GET", "/bulk/jobs/{job_id:uuid}")
async def _job(client: AppClient, w: World) -> None:
    found = await client.get(f"/api/v1/vendor/bulk/jobs/{w.job}", headers=w.b.headers)
    assert (found.status_code, found.json()["code"]) == (404, "job_not_found")


@case("GET", "/bulk/jobs/{job_id:uuid}/errors")
async def _job_errors(client: AppClient, w: World) -> None:
    found = await client.get(f"/api/v1/vendor/bulk/jobs/{w.job}/errors", headers=w.b.headers)
    assert (found.status_code, found.json()["code"]) == (404, "job_not_found")


@case("POST", "/bulk/products")
async def _bulk_products(client: AppClient, w: World) -> None:
    row = {"sku": w.sku, "name": "Taken over", "priceAmount": 1, "currency": "USD", "status": "active"}
    answer = by_row(await bulk(client, w.b.headers, "products", [row]))[1]
    assert answer["status"] == "created" and answer["id"] != w.product["id"]  # B's own product
    mine = (await client.get(f"/api/v1/products/{w.product['id']}")).json()
    assert (mine["name"], mine["priceAmount"]) == (w.product["name"], 2_000)


@case("POST", "/bulk/stock")
async def _bulk_stock(client: AppClient, w: World) -> None:
    # B made a product of the same SKU above; a SKU names only the caller's own variants
    row = {"sku": w.sku, "warehouse": w.warehouse_code, "onHand": 0}
    by_row(await bulk(client, w.b.headers, "stock", [row]))
    await _stock_is_untouched(client, w)


@case("POST", "/bulk/prices")
async def _bulk_prices(client: AppClient, w: World) -> None:
    by_row(await bulk(client, w.b.headers, "prices", [{"sku": w.sku, "priceAmount": 1}]))
    mine = (await client.get(f"/api/v1/products/{w.product['id']}")).json()
    assert mine["priceAmount"] == 2_000


async def _stock_is_untouched(client: AppClient, w: World) -> None:
    async with client.runtime.db.connection() as conn:
        on_hand = await conn.fetchval(
            "SELECT sum(on_hand) FROM stock WHERE variant_id = $1", uuid.UUID(w.variant)
        )
    assert on_hand == 18  # 20 less the 2 units A shipped (the third is paid for, not shipped)


async def test_every_vendor_route_is_the_callers_own(client: AppClient, worker: Worker) -> None:
    routes = {
        (method, route.path)
        for route in client.app.routes
        if route.path == "/api/v1/vendor" or route.path.startswith("/api/v1/vendor/")
        for method in route.methods - {"OPTIONS", "HEAD"}
    }
    assert routes == set(CASES), {"without a case": routes - set(CASES), "stale": set(CASES) - routes}
    world = await _world(client)
    for (method, path), check in sorted(CASES.items()):
        try:
            await check(client, world)
        except AssertionError as failed:
            raise AssertionError(f"{method} {path}: {failed}") from failed

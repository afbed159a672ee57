"""Commission rules and how they match, the ledger written on delivery and reversed on refunds,
payout runs (idempotent, also when two run at once), and vendor analytics.

Rules apply to every vendor they match and one database serves the whole run, so each rule here
names a vendor or a category the test made itself.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from citadel.worker import Worker
from tests.fixtures.app import AppClient
from tests.fixtures.catalog import create_category, create_seller
from tests.fixtures.commerce import customer, deliver, open_shop, paid_order, stocked_product
from tests.fixtures.factories import create_account

RULES = "/api/v1/commission-rules"


def _period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"periodStart": str(today - timedelta(days=30)), "periodEnd": str(today + timedelta(days=1))}


async def test_rules_are_validated_and_admin_only(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller = await create_seller(client)
    vendor = str(seller.vendor_id)
    body = {"name": "Books", "ratePpm": 100_000, "vendorId": vendor}
    refused = await client.post(RULES, json=body, headers=seller.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ratePpm": 1_000_001}, "ratePpm"),
        ({"ratePpm": -1}, "ratePpm"),
        ({"currency": "XXQ"}, "currency"),
        ({"minOrderAmount": 100}, "currency"),  # a band needs its currency
        ({"currency": "USD", "minOrderAmount": 500, "maxOrderAmount": 100}, "maxOrderAmount"),
        ({"currency": "USD", "minCommission": 500, "maxCommission": 100}, "maxCommission"),
        ({"startsAt": "2026-02-01T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}, "endsAt"),
        ({"vendorId": "00000000-0000-0000-0000-000000000000"}, "vendorId"),
        ({"categoryId": "00000000-0000-0000-0000-000000000000"}, "categoryId"),
        ({"minCommission": -5, "currency": "USD"}, "minCommission"),
    ]
    for change, field in cases:
        response = await client.post(RULES, json={**body, **change}, headers=admin.headers)
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json().get("errors", [])} or field in response.text
    unknown = await client.post(RULES, json={**body, "rate": 5}, headers=admin.headers)
    assert unknown.status_code == 422
    created = await client.post(RULES, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["ratePpm"], rule["priority"], rule["active"]) == (100_000, 0, True)
    listed = await client.get(RULES, params={"vendorId": vendor}, headers=admin.headers)
    assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    # an update is checked against the rule it makes, not only the fields it sends
    half = await client.patch(f"{RULES}/{rule['id']}", json={"minOrderAmount": 10}, headers=admin.headers)
    assert half.status_code == 422
    changed = await client.patch(
        f"{RULES}/{rule['id']}", json={"ratePpm": 80_000, "priority": 7}, headers=admin.headers
    )
    assert (changed.json()["ratePpm"], changed.json()["priority"]) == (80_000, 7)
    assert (await client.delete(f"{RULES}/{rule['id']}", headers=admin.headers)).status_code == 204
    gone = await client.get(f"{RULES}/{rule['id']}", headers=admin.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "commission_rule_not_found")
    again = await client.patch(f"{RULES}/{rule['id']}", json={"priority": 1}, headers=admin.headers)
    assert again.status_code == 404


async def _rule(client: AppClient, admin_headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await client.post(RULES, json={"name": "Rule", **fields}, headers=admin_headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_matching_by_vendor_category_band_priority_and_bounds(client: AppClient) -> None:
    admin = await create_account(client, "admin")
    seller, other = await create_seller(client), await create_seller(client)
    parent = await create_category(client, admin)
    child = await create_category(client, admin, parentId=parent["id"])

    async def quote(who: Any = seller, **body: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/vendor/commissions/quote", json={"currency": "USD", **body}, headers=who.headers
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    plain = await quote(amount=10_000)
    assert (plain["commissionAmount"], plain["ratePpm"], plain["ruleId"]) == (1_500, 150_000, None)
    mine = await _rule(client, admin.headers, vendorId=str(seller.vendor_id), ratePpm=100_000)
    assert (await quote(amount=10_000))["commissionAmount"] == 1_000
    assert (await quote(other, amount=10_000))["commissionAmount"] == 1_500  # not the other's rule
    # a category rule matches products of the category's descendants too, and outranks by priority
    books = await _rule(client, admin.headers, categoryId=parent["id"], ratePpm=200_000, priority=5)
    in_child = await quote(amount=10_000, categoryId=child["id"])
    assert (in_child["commissionAmount"], in_child["ruleId"]) == (2_000, books["id"])
    assert (await quote(amount=10_000))["ruleId"] == mine["id"]  # no category: not the book rule
    # an order-value band with a floor and a ceiling, above everything else
    band = await _rule(
        client, admin.headers, vendorId=str(seller.vendor_id), currency="USD", minOrderAmount=50_000,
        ratePpm=50_000, minCommission=700, maxCommission=4_000, priority=10,
    )  # fmt: skip
    big = await quote(amount=10_000, orderAmount=60_000, categoryId=child["id"])
    assert (big["commissionAmount"], big["ratePpm"], big["ruleId"]) == (700, 50_000, band["id"])
    capped = await quote(amount=100_000, orderAmount=100_000)
    assert capped["commissionAmount"] == 4_000
    tiny = await quote(amount=300, orderAmount=60_000)
    assert tiny["commissionAmount"] == 300  # never more than the line itself
    assert (await quote(amount=10_000, orderAmount=49_999))["ruleId"] == mine["id"]
    euros = await quote(amount=10_000, orderAmount=60_000, currency="EUR")
    assert euros["ruleId"] == mine["id"]  # the band is in dollars
    # rounding is half-up: 12.5 → 13
    half = await _rule(client, admin.headers, vendorId=str(other.vendor_id), ratePpm=125_000)
    assert (await quote(other, amount=100))["commissionAmount"] == 13
    # switched off, or outside its window, a rule does not apply
    await client.patch(f"{RULES}/{half['id']}", json={"active": False}, headers=admin.headers)
    assert (await quote(other, amount=100))["commissionAmount"] == 15
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await _rule(client, admin.headers, vendorId=str(other.vendor_id), ratePpm=900_000, startsAt=later)
    assert (await quote(other, amount=100))["commissionAmount"] == 15
    bad = await client.post(
        "/api/v1/vendor/commissions/quote", json={"amount": -1, "currency": "USD"}, headers=seller.headers
    )
    assert bad.status_code == 422


async def test_ledger_payouts_and_analytics(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    admin, seller = shop.admin, shop.seller
    rate = await client.patch(
        f"/api/v1/vendors/{seller.vendor_id}", json={"commissionRatePpm": 100_000}, headers=admin.headers
    )
    assert rate.status_code == 200, rate.text
    product, variant = await stocked_product(client, shop, price=1_000, stock=(10,))
    shopper = await customer(client)
    order = await paid_order(client, shop, shopper, [(variant, 3)])
    line = order["lines"][0]
    ledger = f"/api/v1/vendors/{seller.vendor_id}/commissions"
    assert (await client.get(ledger, headers=admin.headers)).json()["items"] == []  # not yet delivered
    await deliver(client, seller, order)
    [entry] = (await client.get("/api/v1/vendor/commissions", headers=seller.headers)).json()["items"]
    assert (entry["kind"], entry["grossAmount"], entry["commissionAmount"], entry["ratePpm"]) == (
        "commission", 3_000, 300, 100_000
    )  # fmt: skip
    assert (entry["lineId"], entry["payoutId"]) == (line["id"], None)
    refunds = f"/api/v1/orders/{order['id']}/refunds"
    one = await client.post(
        refunds, json={"reason": "broken", "lines": [{"lineId": line["id"], "quantity": 1}]},
        headers=admin.headers,
    )  # fmt: skip
    assert one.status_code == 200, one.text
    reversal = (await client.get(ledger, params={"kind": "reversal"}, headers=admin.headers)).json()["items"]
    assert [(r["grossAmount"], r["commissionAmount"]) for r in reversal] == [(-1_000, -100)]

    # runs at once (of the same period, and of an overlapping one) pay the vendor once
    overlapping = {**_period(), "periodStart": str(datetime.now(UTC).date() - timedelta(days=7))}
    run = [
        client.post("/api/v1/payouts/run", json=period, headers=admin.headers)
        for period in (_period(), _period(), overlapping)
    ]
    results = await asyncio.gather(*run)
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    made = [p for r in results for p in r.json()["created"] if p["vendorId"] == str(seller.vendor_id)]
    assert len(made) == 1
    payout = made[0]
    assert (payout["grossAmount"], payout["commissionAmount"], payout["refundAmount"]) == (3_000, 200, 1_000)
    assert (payout["netAmount"], payout["entries"], payout["status"]) == (1_800, 2, "pending")
    again = await client.post("/api/v1/payouts/run", json=_period(), headers=admin.headers)
    assert str(seller.vendor_id) not in {p["vendorId"] for p in again.json()["created"]}
    claimed = (await client.get(ledger, headers=admin.headers)).json()["items"]
    assert {e["payoutId"] for e in claimed} == {payout["id"]}
    # a refund after the run is booked for the next one, never lost
    late = await client.post(
        refunds, json={"reason": "late", "lines": [{"lineId": line["id"], "quantity": 1}]},
        headers=admin.headers,
    )  # fmt: skip
    assert late.status_code == 200, late.text

    # a failed payout gives its entries back; the next run pays them (and the late refund)
    failed = await client.post(
        f"/api/v1/payouts/{payout['id']}/failed", json={"reason": "IBAN closed"}, headers=admin.headers
    )
    assert (failed.json()["status"], failed.json()["failureReason"]) == ("failed", "IBAN closed")
    twice = await client.post(
        f"/api/v1/payouts/{payout['id']}/paid", json={"transactionId": "T1"}, headers=admin.headers
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")
    rerun = await client.post("/api/v1/payouts/run", json=_period(), headers=admin.headers)
    [second] = [p for p in rerun.json()["created"] if p["vendorId"] == str(seller.vendor_id)]
    assert (second["grossAmount"], second["commissionAmount"], second["refundAmount"]) == (3_000, 100, 2_000)
    assert second["netAmount"] == 900 and second["id"] != payout["id"]
    paid = await client.post(
        f"/api/v1/payouts/{second['id']}/paid", json={"transactionId": "WIRE-42"}, headers=admin.headers
    )
    assert (paid.json()["status"], paid.json()["transactionId"]) == ("paid", "WIRE-42")
    mine = (await client.get("/api/v1/vendor/payouts", headers=seller.headers)).json()["items"]
    assert [(p["id"], p["status"]) for p in mine] == [(second["id"], "paid"), (payout["id"], "failed")]
    other = await create_seller(client)
    hidden = await client.get(f"/api/v1/vendor/payouts/{second['id']}", headers=other.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "payout_not_found")
    assert (await client.get("/api/v1/vendor/payouts", headers=other.headers)).json()["items"] == []
    for period, field in (
        ({"periodStart": "2026-03-01", "periodEnd": "2026-02-01"}, "periodEnd"),
        ({"periodStart": "2024-01-01", "periodEnd": "2026-01-01"}, "periodEnd"),
        ({"periodStart": "2026-01-01", "periodEnd": "2099-01-01"}, "periodEnd"),
    ):
        bad = await client.post("/api/v1/payouts/run", json=period, headers=admin.headers)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field
    vendors_run = await client.post("/api/v1/payouts/run", json=_period(), headers=seller.headers)
    assert vendors_run.status_code == 403

    # analytics: the sale, its refunds, the top product, and a stock alert once stock runs low
    low = await client.put(
        f"/api/v1/inventory/variants/{variant}/warehouses/{shop.warehouses[0]['id']}",
        json={"onHand": 7, "lowStockThreshold": 8}, headers=seller.headers,
    )  # fmt: skip
    assert low.status_code == 200, low.text
    report = await client.get("/api/v1/vendor/analytics", headers=seller.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["totals"] == [
        {"currency": "USD", "orders": 1, "units": 3, "grossAmount": 3_000, "refundedAmount": 2_000}
    ]
    assert [(d["orders"], d["grossAmount"]) for d in body["daily"]] == [(1, 3_000)]
    assert [(t["productId"], t["units"]) for t in body["topProducts"]] == [(product["id"], 3)]
    assert [(a["variantId"], a["available"], a["lowStockThreshold"]) for a in body["stockAlerts"]] == [
        (variant, 7, 8)
    ]
    empty = await client.get("/api/v1/vendor/analytics", headers=other.headers)
    assert empty.json()["totals"] == [] and empty.json()["topProducts"] == []
    wrong = await client.get(
        "/api/v1/vendor/analytics",
        params={"start": "2026-05-01", "end": "2026-04-01"},
        headers=seller.headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "validation_failed")
    before = await client.get(
        "/api/v1/vendor/analytics",
        params={"start": "2020-01-01", "end": "2020-02-01"},
        headers=seller.headers,
    )
    assert before.json()["totals"] == []

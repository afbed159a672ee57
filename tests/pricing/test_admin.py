"""Managing what prices carts: tax rules, shipping zones and methods, price lists and coupons —
validated (problem+json, nothing stored), admins only, and picked up by carts after a change."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from citadel.shipping.models import ShippingRules, ShippingZoneRow
from citadel.shipping.service import zone_for
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.commerce import add, guest, open_shop, ship_to, stocked_product
from tests.fixtures.factories import Account, create_account


@pytest.fixture
async def admin(client: AppClient) -> Account:
    return await create_account(client, "admin")


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_tax_rules(client: AppClient, admin: Account) -> None:
    created = await client.post(
        "/api/v1/tax-rules",
        json={"name": "  NY   state ", "country": "us", "region": "ny", "ratePpm": 40_000},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["name"], rule["country"], rule["region"], rule["taxCategory"]) == (
        "NY state",
        "US",
        "NY",
        None,
    )
    bad = await _problem(
        await client.post(
            "/api/v1/tax-rules",
            json={"name": "x", "country": "QQ", "ratePpm": 9_000_001, "postalPrefix": "10 0"},
            headers=admin.headers,
        ),
        422,
    )
    assert {e["field"] for e in bad["errors"]} == {"ratePpm", "postalPrefix"}
    unknown = await _problem(
        await client.post(
            "/api/v1/tax-rules", json={"name": "x", "country": "QQ", "ratePpm": 1}, headers=admin.headers
        ),
        422,
    )
    assert unknown["errors"][0]["code"] == "unknown_country"
    changed = await client.patch(
        f"/api/v1/tax-rules/{rule['id']}", json={"ratePpm": 45_000}, headers=admin.headers
    )
    assert changed.json()["ratePpm"] == 45_000 and changed.json()["region"] == "NY"
    customer = await create_account(client)
    assert (await client.get("/api/v1/tax-rules", headers=customer.headers)).status_code == 403
    assert (await client.delete(f"/api/v1/tax-rules/{rule['id']}", headers=admin.headers)).status_code == 204
    missing = await _problem(await client.get(f"/api/v1/tax-rules/{rule['id']}", headers=admin.headers), 404)
    assert missing["code"] == "tax_rule_not_found"


async def test_a_rate_change_reaches_carts(client: AppClient) -> None:
    shop = await open_shop(client, tax_ppm=50_000)
    _, variant = await stocked_product(client, shop, price=1000, stock=(5,))
    shopper = await guest(client)
    await add(client, shopper, variant)
    cart = await ship_to(client, shopper, shop)
    assert cart["totals"]["taxAmount"] == 50
    rules = (await client.get("/api/v1/tax-rules", headers=shop.admin.headers)).json()["items"]
    mine = next(r for r in rules if r["postalPrefix"] == shop.postal)
    await client.patch(
        f"/api/v1/tax-rules/{mine['id']}", json={"ratePpm": 70_000}, headers=shop.admin.headers
    )

    async def taxed() -> int | None:
        tax = (await client.get("/api/v1/cart", headers=shopper.headers)).json()["totals"]["taxAmount"]
        return tax if tax == 70 else None

    assert await eventually(taxed, timeout=5) == 70


async def test_shipping_zones_and_methods(client: AppClient, admin: Account) -> None:
    zone = await client.post(
        "/api/v1/shipping-zones", json={"name": "EU", "countries": ["de", "FR", "DE"]}, headers=admin.headers
    )
    assert zone.status_code == 201 and zone.json()["countries"] == ["DE", "FR"]
    zone_id = zone.json()["id"]
    bad = await _problem(
        await client.post(
            "/api/v1/shipping-zones", json={"name": "Nowhere", "countries": []}, headers=admin.headers
        ),
        422,
    )
    assert bad["errors"][0]["field"] == "countries"
    days = await _problem(
        await client.post(
            f"/api/v1/shipping-zones/{zone_id}/methods",
            json={
                "name": "Slow",
                "currency": "EUR",
                "baseAmount": 500,
                "minDeliveryDays": 5,
                "maxDeliveryDays": 2,
            },
            headers=admin.headers,
        ),
        422,
    )
    assert days["errors"][0]["field"] == "maxDeliveryDays"
    currency = await _problem(
        await client.post(
            f"/api/v1/shipping-zones/{zone_id}/methods",
            json={"name": "Odd", "currency": "XYZ", "baseAmount": 500},
            headers=admin.headers,
        ),
        422,
    )
    assert currency["errors"][0]["code"] == "unknown_currency"
    method = await client.post(
        f"/api/v1/shipping-zones/{zone_id}/methods",
        json={"name": "Express", "currency": "EUR", "baseAmount": 1500, "perKgAmount": 200},
        headers=admin.headers,
    )
    assert method.status_code == 201, method.text
    changed = await client.patch(
        f"/api/v1/shipping-methods/{method.json()['id']}",
        json={"freeAboveAmount": 10_000},
        headers=admin.headers,
    )
    assert changed.json()["freeAboveAmount"] == 10_000
    listed = (await client.get(f"/api/v1/shipping-zones/{zone_id}", headers=admin.headers)).json()
    assert [m["name"] for m in listed["methods"]] == ["Express"]
    assert (
        await client.delete(f"/api/v1/shipping-zones/{zone_id}", headers=admin.headers)
    ).status_code == 204
    gone = await client.get(f"/api/v1/shipping-methods/{method.json()['id']}", headers=admin.headers)
    assert (await _problem(gone, 404))["code"] == "shipping_method_not_found"


async def test_price_lists(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(1,))
    created = await client.post(
        "/api/v1/price-lists", json={"name": "Euro sale", "currency": "EUR"}, headers=shop.admin.headers
    )
    price_list = created.json()
    window = await _problem(
        await client.post(
            "/api/v1/price-lists",
            json={
                "name": "x",
                "currency": "USD",
                "startsAt": "2027-01-02T00:00:00Z",
                "endsAt": "2027-01-01T00:00:00Z",
            },
            headers=shop.admin.headers,
        ),
        422,
    )
    assert window["errors"][0]["field"] == "endsAt"
    entries = await _problem(
        await client.put(
            f"/api/v1/price-lists/{price_list['id']}/entries",
            json={
                "entries": [
                    {"variantId": variant, "priceAmount": 100},
                    {"variantId": str(uuid.uuid4()), "discountPpm": 1},
                    {"variantId": variant, "priceAmount": 1, "discountPpm": 1},
                ]
            },
            headers=shop.admin.headers,
        ),
        422,
    )
    assert {(e["field"], e["code"]) for e in entries["errors"]} == {
        ("entries[0].variantId", "currency_mismatch"),
        ("entries[1].variantId", "variant_not_found"),
        ("entries[2]", "one_of"),
        ("entries[2].variantId", "duplicate"),
        ("entries[2].variantId", "currency_mismatch"),
    }
    page = (
        await client.get(f"/api/v1/price-lists/{price_list['id']}/entries", headers=shop.admin.headers)
    ).json()
    assert page == {"items": [], "nextCursor": None}


async def test_coupons(client: AppClient, admin: Account) -> None:
    code = f"SAVE{uuid.uuid4().hex[:6]}"
    created = await client.post(
        "/api/v1/coupons",
        json={"code": code.lower(), "kind": "percentage", "discountPpm": 100_000},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    coupon = created.json()
    assert coupon["code"] == code.upper() and coupon["timesUsed"] == 0
    taken = await _problem(
        await client.post(
            "/api/v1/coupons",
            json={"code": code, "kind": "percentage", "discountPpm": 1},
            headers=admin.headers,
        ),
        409,
    )
    assert taken["code"] == "coupon_code_taken"
    cases = [
        ({"kind": "percentage"}, "discountPpm"),
        ({"kind": "fixed", "amountOff": 500}, "currency"),
        ({"kind": "buy_x_get_y", "discountPpm": 1_000_000}, "buyQuantity"),
        ({"kind": "tiered", "currency": "USD"}, "tiers"),
        (
            {
                "kind": "tiered", "currency": "USD",
                "tiers": [
                    {"thresholdAmount": 500, "discountPpm": 1},
                    {"thresholdAmount": 100, "discountPpm": 2},
                ],
            },
            "tiers",
        ),
        ({"kind": "percentage", "discountPpm": 1_000_001}, "discountPpm"),
        ({"kind": "sale"}, "kind"),
    ]  # fmt: skip
    for fields, field in cases:
        bad = await client.post(
            "/api/v1/coupons", json={"code": f"BAD{uuid.uuid4().hex[:6]}", **fields}, headers=admin.headers
        )
        assert (await _problem(bad, 422))["errors"][0]["field"] == field, fields
    changed = await client.patch(
        f"/api/v1/coupons/{coupon['id']}", json={"usageLimit": 5, "isActive": False}, headers=admin.headers
    )
    assert (changed.json()["usageLimit"], changed.json()["isActive"]) == (5, False)
    kind = await client.patch(
        f"/api/v1/coupons/{coupon['id']}", json={"kind": "fixed"}, headers=admin.headers
    )
    assert (await _problem(kind, 422))["errors"][0]["code"] == "unknown_field"
    found = await client.get("/api/v1/coupons", params={"q": code[:6].lower()}, headers=admin.headers)
    assert coupon["id"] in [c["id"] for c in found.json()["items"]]
    assert (await client.delete(f"/api/v1/coupons/{coupon['id']}", headers=admin.headers)).status_code == 204


def test_an_address_takes_the_zone_naming_its_region_over_a_country_wide_one() -> None:
    now = datetime.now(UTC)

    def zone(name: str, regions: list[str], priority: int) -> ShippingZoneRow:
        return ShippingZoneRow(uuid.uuid4(), name, ["US"], regions, priority, True, now, now)

    country, west, first = zone("US", [], 100), zone("West", ["CA", "OR"], 100), zone("First", [], 10)

    def pick(*zones: ShippingZoneRow, region: str | None = "CA") -> str | None:
        ordered = sorted(zones, key=lambda z: z.priority)  # as active_zones orders them
        found = zone_for(ShippingRules(zones=ordered, methods=[]), "US", region)
        return found.name if found else None

    assert pick(country, west) == "West"  # same priority: the one naming the region
    assert pick(country, west, region="NY") == "US"
    assert pick(country, west, first) == "First"  # a lower priority still comes first
    assert pick(zone("Later", ["CA"], 200), country) == "US"
    assert pick(west, region=None) is None

"""Totals through the API, against fixtures computed by hand (exclusive and inclusive tax,
discounts that split a cent, caps, tiers, buy-x-get-y, exclusive groups, coupon limits)."""

import asyncio
from typing import Any

from tests.fixtures.app import AppClient, eventually, make_settings, running_app
from tests.fixtures.commerce import (
    Shop,
    add,
    checkout,
    customer,
    guest,
    open_shop,
    ready_cart,
    ship_to,
    stocked_product,
)
from tests.fixtures.servers import Servers


async def _coupon(client: AppClient, shop: Shop, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/coupons", json=fields, headers=shop.admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _apply(client: AppClient, headers: dict[str, str], code: str) -> Any:
    return await client.put("/api/v1/cart/coupon", json={"code": code}, headers=headers)


async def test_exclusive_tax_per_line_and_on_shipping(client: AppClient) -> None:
    shop = await open_shop(client, shipping_amount=599, tax_ppm=88_750, shipping_tax=True)
    _, a = await stocked_product(client, shop, price=1999, stock=(10,))
    _, b = await stocked_product(client, shop, price=2499, stock=(10,))
    _, cart = await ready_cart(client, shop, [(a, 3), (b, 1)])
    # 5997 × 8.875 % = 532.23 -> 532; 2499 -> 221.79 -> 222; shipping 599 -> 53.16 -> 53
    assert [(x["taxAmount"], x["totalAmount"]) for x in cart["lines"]] == [(532, 6529), (222, 2721)]
    assert cart["totals"] == {
        "currency": "USD",
        "subtotalAmount": 8496,
        "discountAmount": 0,
        "shippingAmount": 599,
        "taxAmount": 807,
        "shippingTaxAmount": 53,
        "totalAmount": 9902,
        "pricesIncludeTax": False,
    }


async def test_inclusive_tax_with_a_reduced_class(servers: Servers, database_url: str) -> None:
    async with running_app(make_settings(servers, database_url, prices_include_tax=True)) as client:
        shop = await open_shop(client, shipping_amount=499)
        for name, category, rate, shipping in (
            ("VAT", "standard", 190_000, True),
            ("Books", "books", 70_000, False),
        ):
            rule = await client.post(
                "/api/v1/tax-rules",
                json={
                    "name": name,
                    "country": "US",
                    "postalPrefix": shop.postal,
                    "taxCategory": category,
                    "ratePpm": rate,
                    "appliesToShipping": shipping,
                },
                headers=shop.admin.headers,
            )
            assert rule.status_code == 201, rule.text
        _, shirt = await stocked_product(client, shop, price=1190, stock=(10,))
        _, book = await stocked_product(client, shop, price=1070, stock=(10,), taxCategory="books")
        _, cart = await ready_cart(client, shop, [(shirt, 2), (book, 1)])
        # 2380 holds 380 (net 2000); 1070 holds 70 (net 1000); shipping 499 holds 80 (net 419.33 -> 419)
        assert [(x["taxAmount"], x["taxRatePpm"], x["totalAmount"]) for x in cart["lines"]] == [
            (380, 190_000, 2380),
            (70, 70_000, 1070),
        ]
        assert cart["totals"] == {
            "currency": "USD",
            "subtotalAmount": 3450,
            "discountAmount": 0,
            "shippingAmount": 499,
            "taxAmount": 530,
            "shippingTaxAmount": 80,
            "totalAmount": 3949,
            "pricesIncludeTax": True,
        }


async def test_a_fixed_discount_splits_its_cent_exactly(client: AppClient) -> None:
    shop = await open_shop(client, tax_ppm=100_000)
    items = [await stocked_product(client, shop, price=1000, stock=(5,)) for _ in range(3)]
    coupon = await _coupon(
        client,
        shop,
        code=f"SPLIT{shop.postal}",
        kind="fixed",
        amountOff=100,
        currency="USD",
        productIds=[p["id"] for p, _ in items],
    )
    shopper, _ = await ready_cart(client, shop, [(v, 1) for _, v in items])
    applied = await _apply(client, shopper.headers, coupon["code"].lower())
    assert applied.status_code == 200, applied.text
    cart = applied.json()
    # 100 over three equal lines: 33.33 each; the odd cent goes to the first
    assert [x["discountAmount"] for x in cart["lines"]] == [34, 33, 33]
    assert [x["taxAmount"] for x in cart["lines"]] == [97, 97, 97]  # 96.6, 96.7, 96.7
    assert cart["discounts"] == [
        {
            "couponId": coupon["id"],
            "code": coupon["code"],
            "name": "",
            "kind": "fixed",
            "automatic": False,
            "amount": 100,
        }
    ]
    assert cart["totals"]["discountAmount"] == 100 and cart["totals"]["totalAmount"] == 2900 + 291 + 500
    order = await checkout(client, shopper, cart["totals"]["totalAmount"])
    assert order.status_code == 201, order.text
    body = order.json()
    assert body["couponCode"] == coupon["code"] and [x["discountAmount"] for x in body["lines"]] == [
        34,
        33,
        33,
    ]
    assert sum(x["totalAmount"] for x in body["lines"]) + 500 == body["totals"]["totalAmount"]


async def test_caps_tiers_buy_x_get_y_and_exclusive_groups(client: AppClient) -> None:
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, price=2000, stock=(20,))
    cheap_product, cheap = await stocked_product(client, shop, price=500, stock=(20,))
    ids = [product["id"], cheap_product["id"]]
    await _coupon(
        client,
        shop,
        code=f"AUTO{shop.postal}",
        kind="percentage",
        discountPpm=150_000,
        maxDiscountAmount=400,
        currency="USD",
        automatic=True,
        productIds=ids,
        exclusiveGroup="sale",
    )
    await _coupon(
        client,
        shop,
        code=f"TIER{shop.postal}",
        kind="tiered",
        currency="USD",
        automatic=True,
        productIds=ids,
        exclusiveGroup="sale",
        tiers=[
            {"thresholdAmount": 5000, "discountPpm": 50_000},
            {"thresholdAmount": 10_000, "discountPpm": 200_000},
        ],
    )
    shopper = await guest(client)
    cart = await add(client, shopper, variant, 2)  # 4000: 15 % = 600, capped at 400; no tier reached
    assert cart["totals"]["discountAmount"] == 400 and [d["code"] for d in cart["discounts"]] == [
        f"AUTO{shop.postal}"
    ]
    cart = await add(client, shopper, variant, 3)  # 10000: the tier's 20 % (2000) beats the cap's 400
    assert cart["totals"]["discountAmount"] == 2000 and [d["code"] for d in cart["discounts"]] == [
        f"TIER{shop.postal}"
    ]
    bxgy = await _coupon(
        client,
        shop,
        code=f"BOGO{shop.postal}",
        kind="buy_x_get_y",
        buyQuantity=2,
        getQuantity=1,
        discountPpm=1_000_000,
        productIds=[cheap_product["id"]],
    )
    await add(client, shopper, cheap, 6)
    applied = (await _apply(client, shopper.headers, bxgy["code"])).json()
    # the tier on 13000 eligible: 20 % = 2600 over both lines; then of six 5.00 units two are
    # free at their price (10.00), taken from what the tier left of the line (24.00)
    by_variant = {x["variantId"]: x["discountAmount"] for x in applied["lines"]}
    assert by_variant == {variant: 2000, cheap: 600 + 1000}
    assert applied["totals"]["discountAmount"] == 3600


async def test_coupon_checks_and_per_customer_limits(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=3000, stock=(10,))
    minimum = await _coupon(
        client,
        shop,
        code=f"MIN{shop.postal}",
        kind="percentage",
        discountPpm=100_000,
        minimumSubtotal=5000,
        currency="USD",
    )
    once = await _coupon(
        client, shop, code=f"ONCE{shop.postal}", kind="percentage", discountPpm=100_000, perCustomerLimit=1
    )
    expired = await _coupon(
        client,
        shop,
        code=f"OLD{shop.postal}",
        kind="percentage",
        discountPpm=100_000,
        startsAt="2020-01-01T00:00:00Z",
        endsAt="2020-02-01T00:00:00Z",
    )
    shopper = await customer(client)
    await add(client, shopper, variant)
    cases = {
        "NOPE-NOT-THERE": "coupon_not_found",
        minimum["code"]: "coupon_minimum_not_met",
        expired["code"]: "coupon_expired",
    }
    for code, problem in cases.items():
        response = await _apply(client, shopper.headers, code)
        assert (response.status_code, response.json()["code"]) == (422, problem), code
    await add(client, shopper, variant)  # 6000 now reaches the minimum
    assert (await _apply(client, shopper.headers, minimum["code"])).status_code == 200
    applied = (await _apply(client, shopper.headers, once["code"])).json()
    await ship_to(client, shopper, shop)
    total = (await client.get("/api/v1/cart", headers=shopper.headers)).json()["totals"]["totalAmount"]
    assert applied["totals"]["discountAmount"] == 600
    assert (await checkout(client, shopper, total)).status_code == 201
    await add(client, shopper, variant)
    again = await _apply(client, shopper.headers, once["code"])
    assert (again.status_code, again.json()["code"]) == (422, "coupon_limit_reached")


async def test_a_coupon_with_three_uses_is_used_three_times(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=1000, stock=(50,))
    coupon = await _coupon(
        client, shop, code=f"THREE{shop.postal}", kind="fixed", amountOff=100, currency="USD", usageLimit=3
    )
    carts = []
    for _ in range(10):
        shopper, _ = await ready_cart(client, shop, [(variant, 1)])
        applied = await _apply(client, shopper.headers, coupon["code"])
        assert applied.status_code == 200
        carts.append((shopper, applied.json()["totals"]["totalAmount"]))
    responses = await asyncio.gather(*(checkout(client, s, total) for s, total in carts))
    placed = [r.json() for r in responses if r.status_code == 201]
    refused = {r.json()["code"] for r in responses if r.status_code != 201}
    assert len(placed) == 3 and all(o["totals"]["discountAmount"] == 100 for o in placed)
    assert refused <= {"coupon_exhausted", "price_changed"}
    used = (await client.get(f"/api/v1/coupons/{coupon['id']}", headers=shop.admin.headers)).json()
    assert used["timesUsed"] == 3


async def test_price_lists_price_variants_for_their_audience(client: AppClient) -> None:
    shop = await open_shop(client)
    _, a = await stocked_product(client, shop, price=2000, stock=(5,))
    _, b = await stocked_product(client, shop, price=2000, stock=(5,))
    members = await client.post(
        "/api/v1/price-lists",
        json={"name": "Members", "currency": "USD", "audience": "signed_in", "priority": 1},
        headers=shop.admin.headers,
    )
    assert members.status_code == 201, members.text
    entries = await client.put(
        f"/api/v1/price-lists/{members.json()['id']}/entries",
        json={"entries": [{"variantId": a, "priceAmount": 1500}, {"variantId": b, "discountPpm": 250_000}]},
        headers=shop.admin.headers,
    )
    assert entries.status_code == 200 and entries.json() == {"written": 2}
    visitor = await guest(client)
    await add(client, visitor, a)
    assert (await add(client, visitor, b))["totals"]["subtotalAmount"] == 4000

    async def member_prices() -> list[int] | None:
        member = await customer(client)
        await add(client, member, a)
        cart = await add(client, member, b)
        prices = [x["unitPriceAmount"] for x in cart["lines"]]
        return prices if prices == [1500, 1500] else None

    assert await eventually(member_prices, timeout=5) == [1500, 1500]

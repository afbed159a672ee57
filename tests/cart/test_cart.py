"""Carts: guest tokens and user carts, lines capped by stock, server prices, merging on login."""

from typing import Any

from tests.fixtures.app import AppClient
from tests.fixtures.catalog import create_product
from tests.fixtures.commerce import add, customer, guest, open_shop, ship_to, stocked_product
from tests.fixtures.factories import login


async def test_a_guest_cart_lives_by_its_token(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=1250, stock=(3, 4))
    shopper = await guest(client)
    cart = await add(client, shopper, variant, 2)
    line = cart["lines"][0]
    assert (line["quantity"], line["unitPriceAmount"], line["subtotalAmount"], line["available"]) == (
        2,
        1250,
        2500,
        7,
    )
    assert cart["totals"]["totalAmount"] == 2500 and cart["currency"] == "USD" and cart["token"] is None
    more = await add(client, shopper, variant, 1)
    assert more["lines"][0]["quantity"] == 3
    assert (await client.get("/api/v1/cart")).json()["code"] == "cart_not_found"
    assert (await client.get("/api/v1/cart", headers={"X-Cart-Token": "nope"})).status_code == 404
    changed = await client.patch(
        f"/api/v1/cart/lines/{variant}", json={"quantity": 1}, headers=shopper.headers
    )
    assert changed.json()["lines"][0]["quantity"] == 1
    removed = await client.patch(
        f"/api/v1/cart/lines/{variant}", json={"quantity": 0}, headers=shopper.headers
    )
    assert removed.json()["lines"] == [] and removed.json()["currency"] is None
    gone = await client.delete(f"/api/v1/cart/lines/{variant}", headers=shopper.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "cart_line_not_found")


async def test_quantities_are_capped_by_stock_and_bounds(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(2, 1))
    shopper = await guest(client)
    too_many = await client.post(
        "/api/v1/cart/lines", json={"variantId": variant, "quantity": 4}, headers=shopper.headers
    )
    assert too_many.status_code == 409
    problem = too_many.json()
    assert problem["code"] == "insufficient_stock" and "offers 3 of 4" in problem["detail"]
    assert problem["errors"][0]["message"] == "3 available"
    huge = await client.post(
        "/api/v1/cart/lines", json={"variantId": variant, "quantity": 5000}, headers=shopper.headers
    )
    assert (huge.status_code, huge.json()["code"]) == (422, "quantity_too_large")
    negative = await client.post(
        "/api/v1/cart/lines", json={"variantId": variant, "quantity": 0}, headers=shopper.headers
    )
    assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "quantity"
    nothing = await client.post(
        "/api/v1/cart/lines",
        json={"variantId": "00000000-0000-0000-0000-000000000000"},
        headers=shopper.headers,
    )
    assert (nothing.status_code, nothing.json()["code"]) == (404, "variant_not_found")
    price = await client.post(
        "/api/v1/cart/lines", json={"variantId": variant, "unitPriceAmount": 1}, headers=shopper.headers
    )
    assert price.status_code == 422 and price.json()["errors"][0]["code"] == "unknown_field"


async def test_drafts_and_other_currencies_are_refused(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(5,))
    draft = await create_product(client, shop.seller, status="draft")
    euro = await create_product(client, shop.seller, currency="EUR")
    shopper = await guest(client)
    await add(client, shopper, variant)
    not_for_sale = await client.post(
        "/api/v1/cart/lines", json={"variantId": draft["variants"][0]["id"]}, headers=shopper.headers
    )
    assert (not_for_sale.status_code, not_for_sale.json()["code"]) == (409, "variant_unavailable")
    other = await client.post(
        "/api/v1/cart/lines", json={"variantId": euro["variants"][0]["id"]}, headers=shopper.headers
    )
    assert (other.status_code, other.json()["code"]) == (422, "currency_mismatch")


async def test_an_archived_product_leaves_the_totals_with_a_notice(client: AppClient) -> None:
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, price=900, stock=(5,))
    _, other = await stocked_product(client, shop, price=100, stock=(5,))
    shopper = await guest(client)
    await add(client, shopper, variant)
    await add(client, shopper, other)
    archived = await client.delete(f"/api/v1/products/{product['id']}", headers=shop.seller.headers)
    assert archived.status_code in (200, 204), archived.text
    cart = (await client.get("/api/v1/cart", headers=shopper.headers)).json()
    assert cart["totals"]["subtotalAmount"] == 100
    assert [n["code"] for n in cart["notices"]] == ["unavailable"]
    assert [line["sellable"] for line in cart["lines"]] == [False, True]


async def test_shipping_options_follow_the_address(client: AppClient) -> None:
    shop = await open_shop(client, shipping_amount=700, per_kg_amount=250, free_above_amount=10_000)
    _, heavy = await stocked_product(client, shop, price=3000, stock=(10,), weightGrams=1500)
    shopper = await guest(client)
    await add(client, shopper, heavy, 2)
    cart = (await client.get("/api/v1/cart", headers=shopper.headers)).json()
    assert cart["shippingOptions"] == [] and cart["totals"]["shippingAmount"] == 0
    cart = await ship_to(client, shopper, shop)
    assert cart["weightGrams"] == 3000
    assert [o["amount"] for o in cart["shippingOptions"]] == [700 + 750]  # 2.50 a kg for 3 kg
    assert cart["shippingMethodId"] == shop.method_id and cart["totals"]["totalAmount"] == 6000 + 1450
    cart = await add(client, shopper, heavy, 2)  # 120.00 of goods: above the free threshold
    assert cart["totals"]["shippingAmount"] == 0
    wrong = await client.patch(
        "/api/v1/cart",
        json={"shippingMethodId": "00000000-0000-0000-0000-000000000000"},
        headers=shopper.headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "shipping_method_unavailable")
    bad_country = await client.patch(
        "/api/v1/cart", json={"shippingAddress": shop.address(country="XX")}, headers=shopper.headers
    )
    assert bad_country.status_code == 422 and bad_country.json()["errors"][0]["code"] == "unknown_country"
    saved = await client.patch(
        "/api/v1/cart", json={"addressId": "00000000-0000-0000-0000-000000000000"}, headers=shopper.headers
    )
    assert saved.status_code == 422 and saved.json()["errors"][0]["field"] == "addressId"


async def test_a_signed_in_user_uses_a_saved_address(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(5,))
    shopper = await customer(client)
    saved = await client.post(
        "/api/v1/me/addresses",
        json={
            "kind": "shipping", "fullName": "Sam Saved", "line1": "2 Saved Road", "city": "Testville",
            "country": "us", "region": shop.region, "postalCode": f"{shop.postal}9",
        },
        headers=shopper.headers,
    )  # fmt: skip
    assert saved.status_code == 201, saved.text
    await add(client, shopper, variant)
    cart = await client.patch("/api/v1/cart", json={"addressId": saved.json()["id"]}, headers=shopper.headers)
    assert cart.status_code == 200, cart.text
    body: dict[str, Any] = cart.json()
    assert body["shippingAddress"]["fullName"] == "Sam Saved" and body["shippingAddress"]["country"] == "US"
    assert body["shippingOptions"] and body["totals"]["shippingAmount"] == 500


async def test_signing_in_merges_the_guest_cart(client: AppClient) -> None:
    shop = await open_shop(client)
    _, a = await stocked_product(client, shop, stock=(5,))
    _, b = await stocked_product(client, shop, stock=(5,))
    shopper = await customer(client)
    assert shopper.account is not None
    await add(client, shopper, a, 1)
    visitor = await guest(client)
    await add(client, visitor, a, 2)
    await add(client, visitor, b, 1)
    await ship_to(client, visitor, shop)
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": shopper.account.email, "password": shopper.account.password},
        headers=visitor.headers,
    )
    assert response.status_code == 200, response.text
    signed_in = await login(client, shopper.account.email)
    cart = (await client.get("/api/v1/cart", headers=signed_in.headers)).json()
    assert sorted((line["variantId"], line["quantity"]) for line in cart["lines"]) == sorted([(a, 3), (b, 1)])
    assert cart["shippingAddress"]["region"] == shop.region
    assert (await client.get("/api/v1/cart", headers=visitor.headers)).status_code == 404

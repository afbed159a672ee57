"""``/ws``: authentication, Origin checks, and pushes of order status and stock across processes
(the worker turns durable events into core NATS messages the API fans out)."""

import pytest

from citadel.worker import Worker
from tests.fixtures.app import AppClient
from tests.fixtures.commerce import checkout, customer, open_shop, ready_cart, stocked_product
from tests.fixtures.live import Closed, live_socket


async def test_a_foreign_origin_is_refused(client: AppClient) -> None:
    with pytest.raises(Closed) as refused:
        async with live_socket(client.app, origin="https://evil.example"):
            pass
    assert refused.value.code == 4403


async def test_the_first_message_must_authenticate(client: AppClient) -> None:
    storefront = client.runtime.settings.storefront_url
    async with live_socket(client.app, origin=storefront) as socket:
        await socket.send({"type": "subscribe", "productIds": []})
        with pytest.raises(Closed) as closed:
            await socket.receive()
    assert closed.value.code == 4400
    async with live_socket(client.app) as socket:
        await socket.send({"type": "auth", "token": "not-a-token"})
        with pytest.raises(Closed) as closed:
            await socket.receive()
    assert (closed.value.code, closed.value.reason) == (4401, "invalid_token")


async def test_owners_hear_their_orders_and_anyone_hears_stock(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, stock=(5, 3))
    shopper = await customer(client)
    assert shopper.account is not None
    async with (
        live_socket(client.app) as owner,
        live_socket(client.app) as watcher,
        live_socket(client.app, cookie=f"citadel_access={shopper.account.access_token}") as by_cookie,
    ):
        await owner.send({"type": "auth", "token": shopper.account.access_token})
        ready = await owner.receive()
        assert (
            ready["type"] == "ready"
            and ready["userId"] == str(shopper.account.user_id)
            and ready["expiresAt"]
        )
        assert (await by_cookie.receive())["userId"] == str(shopper.account.user_id)
        await watcher.send({"type": "auth", "token": None})
        assert (await watcher.receive())["userId"] is None
        await watcher.send({"type": "subscribe", "productIds": [product["id"]]})
        assert (await watcher.receive()) == {"type": "subscribed", "productIds": [product["id"]]}
        await watcher.send({"type": "ping"})
        assert (await watcher.receive())["type"] == "pong"
        await watcher.send({"type": "dance"})
        assert (await watcher.receive())["code"] == "bad_message"

        _, cart = await ready_cart(client, shop, [(variant, 6)], shopper)
        order = (await checkout(client, shopper, cart["totals"]["totalAmount"])).json()
        # (the push of the stock first set may still arrive before the order's: skipped)
        stock = await watcher.receive_until(
            "stock", productId=product["id"], variants=[{"variantId": variant, "available": 2}]
        )
        assert stock["inStock"] is True
        paid = await owner.receive_until("order_status", orderId=order["id"], toStatus="paid")
        assert paid["fromStatus"] == "pending" and paid["number"] == order["number"]
        assert (await by_cookie.receive_until("order_status", orderId=order["id"]))["toStatus"] == "paid"

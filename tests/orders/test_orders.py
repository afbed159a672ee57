"""Orders after checkout: fulfilments drive the status, cancellations and refunds put things back,
every transition is in the history, and each customer sees only their own orders."""

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from citadel.kit.events import EVENT_NAMES, Envelope
from citadel.notifications.consumers import consumers as notification_consumers
from citadel.orders import service as orders_service
from citadel.orders.models import OrderPlaced, OrderStatusChanged
from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.catalog import create_product, create_seller, set_stock
from tests.fixtures.commerce import (
    add,
    checkout,
    customer,
    open_shop,
    paid_order,
    ship_to,
    stocked_product,
)
from tests.fixtures.factories import fetch_notifications


async def _on_hand(client: AppClient, variant: str) -> list[tuple[int, int]]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT on_hand, reserved FROM stock WHERE variant_id = $1 ORDER BY warehouse_id",
            uuid.UUID(variant),
        )
    return [(r["on_hand"], r["reserved"]) for r in rows]


async def test_fulfilments_per_vendor_drive_the_status(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    other = await create_seller(client)
    _, mine = await stocked_product(client, shop, price=1000, stock=(5,))
    theirs = await create_product(client, other, priceAmount=2000)
    await set_stock(client, other, theirs["variants"][0]["id"], shop.warehouses[0]["id"], 5)
    shopper = await customer(client)
    order = await paid_order(client, shop, shopper, [(mine, 1), (theirs["variants"][0]["id"], 2)])
    assert len(order["fulfilments"]) == 2
    by_vendor = {f["vendorId"]: f["id"] for f in order["fulfilments"]}
    mine_f, theirs_f = by_vendor[str(shop.seller.vendor_id)], by_vendor[str(other.vendor_id)]
    foreign = await client.post(f"/api/v1/vendor/fulfilments/{theirs_f}/start", headers=shop.seller.headers)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "fulfilment_not_found")
    vendors_route = await client.post(f"/api/v1/fulfilments/{mine_f}/start", headers=shop.seller.headers)
    assert (vendors_route.status_code, vendors_route.json()["code"]) == (403, "role_required")
    started = await client.post(f"/api/v1/vendor/fulfilments/{mine_f}/start", headers=shop.seller.headers)
    assert (started.json()["status"], started.json()["orderStatus"]) == ("processing", "processing")
    assert {line["vendorId"] for line in started.json()["lines"]} == {str(shop.seller.vendor_id)}
    packed = await client.post(f"/api/v1/vendor/fulfilments/{mine_f}/pack", headers=shop.seller.headers)
    assert packed.json()["status"] == "packed" and packed.json()["packedAt"]
    shipped = await client.post(
        f"/api/v1/vendor/fulfilments/{mine_f}/ship", json={"carrier": "UPS", "trackingNumber": "1Z999"},
        headers=shop.seller.headers,
    )  # fmt: skip
    assert shipped.json()["orderStatus"] == "processing"  # the other vendor has not shipped yet
    cancel = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=shop.admin.headers)
    assert (cancel.status_code, cancel.json()["code"]) == (409, "invalid_transition")
    shipped = await client.post(
        f"/api/v1/vendor/fulfilments/{theirs_f}/ship", json={"carrier": "DHL", "trackingNumber": "JD01"},
        headers=other.headers,
    )  # fmt: skip
    assert shipped.json()["orderStatus"] == "shipped"
    again = await client.post(
        f"/api/v1/vendor/fulfilments/{theirs_f}/ship", json={"carrier": "DHL", "trackingNumber": "JD01"},
        headers=other.headers,
    )  # fmt: skip
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    for fulfilment in (mine_f, theirs_f):  # the carrier's word, through an admin
        done = await client.post(f"/api/v1/fulfilments/{fulfilment}/deliver", headers=shop.admin.headers)
    body = done.json()
    assert body["status"] == "delivered"
    assert [h["toStatus"] for h in body["history"]] == [
        "pending",
        "paid",
        "processing",
        "shipped",
        "delivered",
    ]
    assert {f["trackingNumber"] for f in body["fulfilments"]} == {"1Z999", "JD01"}

    async def shipped_notice() -> list[str] | None:
        async with client.runtime.db.connection() as conn:
            assert shopper.account is not None
            found = [n.template for n in await fetch_notifications(conn, shopper.account.user_id)]
        return found if {"order_confirmation", "order_shipped", "order_delivered"} <= set(found) else None

    assert await eventually(shipped_notice)
    mine_list = (await client.get("/api/v1/me/notifications", headers=shopper.headers)).json()["items"]
    confirmation = next(n for n in mine_list if n["template"] == "order_confirmation")
    assert order["number"] in confirmation["subject"] and "Total: 55.00 USD" in confirmation["body"]


async def test_an_unpaid_order_cannot_ship(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(5,))
    shopper = await customer(client)
    await add(client, shopper, variant)
    cart = await ship_to(client, shopper, shop)
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")).json()
    fulfilment = order["fulfilments"][0]["id"]
    refused = await client.post(f"/api/v1/vendor/fulfilments/{fulfilment}/start", headers=shop.seller.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "order_not_paid")


async def test_cancelling_a_paid_order_refunds_and_restocks(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(6,))
    shopper = await customer(client)
    order = await paid_order(client, shop, shopper, [(variant, 4)])
    assert await _on_hand(client, variant) == [(6, 4)]  # allocated: reserved until it ships
    stranger = await customer(client)
    hidden = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=stranger.headers)
    assert hidden.status_code == 404
    cancelled = await client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"}, headers=shopper.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["cancelReason"] == "changed my mind"
    assert (
        body["payment"]["status"] == "refunded"
        and body["totals"]["refundedAmount"] == order["totals"]["totalAmount"]
    )
    assert body["fulfilments"][0]["status"] == "cancelled"
    assert await _on_hand(client, variant) == [(6, 0)]
    twice = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=shopper.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")


async def test_partial_and_full_refunds(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client, tax_ppm=100_000)
    _, variant = await stocked_product(client, shop, price=1000, stock=(10,))
    shopper = await customer(client)
    order = await paid_order(client, shop, shopper, [(variant, 3)])  # 3300 of goods + 500 shipping
    line = order["lines"][0]
    refunds = f"/api/v1/orders/{order['id']}/refunds"
    assert (
        await client.post(refunds, json={"reason": "x", "amount": 1}, headers=shopper.headers)
    ).status_code == 403
    one = await client.post(
        refunds,
        json={"reason": "damaged", "lines": [{"lineId": line["id"], "quantity": 1}], "restock": True},
        headers=shop.admin.headers,
    )  # fmt: skip
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["totals"]["refundedAmount"] == 1100 and body["payment"]["status"] == "partially_refunded"
    assert body["lines"][0]["refundedQuantity"] == 1 and body["status"] == "paid"
    assert await _on_hand(client, variant) == [(10, 2)]  # not shipped: one unit no longer promised
    too_much = await client.post(
        refunds,
        json={"reason": "x", "lines": [{"lineId": line["id"], "quantity": 3}]},
        headers=shop.admin.headers,
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "lines[0].quantity"
    over = await client.post(refunds, json={"reason": "x", "amount": 999_999}, headers=shop.admin.headers)
    assert (over.status_code, over.json()["code"]) == (422, "refund_too_large")
    rest = await client.post(refunds, json={"reason": "goodwill", "amount": 2700}, headers=shop.admin.headers)
    body = rest.json()
    assert body["status"] == "refunded" and body["payment"]["status"] == "refunded"
    assert [r["amount"] for r in body["refunds"]] == [1100, 2700]
    # refunded in full, the two units not restocked will never ship: they leave the shelf
    assert await _on_hand(client, variant) == [(8, 0)]


async def test_paid_units_leave_the_shelf_as_they_ship_and_a_restocking_refund_brings_them_back(
    client: AppClient, worker: Worker
) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=1000, stock=(10,))
    shopper = await customer(client)
    order = await paid_order(client, shop, shopper, [(variant, 3)])
    assert await _on_hand(client, variant) == [(10, 3)]  # paid: allocated, still on the shelf
    [fulfilment] = order["fulfilments"]
    shipment = {"carrier": "DHL", "trackingNumber": "JD02"}
    shipped = await client.post(
        f"/api/v1/vendor/fulfilments/{fulfilment['id']}/ship", json=shipment, headers=shop.seller.headers
    )
    assert shipped.status_code == 200, shipped.text
    assert await _on_hand(client, variant) == [(7, 0)]
    two = [{"lineId": order["lines"][0]["id"], "quantity": 2}]
    returned = await client.post(
        f"/api/v1/orders/{order['id']}/refunds",
        json={"reason": "returned", "lines": two, "restock": True},
        headers=shop.admin.headers,
    )
    assert returned.status_code == 200, returned.text
    assert await _on_hand(client, variant) == [(9, 0)]  # two units back on the shelf
    async with client.runtime.db.connection() as conn:
        moves = await conn.fetch(
            "SELECT reason, on_hand_delta, reserved_delta FROM stock_movements"
            " WHERE variant_id = $1 AND reference = $2 ORDER BY id",
            uuid.UUID(variant),
            order["id"],
        )
        ledger = await conn.fetchrow(
            "SELECT sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved FROM stock_movements"
            " WHERE variant_id = $1",
            uuid.UUID(variant),
        )
    assert [(m["reason"], m["on_hand_delta"], m["reserved_delta"]) for m in moves] == [
        ("reserved", 0, 3), ("shipped", -3, -3), ("restocked", 2, 0),
    ]  # fmt: skip
    assert (ledger["on_hand"], ledger["reserved"]) == (9, 0)  # the ledger agrees with the stock row


async def test_customers_see_their_own_orders_and_admins_search_all(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(10,))
    alice, bob = await customer(client), await customer(client)
    placed = {}
    for who in (alice, bob):
        await add(client, who, variant)
        cart = await ship_to(client, who, shop)
        placed[id(who)] = (
            await checkout(client, who, cart["totals"]["totalAmount"], provider="manual")
        ).json()
    mine = (await client.get("/api/v1/orders", headers=alice.headers)).json()["items"]
    assert [o["id"] for o in mine] == [placed[id(alice)]["id"]]
    assert mine[0]["itemCount"] == 1
    assert (
        await client.get(f"/api/v1/orders/{placed[id(bob)]['id']}", headers=alice.headers)
    ).status_code == 404
    assert bob.account is not None
    found = await client.get(
        "/api/v1/orders", params={"q": bob.account.email.upper()[:12]}, headers=shop.admin.headers
    )
    assert placed[id(bob)]["id"] in [o["id"] for o in found.json()["items"]]
    by_number = await client.get(
        "/api/v1/orders",
        params={"q": placed[id(bob)]["number"], "status": "pending"},
        headers=shop.admin.headers,
    )
    assert [o["id"] for o in by_number.json()["items"]] == [placed[id(bob)]["id"]]
    bad = await client.get("/api/v1/orders", params={"status": "lost"}, headers=shop.admin.headers)
    assert bad.status_code == 422
    lookup = await client.get(
        "/api/v1/order-lookup", params={"number": placed[id(alice)]["number"], "email": "someone@else.test"}
    )
    assert (lookup.status_code, lookup.json()["code"]) == (404, "order_not_found")


async def test_a_fetch_of_order_events_makes_its_messages_at_once_in_stream_order(client: AppClient) -> None:
    """The notification consumer's batch: confirmations of several placed orders (read together)
    and a status change, stored in one statement in the order the events came."""
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=1500, stock=(9,))
    shopper = await customer(client)
    placed = []
    for quantity in (1, 2, 3):
        await add(client, shopper, variant, quantity)
        cart = await ship_to(client, shopper, shop)
        response = await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
        assert response.status_code == 201, response.text
        placed.append(response.json())
    assert shopper.account is not None
    user_id = shopper.account.user_id
    events: list[tuple[Any, Envelope]] = []
    for order in placed:
        async with client.runtime.db.connection() as conn:
            row = await orders_service.order_row(conn, uuid.UUID(order["id"]))
        event = OrderPlaced(
            order_id=row.id, number=row.number, user_id=user_id, email=row.email, currency=row.currency,
            total_amount=row.total_amount, payment_provider="manual", lines=[],
        )  # fmt: skip
        events.append((event, _envelope(event, row.id)))
        if len(events) == 1:  # the first one's status changed too, right after it was placed
            changed = OrderStatusChanged(
                order_id=row.id, number=row.number, user_id=user_id, email=row.email, from_status="pending",
                to_status="cancelled", reason="changed my mind",
            )  # fmt: skip
            events.append((changed, _envelope(changed, row.id)))
    [consumer] = [
        c for c in notification_consumers(client.runtime.settings) if c.name == "notifications-orders"
    ]
    assert consumer.batch_handler is not None
    for _ in range(2):  # a fetch delivered again adds nothing
        async with client.runtime.db.transaction() as conn:
            await consumer.batch_handler(conn, events)
    async with client.runtime.db.connection() as conn:
        stored = await conn.fetch(
            "SELECT template, subject, body FROM notifications WHERE source_event_id = ANY($1::uuid[])"
            " ORDER BY created_at",
            [envelope.id for _, envelope in events],
        )
    first, second, third = (order["number"] for order in placed)
    assert [(r["template"], r["subject"]) for r in stored] == [
        ("order_confirmation", f"Your order {first}"), ("order_cancelled", f"Order {first} was cancelled"),
        ("order_confirmation", f"Your order {second}"), ("order_confirmation", f"Your order {third}"),
    ]  # fmt: skip
    assert "  2 × " in stored[2]["body"] and "  3 × " in stored[3]["body"]  # each order's own lines
    assert "Please transfer" in stored[0]["body"]  # a manual payment's instructions, from its payment


def _envelope(event: Any, aggregate: uuid.UUID) -> Envelope:
    return Envelope(
        id=uuid.uuid4(), type=EVENT_NAMES[type(event)], aggregate_id=str(aggregate), sequence=1,
        occurred_at=datetime.now(UTC), data=msgspec.Raw(msgspec.json.encode(event)),
    )  # fmt: skip

"""Checkout: one order, its payment, its events and its holds, exactly once per Idempotency-Key."""

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from citadel.orders import service as orders_service
from citadel.payments.service import TEST_CARDS
from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.commerce import (
    ACTION_CARD,
    DECLINED_CARD,
    TEST_CARD,
    Shopper,
    add,
    checkout,
    customer,
    guest,
    open_shop,
    ready_cart,
    ship_to,
    stocked_product,
)


async def _stock(client: AppClient, variant: str) -> list[tuple[int, int]]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT on_hand, reserved FROM stock WHERE variant_id = $1 ORDER BY warehouse_id",
            uuid.UUID(variant),
        )
    return [(r["on_hand"], r["reserved"]) for r in rows]


async def _hold_statuses(client: AppClient, order: dict[str, Any]) -> list[str]:
    async with client.runtime.db.connection() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT status FROM stock_holds WHERE order_id = $1 ORDER BY status",
            uuid.UUID(order["id"]),
        )
    return [r["status"] for r in rows]


async def _order(client: AppClient, shopper_headers: dict[str, str], order: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/order-lookup",
        params={"number": order["number"], "email": order["email"]},
        headers=shopper_headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_guest_checks_out_and_the_test_provider_pays(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client, tax_ppm=88_750)
    _, variant = await stocked_product(client, shop, price=1999, stock=(3, 5))
    shopper, cart = await ready_cart(client, shop, [(variant, 4)])
    assert cart["totals"] == {
        "currency": "USD", "subtotalAmount": 7996, "discountAmount": 0, "shippingAmount": 500,
        "taxAmount": 710, "shippingTaxAmount": 0, "totalAmount": 9206, "pricesIncludeTax": False,
    }  # fmt: skip
    response = await checkout(client, shopper, 9206)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending" and order["number"].startswith("CIT-")
    assert order["totals"]["totalAmount"] == 9206 and order["payment"]["amount"] == 9206
    assert order["payment"]["method"] == {"brand": "test", "last4": "4242"}
    # the one warehouse that has all four ships them (priority would pick the first, which has 3)
    assert await _stock(client, variant) == [(3, 0), (5, 4)]

    async def paid() -> dict[str, Any] | None:
        found = await _order(client, {}, order)
        return found if found["status"] == "paid" else None

    done = await eventually(paid)
    assert done["payment"]["status"] == "captured" and done["payment"]["capturedAmount"] == 9206
    assert [h["toStatus"] for h in done["history"]] == ["pending", "paid"]
    # the hold became an allocation: the units stay on hand and reserved until they ship
    assert await _stock(client, variant) == [(3, 0), (5, 4)]
    assert await _hold_statuses(client, order) == ["allocated"]
    [fulfilment] = done["fulfilments"]
    shipment = {"carrier": "UPS", "trackingNumber": "1Z1"}
    shipped = await client.post(
        f"/api/v1/vendor/fulfilments/{fulfilment['id']}/ship", json=shipment, headers=shop.seller.headers
    )
    assert shipped.status_code == 200, shipped.text
    assert await _stock(client, variant) == [(3, 0), (1, 0)]  # they left the shelf as they shipped
    assert await _hold_statuses(client, order) == ["shipped"]
    # the cart is spent; the token finds nothing now
    assert (await client.get("/api/v1/cart", headers=shopper.headers)).status_code == 404


async def test_checkout_events_and_ledger(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(2, 2))
    shopper, cart = await ready_cart(client, shop, [(variant, 3)])
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"])).json()
    async with client.runtime.db.connection() as conn:
        types = [
            r["event_type"]
            for r in await conn.fetch(
                "SELECT event_type FROM outbox WHERE aggregate_id = $1 ORDER BY aggregate_sequence",
                order["id"],
            )
        ]
        payment_events = await conn.fetchval(
            "SELECT array_agg(event_type) FROM outbox WHERE aggregate_id = $1", order["payment"]["id"]
        )
        ledger = await conn.fetch(
            "SELECT on_hand_delta, reserved_delta, reason, reference FROM stock_movements"
            " WHERE variant_id = $1 AND reason = 'reserved'",
            uuid.UUID(variant),
        )
    assert types == ["orders.placed", "inventory.reserved"]
    assert payment_events == ["payments.pending"]
    assert sorted(r["reserved_delta"] for r in ledger) == [1, 2]  # no one warehouse has 3: split
    assert {r["reference"] for r in ledger} == {order["id"]}


async def test_same_key_replays_and_another_body_is_refused(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(5,))
    shopper, cart = await ready_cart(client, shop, [(variant, 1)])
    total = cart["totals"]["totalAmount"]
    key = str(uuid.uuid4())
    first = await checkout(client, shopper, total, key=key, email="same@example.test")
    again = await checkout(client, shopper, total, key=key, email="same@example.test")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    other = await checkout(client, shopper, total + 1, key=key, email="same@example.test")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    missing = await client.post(
        "/api/v1/checkout",
        json={"expectedTotal": total, "payment": {"provider": "manual"}},
        headers=shopper.headers,
    )
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    assert await _stock(client, variant) == [(5, 1)]


async def test_twenty_concurrent_requests_with_one_key_make_one_order(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(50,))
    shopper, cart = await ready_cart(client, shop, [(variant, 2)])
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *[
            checkout(client, shopper, cart["totals"]["totalAmount"], key=key, email="twenty@example.test")
            for _ in range(20)
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 409}, codes
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert all(r.json()["code"] == "idempotency_key_in_use" for r in responses if r.status_code == 409)
    async with client.runtime.db.connection() as conn:
        orders = await conn.fetchval("SELECT count(*) FROM orders WHERE email = 'twenty@example.test'")
    assert orders == 1
    assert await _stock(client, variant) == [(50, 2)]


async def test_a_changed_total_is_409_and_holds_nothing(client: AppClient) -> None:
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, price=1000, stock=(5,))
    shopper, cart = await ready_cart(client, shop, [(variant, 1)])
    seen = cart["totals"]["totalAmount"]
    changed = await client.patch(
        f"/api/v1/products/{product['id']}", json={"priceAmount": 1100}, headers=shop.seller.headers
    )
    assert changed.status_code == 200, changed.text
    response = await checkout(client, shopper, seen)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "price_changed" and problem["errors"][0]["field"] == "expectedTotal"
    assert "16.00 USD" in problem["detail"]
    notices = (await client.get("/api/v1/cart", headers=shopper.headers)).json()["notices"]
    assert notices == [
        {
            "code": "price_changed", "message": "The price changed since this item was added.",
            "variantId": variant, "previousAmount": 1000, "currentAmount": 1100,
        }
    ]  # fmt: skip
    assert await _stock(client, variant) == [(5, 0)]
    assert (await checkout(client, shopper, seen + 100)).status_code == 201


async def test_what_a_cart_must_fix_first(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(1,))
    shopper = await guest(client)
    empty = await checkout(client, shopper, 0)
    assert (empty.status_code, empty.json()["code"]) == (422, "cart_empty")
    await add(client, shopper, variant)
    no_address = await checkout(client, shopper, 1000)
    assert (no_address.status_code, no_address.json()["code"]) == (422, "shipping_address_required")
    elsewhere = await client.patch(
        "/api/v1/cart", json={"shippingAddress": shop.address(region="NOWHERE")}, headers=shopper.headers
    )
    assert elsewhere.json()["shippingOptions"] == []
    unshippable = await checkout(client, shopper, 1000)
    assert (unshippable.status_code, unshippable.json()["code"]) == (422, "shipping_not_available")
    cart = await ship_to(client, shopper, shop)
    no_email = await client.post(
        "/api/v1/checkout",
        json={
            "expectedTotal": cart["totals"]["totalAmount"],
            "payment": {"provider": "test", "testCard": "4242424242424242"},
        },
        headers={**shopper.headers, "Idempotency-Key": "k-no-email"},
    )
    assert (no_email.status_code, no_email.json()["code"]) == (422, "email_required")
    bad_card = await checkout(client, shopper, cart["totals"]["totalAmount"], card="4111111111111111")
    assert (bad_card.status_code, bad_card.json()["errors"][0]["code"]) == (422, "card_not_supported")
    malformed = await client.post(
        "/api/v1/checkout", content=b"{", headers={**shopper.headers, "Idempotency-Key": "k-malformed"}
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_json")
    unknown = await client.post(
        "/api/v1/checkout",
        json={"expectedTotal": 1, "payment": {"provider": "cash"}, "priceAmount": 1},
        headers={**shopper.headers, "Idempotency-Key": "k-unknown"},
    )
    assert unknown.status_code == 422
    assert {e["field"] for e in unknown.json()["errors"]} >= {"priceAmount", "payment.provider"}


async def test_stock_gone_between_cart_and_checkout(client: AppClient) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(2,))
    first, cart = await ready_cart(client, shop, [(variant, 2)])
    second, _ = await ready_cart(client, shop, [(variant, 2)])
    assert (await checkout(client, first, cart["totals"]["totalAmount"])).status_code == 201
    response = await checkout(client, second, cart["totals"]["totalAmount"])
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    notices = (await client.get("/api/v1/cart", headers=second.headers)).json()["notices"]
    assert [n["code"] for n in notices] == ["insufficient_stock"] and notices[0]["available"] == 0


async def test_taking_the_last_units_announces_the_variant_out_of_stock(client: AppClient) -> None:
    # a plan from unlocked levels never empties a row; this one is made again under the row locks,
    # and the holds' change is announced
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, stock=(2, 3))
    first, cart = await ready_cart(client, shop, [(variant, 2)])
    assert (await checkout(client, first, cart["totals"]["totalAmount"])).status_code == 201
    assert (await client.get(f"/api/v1/products/{product['id']}")).json()["inStock"] is True
    last, cart = await ready_cart(client, shop, [(variant, 3)])
    assert (await checkout(client, last, cart["totals"]["totalAmount"])).status_code == 201
    assert await _stock(client, variant) == [(2, 2), (3, 3)]
    page = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert page["inStock"] is False and page["variants"][0]["available"] == 0
    async with client.runtime.db.connection() as conn:
        changes = await conn.fetch(
            "SELECT data->>'inStock' AS in_stock FROM outbox WHERE aggregate_id = $1"
            " AND event_type = 'catalog.stock_status_changed' ORDER BY aggregate_sequence",
            product["id"],
        )
    assert [r["in_stock"] for r in changes] == ["true", "false"]  # in when stocked, out now


async def test_a_row_emptied_while_the_commit_waits_is_planned_again_under_its_lock(
    client: AppClient,
) -> None:
    # the units are taken in the message that commits; another writer holds the row, leaves only
    # the 3 units wanted and lets go: the commit is refused (the plan from unlocked levels may not
    # empty a row), and the checkout runs again under the row's lock, taking the last units
    shop = await open_shop(client)
    product, variant = await stocked_product(client, shop, stock=(10,))
    shopper, cart = await ready_cart(client, shop, [(variant, 3)])
    other = await asyncpg.connect(client.runtime.settings.database_url.reveal())
    try:
        holding = other.transaction()
        await holding.start()
        await other.execute("SELECT 1 FROM stock WHERE variant_id = $1 FOR NO KEY UPDATE", uuid.UUID(variant))
        placing = asyncio.create_task(checkout(client, shopper, cart["totals"]["totalAmount"]))

        async def waiting() -> bool:  # the checkout's commit message, blocked by this row lock
            blocked = (
                "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))"
            )
            return bool(await other.fetchval(blocked))

        await eventually(waiting)
        await other.execute("UPDATE stock SET on_hand = 3 WHERE variant_id = $1", uuid.UUID(variant))
        await holding.commit()
        placed = await placing
    finally:
        await other.close()
    assert placed.status_code == 201, placed.text
    assert await _stock(client, variant) == [(3, 3)]
    async with client.runtime.db.connection() as conn:
        holds = await conn.fetchval(
            "SELECT count(*) FROM stock_holds WHERE order_id = $1", uuid.UUID(placed.json()["id"])
        )
        changes = await conn.fetch(
            "SELECT data->>'inStock' AS in_stock FROM outbox WHERE aggregate_id = $1"
            " AND event_type = 'catalog.stock_status_changed' ORDER BY aggregate_sequence",
            product["id"],
        )
    assert holds == 1  # the refused attempt kept nothing
    assert [r["in_stock"] for r in changes] == ["true", "false"]


async def test_a_declined_card_cancels_the_order_and_releases_its_stock(
    client: AppClient, worker: Worker
) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(4,))
    shopper, cart = await ready_cart(client, shop, [(variant, 3)])
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"], card=DECLINED_CARD)).json()
    assert await _stock(client, variant) == [(4, 3)]

    async def cancelled() -> dict[str, Any] | None:
        found = await _order(client, {}, order)
        return found if found["status"] == "cancelled" else None

    done = await eventually(cancelled)
    assert done["payment"]["status"] == "failed" and done["payment"]["failureCode"] == "card_declined"
    assert done["cancelReason"] == "payment failed: card_declined"
    assert await _stock(client, variant) == [(4, 0)]


async def test_a_card_that_asks_for_confirmation(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(4,))
    shopper = await customer(client)
    _, cart = await ready_cart(client, shop, [(variant, 1)], shopper)
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"], card=ACTION_CARD)).json()

    async def payment_status(status: str) -> dict[str, Any] | None:
        found = (await client.get(f"/api/v1/orders/{order['id']}", headers=shopper.headers)).json()
        return found if found["payment"]["status"] == status else None

    waiting = await eventually(lambda: payment_status("requires_action"))
    assert waiting["payment"]["nextAction"] == "confirm" and waiting["status"] == "pending"
    stranger = await customer(client)
    refused = await client.post(
        f"/api/v1/payments/{order['payment']['id']}/confirm", headers=stranger.headers
    )
    assert refused.status_code == 404
    confirmed = await client.post(
        f"/api/v1/payments/{order['payment']['id']}/confirm", headers=shopper.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    done = await eventually(lambda: payment_status("captured"))
    assert done["status"] == "paid"
    again = await client.post(f"/api/v1/payments/{order['payment']['id']}/confirm", headers=shopper.headers)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")


async def test_a_fetch_of_payments_is_answered_together(client: AppClient) -> None:
    """What the payment consumer does with a fetch: the captured payments are applied together,
    a declined card and one asking for confirmation take their own paths in the same
    transaction, and a payment asked about twice is answered once."""
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(10, 10))
    cards = [TEST_CARD, TEST_CARD, TEST_CARD, DECLINED_CARD, ACTION_CARD]
    placed = []
    for _ in cards:  # placed as manual payments, which no worker answers, then made card payments
        shopper, cart = await ready_cart(client, shop, [(variant, 2)])
        response = await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
        assert response.status_code == 201, response.text
        placed.append(response.json())
    ids = [uuid.UUID(order["payment"]["id"]) for order in placed]
    async with client.runtime.db.transaction() as conn:
        for payment_id, card in zip(ids, cards, strict=True):
            details = {"brand": "test", "last4": card[-4:], "outcome": TEST_CARDS[card]}
            await conn.execute(
                "UPDATE payments SET provider = 'test', method_details = $2 WHERE id = $1",
                payment_id,
                details,
            )
    async with client.runtime.db.transaction(generic_plans=True) as conn:
        await orders_service.process_payments(conn, [*ids, ids[0]])
    found = [await _order(client, {}, order) for order in placed]
    assert [(o["status"], o["payment"]["status"]) for o in found] == [
        ("paid", "captured"), ("paid", "captured"), ("paid", "captured"), ("cancelled", "failed"),
        ("pending", "requires_action"),
    ]  # fmt: skip
    assert all([h["toStatus"] for h in o["history"]] == ["pending", "paid"] for o in found[:3])
    assert found[3]["cancelReason"] == "payment failed: card_declined"
    stock = await _stock(client, variant)
    assert sum(on_hand for on_hand, _ in stock) == 20  # nothing shipped yet
    assert sum(reserved for _, reserved in stock) == 3 * 2 + 2  # three orders paid, one waiting
    assert [await _hold_statuses(client, order) for order in placed] == [
        ["allocated"], ["allocated"], ["allocated"], ["released"], ["held"],
    ]  # fmt: skip
    async with client.runtime.db.connection() as conn:
        events = await conn.fetch(
            "SELECT aggregate_id, event_type, aggregate_sequence FROM outbox"
            " WHERE aggregate_id = ANY($1::text[]) ORDER BY aggregate_id, aggregate_sequence",
            [str(x) for x in ids] + [order["id"] for order in placed],
        )
    by_aggregate: dict[str, list[tuple[str, int]]] = {}
    for row in events:
        by_aggregate.setdefault(row["aggregate_id"], []).append(
            (row["event_type"], row["aggregate_sequence"])
        )
    for order, payment_id in zip(placed[:3], ids[:3], strict=True):
        assert by_aggregate[order["id"]] == [
            ("orders.placed", 1), ("inventory.reserved", 2), ("orders.status_changed", 3), ("orders.paid", 4),
        ]  # fmt: skip
        assert by_aggregate[str(payment_id)] == [("payments.pending", 1), ("payments.captured", 2)]
    assert by_aggregate[str(ids[3])] == [("payments.pending", 1), ("payments.failed", 2)]
    assert by_aggregate[str(ids[4])] == [("payments.pending", 1), ("payments.action_required", 2)]


async def test_payment_answers_racing_cancellations_leave_every_order_settled_once(client: AppClient) -> None:
    # a fetch of payments is answered while each order's customer cancels it: whichever comes
    # first, every order ends cancelled with its payment voided or refunded and its units back
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(20,))
    placed = []
    for _ in range(6):
        shopper = await customer(client)
        _, cart = await ready_cart(client, shop, [(variant, 2)], shopper)
        response = await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")
        assert response.status_code == 201, response.text
        placed.append((shopper, response.json()))
    ids = [uuid.UUID(order["payment"]["id"]) for _, order in placed]
    async with client.runtime.db.transaction() as conn:  # made card payments no worker answers
        await conn.execute(
            "UPDATE payments SET provider = 'test', method_details = $2 WHERE id = ANY($1::uuid[])",
            ids,
            {"brand": "test", "last4": "4242", "outcome": "succeed"},
        )

    async def answer() -> None:
        async with client.runtime.db.transaction(generic_plans=True) as conn:
            await orders_service.process_payments(conn, ids)

    async def cancel(shopper: Shopper, order: dict[str, Any]) -> int:
        url = f"/api/v1/orders/{order['id']}/cancel"
        return (await client.post(url, json={"reason": "changed"}, headers=shopper.headers)).status_code

    results = await asyncio.gather(answer(), *(cancel(s, o) for s, o in placed))
    assert results[1:] == [200] * len(placed)
    found = [await _order(client, {}, order) for _, order in placed]
    assert {o["status"] for o in found} == {"cancelled"}
    assert {o["payment"]["status"] for o in found} <= {"voided", "refunded"}
    assert await _stock(client, variant) == [(20, 0)]  # every unit back on offer, none twice
    async with client.runtime.db.connection() as conn:
        ledger = await conn.fetchrow(
            "SELECT sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved FROM stock_movements"
            " WHERE variant_id = $1",
            uuid.UUID(variant),
        )
    assert (ledger["on_hand"], ledger["reserved"]) == (20, 0)


async def test_a_manual_payment_waits_for_an_admin(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(4,))
    shopper, cart = await ready_cart(client, shop, [(variant, 2)])
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")).json()
    assert order["payment"]["nextAction"] == "bank_transfer"
    held = datetime.fromisoformat(order["payBy"]) - datetime.fromisoformat(order["placedAt"])
    assert held.total_seconds() == client.runtime.settings.payment_hold_manual_s

    async def confirmation() -> Any:  # a guest's: found by the order's number
        async with client.runtime.db.connection() as conn:
            return await conn.fetchval(
                "SELECT body FROM notifications WHERE template = 'order_confirmation' AND subject = $1",
                f"Your order {order['number']}",
            )

    body = await eventually(confirmation)
    pay_by = datetime.fromisoformat(order["payBy"])
    total = f"{order['totals']['totalAmount'] / 100:.2f} USD"
    assert f"Please transfer {total} quoting {order['number']} by {pay_by:%Y-%m-%d %H:%M} UTC" in body
    assert "  2 × " in body and f"Total: {total}" in body
    capture = f"/api/v1/payments/{order['payment']['id']}/capture"
    assert (await client.post(capture, headers=shopper.headers)).status_code == 401
    captured = await client.post(capture, headers=shop.admin.headers)
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "paid" and captured.json()["payment"]["status"] == "captured"
    assert await _stock(client, variant) == [(4, 2)]  # allocated: reserved until it ships
    twice = await client.post(capture, headers=shop.admin.headers)
    assert twice.status_code == 409


async def test_expired_holds_come_back_to_stock(client: AppClient, worker: Worker) -> None:
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, stock=(5,))
    shopper, cart = await ready_cart(client, shop, [(variant, 5)])
    order = (await checkout(client, shopper, cart["totals"]["totalAmount"], provider="manual")).json()
    assert await _stock(client, variant) == [(5, 5)]
    async with client.runtime.db.connection() as conn:  # the transfer never came: its time is up
        await conn.execute(
            "UPDATE orders SET holds_expire_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(order["id"]),
        )

    async def cancelled() -> dict[str, Any] | None:
        found = await _order(client, {}, order)
        return found if found["status"] == "cancelled" else None

    done = await eventually(cancelled)
    assert done["cancelReason"] == "payment not received in time"
    assert done["payment"]["status"] == "voided" and done["payBy"] is None
    assert await _stock(client, variant) == [(5, 0)]
    async with client.runtime.db.connection() as conn:
        holds = await conn.fetch("SELECT status FROM stock_holds WHERE order_id = $1", uuid.UUID(order["id"]))
        released = await conn.fetchval(
            "SELECT sum(reserved_delta) FROM stock_movements WHERE variant_id = $1", uuid.UUID(variant)
        )
    assert [h["status"] for h in holds] == ["released"] and released == 0

"""Stock is never oversold: hundreds of buyers at once for a few units, over two warehouses."""

import asyncio
import uuid
from collections import Counter

from tests.fixtures.app import make_settings, running_app
from tests.fixtures.commerce import Shopper, checkout, guest, open_shop, ready_cart, stocked_product
from tests.fixtures.servers import Servers

BUYERS = 500
UNITS = (25, 25)  # 50 units, two warehouses


async def test_five_hundred_buyers_for_fifty_units(servers: Servers, database_url: str) -> None:
    # a pool of its own, wide enough that many checkouts really run at the same time
    settings = make_settings(servers, database_url, database_pool_size=48)
    async with running_app(settings) as client:
        shop = await open_shop(client)
        _, variant = await stocked_product(client, shop, price=2500, stock=UNITS)
        carts: list[tuple[Shopper, int]] = []
        for _ in range(BUYERS):
            shopper, cart = await ready_cart(client, shop, [(variant, 1)], await guest(client))
            carts.append((shopper, cart["totals"]["totalAmount"]))
        responses = await asyncio.gather(*(checkout(client, s, total) for s, total in carts))
        codes = Counter(r.status_code for r in responses)
        assert codes == {201: 50, 409: BUYERS - 50}, codes
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}

        # one snapshot: a worker taking payments meanwhile turns holds into allocations
        async with client.runtime.db.connection() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(
                "SELECT warehouse_id, on_hand, reserved FROM stock WHERE variant_id = $1", uuid.UUID(variant)
            )
            ledger = {
                r["warehouse_id"]: (r["on_hand"], r["reserved"])
                for r in await conn.fetch(
                    "SELECT warehouse_id, sum(on_hand_delta)::int AS on_hand,"
                    " sum(reserved_delta)::int AS reserved FROM stock_movements"
                    " WHERE variant_id = $1 GROUP BY warehouse_id",
                    uuid.UUID(variant),
                )
            }
            holds = await conn.fetchrow(
                "SELECT sum(quantity) FILTER (WHERE status IN ('held', 'allocated')) AS promised,"
                " count(DISTINCT order_id) AS orders"
                " FROM stock_holds WHERE variant_id = $1",
                uuid.UUID(variant),
            )
        # paid or not, nothing has shipped: every unit is still on hand, and every one promised
        assert sorted(r["on_hand"] - r["reserved"] for r in rows) == [0, 0]
        assert sum(r["on_hand"] for r in rows) == 50 and sum(r["reserved"] for r in rows) == 50
        assert {w: (r["on_hand"], r["reserved"]) for w, r in ((r["warehouse_id"], r) for r in rows)} == ledger
        assert holds["promised"] == 50 and holds["orders"] == 50

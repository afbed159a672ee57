"""The checkout benchmark: orders per second through ``POST /api/v1/checkout``, beside the bare
insert-in-a-transaction ceiling of the same run.

``prepare`` gives the benchmark database a vendor with 2,000 single-variant products and one hot
SKU, all stocked in two warehouses far beyond what a run sells, a shipping zone of their own and
a sales-tax rule (8.875 %, per line, half-up). Before each timed window (and each warm-up),
guest carts are written straight to the database, each with its lines, address, e-mail and
the total a shopper would have seen (computed with the same kernels), so the window measures
checkouts only. The API runs on Granian with 2 workers, with the rate limiter on and raised;
``citadel relay`` and ``citadel worker --no-relay`` (the consumers, the test provider's payments
included) run beside it.

Cases:

- ``e_insert``: the bare ceiling: the same request inserting one row (BEGIN, INSERT, COMMIT);
- ``checkout_3``: carts of 3 lines over the 2,000 SKUs;
- ``checkout_1``: carts of 1 line over the 2,000 SKUs;
- ``checkout_hot``: carts of 1 line, all of the one hot SKU (contention on its stock rows).

After each case: the orders it made, the outbox backlog (and its oldest event's age), the
consumers' lag (JetStream messages not yet handled: payments to confirm, confirmations to
send), and the oversell check (every stock row's counters equal to its ledger, nothing reserved
past on hand, every order's holds equal to its lines).

The follow-up work of one phase is not left to slow the next: the suite starts on empty
streams (the bench namespace's are deleted; the worker makes them again), and before each
warm-up and each timed window the run waits until the relay and the consumers have caught up
with everything already placed (``catch_up_s`` records how long that took after the window).
"""

import asyncio
import contextlib
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import asyncpg
import msgspec
import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bench import environment
from bench.driver import Load, Server
from citadel._fast import money
from citadel.kit.events import DOMAINS, namespace_consumers
from citadel.kit.ids import uuid7
from citadel.settings import Settings

SKUS = 2_000
SPREAD_STOCK = 1_000_000  # per warehouse and SKU
HOT_STOCK = 50_000_000
TAX_PPM = 88_750
SHIPPING = 500
REGION = "BENCHCO"
POSTAL = "BENCH"
VENDOR_SLUG = "bench-checkout"
CARTS = {"warmup": 6_000, "measure": 30_000}  # more than a window can spend
CATCH_UP_S = 300.0

_encoder = msgspec.json.Encoder()


class Catalogue(msgspec.Struct, frozen=True):
    variants: list[uuid.UUID]
    prices: list[int]
    hot: uuid.UUID
    hot_price: int
    method_id: uuid.UUID


async def _prepare(url: str) -> Catalogue:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            return await _catalogue(conn)
    finally:
        await conn.close()


async def _catalogue(conn: asyncpg.Connection) -> Catalogue:
    vendor = await conn.fetchval("SELECT id FROM vendors WHERE slug = $1", VENDOR_SLUG)
    if vendor is None:
        _, vendor = await environment.make_vendor(conn, VENDOR_SLUG, "Bench")
        products = [uuid7() for _ in range(SKUS + 1)]
        prices = [900 + (n * 37) % 4000 for n in range(SKUS + 1)]
        await conn.execute(
            "INSERT INTO products (id, vendor_id, name, slug, status, price_amount, currency, published_at)"
            " SELECT p, $1, 'Bench item ' || n, 'bench-item-' || n, 'active', price, 'USD', now()"
            " FROM unnest($2::uuid[], $3::bigint[]) WITH ORDINALITY AS t (p, price, n)",
            vendor,
            products,
            prices,
        )
        await conn.execute(
            "INSERT INTO product_variants (id, product_id, vendor_id, sku, name)"
            " SELECT p, p, $1, 'BENCH-' || n, 'Default' FROM unnest($2::uuid[]) WITH ORDINALITY AS t (p, n)",
            vendor,
            products,
        )
        for code, priority in (("BENCH-CO-1", 10), ("BENCH-CO-2", 20)):
            await conn.execute(
                "INSERT INTO warehouses (id, code, name, country, priority) VALUES ($1, $2, $2, 'US', $3)",
                uuid7(),
                code,
                priority,
            )
    # the zone, its method and the tax rule outlive the products (a reseeded catalog drops the
    # vendor and its products, not the pricing rules): made once, or a second tax rule would
    # tax every line twice and a second zone tie with the first
    if (
        await conn.fetchval("SELECT id FROM shipping_zones WHERE name = 'Bench' AND regions = $1", [REGION])
        is None
    ):
        zone = uuid7()
        await conn.execute(
            "INSERT INTO shipping_zones (id, name, countries, regions) VALUES ($1, 'Bench', '{US}', $2)",
            zone,
            [REGION],
        )
        await conn.execute(
            "INSERT INTO shipping_methods (id, zone_id, name, currency, base_amount)"
            " VALUES ($1, $2, 'Ground', 'USD', $3)",
            uuid7(),
            zone,
            SHIPPING,
        )
    if (
        await conn.fetchval(
            "SELECT id FROM tax_rules WHERE name = 'Bench tax' AND postal_prefix = $1", POSTAL
        )
        is None
    ):
        await conn.execute(
            "INSERT INTO tax_rules (id, name, country, postal_prefix, rate_ppm)"
            " VALUES ($1, 'Bench tax', 'US', $2, $3)",
            uuid7(),
            POSTAL,
            TAX_PPM,
        )
    # the bench's zone comes first: a seeded catalog's country-wide zone (default priority, made
    # earlier) would otherwise take the bench's addresses, with its own shipping prices
    await conn.execute("UPDATE shipping_zones SET priority = 0 WHERE regions = $1", [REGION])
    rows = await conn.fetch(
        "SELECT v.id, p.price_amount FROM product_variants v JOIN products p ON p.id = v.product_id"
        " WHERE v.vendor_id = $1 ORDER BY v.sku",
        vendor,
    )
    hot, *spread = rows
    found = await conn.fetch("SELECT id FROM warehouses WHERE code LIKE 'BENCH-CO-%'")
    warehouses = [r["id"] for r in found]
    # top every row up to its level again (counted, with a ledger row, as a stock count would be)
    for variant_ids, level in (([r["id"] for r in spread], SPREAD_STOCK), ([hot["id"]], HOT_STOCK)):
        await conn.execute(
            "INSERT INTO stock AS s (variant_id, warehouse_id, on_hand)"
            " SELECT v, w, $3 FROM unnest($1::uuid[]) AS v, unnest($2::uuid[]) AS w"
            " ON CONFLICT (variant_id, warehouse_id) DO UPDATE SET on_hand = s.reserved + $3",
            variant_ids,
            warehouses,
            level,
        )
    await conn.execute(
        "INSERT INTO stock_movements (variant_id, warehouse_id, on_hand_delta, reason)"
        " SELECT s.variant_id, s.warehouse_id, s.on_hand - COALESCE(m.on_hand, 0), 'count'"
        " FROM stock s LEFT JOIN (SELECT variant_id, warehouse_id, sum(on_hand_delta) AS on_hand"
        "   FROM stock_movements GROUP BY 1, 2) m USING (variant_id, warehouse_id)"
        " WHERE s.warehouse_id = ANY($1::uuid[]) AND s.on_hand <> COALESCE(m.on_hand, 0)",
        warehouses,
    )
    await conn.execute("UPDATE products SET in_stock = true WHERE vendor_id = $1", vendor)
    await conn.execute("ANALYZE")  # what autovacuum would have done by now on a live database
    method = await conn.fetchval(
        "SELECT m.id FROM shipping_methods m JOIN shipping_zones z ON z.id = m.zone_id WHERE z.regions = $1",
        [REGION],
    )
    return Catalogue(
        variants=[r["id"] for r in spread],
        prices=[r["price_amount"] for r in spread],
        hot=hot["id"],
        hot_price=hot["price_amount"],
        method_id=method,
    )


def prepare(env: Mapping[str, str]) -> Catalogue:
    return asyncio.run(_prepare(env["CITADEL_DATABASE_URL"]))


def _total(prices: list[int]) -> int:
    """What the cart shows: each line taxed half-up, shipping untaxed."""
    taxes = [money.apply_rate(p, TAX_PPM) for p in prices]
    return sum(prices) + sum(taxes) + SHIPPING


async def _write_carts(url: str, catalogue: Catalogue, lines: int, hot: bool, count: int) -> list[str]:
    rng = secrets.SystemRandom()
    address = _encoder.encode(
        {"fullName": "Bench Shopper", "line1": "1 Load Street", "city": "Benchville", "country": "US",
         "region": REGION, "postalCode": f"{POSTAL}1"}
    ).decode()  # fmt: skip
    cart_ids, hashes, entries = [], [], []
    line_carts, line_variants, line_prices = [], [], []
    for _ in range(count):
        token = secrets.token_urlsafe(24)
        cart = uuid7()
        if hot:
            picked = [(catalogue.hot, catalogue.hot_price)]
        else:
            picked = [
                (catalogue.variants[i], catalogue.prices[i])
                for i in rng.sample(range(len(catalogue.variants)), lines)
            ]
        cart_ids.append(cart)
        hashes.append(hashlib.sha256(token.encode()).digest())
        entries.append(f"{token} {_total([p for _, p in picked])}")
        for variant, price in picked:
            line_carts.append(cart)
            line_variants.append(variant)
            line_prices.append(price)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO carts (id, token_hash, currency, email, shipping_address, shipping_method_id,"
                " expires_at)"
                " SELECT c, h, 'USD', 'bench@example.test', $3::text::jsonb, $4, now() + interval '1 day'"
                " FROM unnest($1::uuid[], $2::bytea[]) AS t (c, h)",
                cart_ids,
                hashes,
                address,
                catalogue.method_id,
            )
            await conn.execute(
                "INSERT INTO cart_lines (cart_id, variant_id, quantity, seen_unit_amount)"
                " SELECT c, v, 1, p FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS t (c, v, p)",
                line_carts,
                line_variants,
                line_prices,
            )
    finally:
        await conn.close()
    return entries


async def _consumer_lag(js: JetStreamContext, settings: Settings) -> int:
    """Messages of this namespace's streams that a durable consumer has not yet acknowledged."""
    return sum(
        (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        for _, consumer in await namespace_consumers(js, settings)
    )


async def _caught_up(env: Mapping[str, str], timeout_s: float = CATCH_UP_S) -> tuple[int, float]:
    """Wait until the outbox is relayed and the consumers have handled it: (the consumers' lag
    when the wait began, the seconds waited)."""
    settings = Settings.from_env(env)
    started = time.monotonic()
    conn = await asyncpg.connect(env["CITADEL_DATABASE_URL"])
    nc = await nats.connect(env["CITADEL_NATS_URL"])
    try:
        js = nc.jetstream()
        first_lag = await _consumer_lag(js, settings)
        lag = first_lag
        while time.monotonic() - started < timeout_s:
            unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            if unsent == 0 and lag == 0:
                break
            await asyncio.sleep(0.5)
            lag = await _consumer_lag(js, settings)
        else:
            raise RuntimeError(f"the worker did not catch up within {timeout_s:.0f} s")
    finally:
        await nc.close()
        await conn.close()
    return first_lag, time.monotonic() - started


async def _delete_streams(env: Mapping[str, str]) -> None:
    """Delete this namespace's streams (the relay and the consumers make them again)."""
    settings = Settings.from_env(env)
    nc = await nats.connect(env["CITADEL_NATS_URL"])
    try:
        js = nc.jetstream()
        for domain in DOMAINS:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(settings.stream_name(domain))
    finally:
        await nc.close()


def carts_file(
    env: Mapping[str, str], catalogue: Catalogue, lines: int, hot: bool
) -> Callable[[str], Mapping[str, str]]:
    """For a case: a file of fresh carts per phase, written when the phase is about to start (once
    the worker has caught up with the phases before)."""

    def make(phase: str) -> Mapping[str, str]:
        url = env["CITADEL_DATABASE_URL"]
        asyncio.run(_caught_up(env))
        entries = asyncio.run(_write_carts(url, catalogue, lines, hot, CARTS[phase]))
        return {"WRK_CARTS_FILE": _carts_file(entries)}

    return make


def _carts_file(entries: list[str]) -> str:
    """The carts of a phase, one ``token total`` per line, in a file wrk's script reads."""
    fd, path = tempfile.mkstemp(suffix=".carts")
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(entries) + "\n")
    return path


def dummy_file(_: str) -> Mapping[str, str]:
    return {"WRK_CARTS_FILE": _carts_file([f"ceiling{n} 1000" for n in range(100)])}


async def _audit(env: Mapping[str, str], since: float) -> dict[str, Any]:
    conn = await asyncpg.connect(env["CITADEL_DATABASE_URL"])
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders WHERE placed_at >= to_timestamp($1)", since)
        backlog = await conn.fetchrow(
            "SELECT count(*) AS backlog,"
            " COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 AS age"
            " FROM outbox WHERE published_at IS NULL"
        )
        drifted = await conn.fetchval(
            "SELECT count(*) FROM stock s LEFT JOIN (SELECT variant_id, warehouse_id,"
            "  sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved"
            "  FROM stock_movements GROUP BY 1, 2) m USING (variant_id, warehouse_id)"
            " WHERE s.on_hand <> COALESCE(m.on_hand, 0) OR s.reserved <> COALESCE(m.reserved, 0)"
            "    OR s.reserved > s.on_hand"
        )
        short = await conn.fetchval(
            "SELECT count(*) FROM order_lines l"
            " LEFT JOIN (SELECT line_id, sum(quantity) AS held FROM stock_holds"
            "   WHERE status IN ('held', 'allocated', 'shipped') GROUP BY 1) h ON h.line_id = l.id"
            " JOIN orders o ON o.id = l.order_id"
            " WHERE o.placed_at >= to_timestamp($1) AND o.status <> 'cancelled'"
            "   AND COALESCE(h.held, 0) <> l.quantity",
            since,
        )
    finally:
        await conn.close()
    lag, catch_up_s = await _caught_up(env)
    return {
        "orders": orders,
        "outbox_backlog": backlog["backlog"],
        "outbox_oldest_s": round(backlog["age"], 1),
        "consumer_lag": lag,
        "catch_up_s": round(catch_up_s, 1),
        "oversold": drifted + short,
    }


def audit(env: Mapping[str, str]) -> Callable[[], Callable[[], dict[str, Any]]]:
    """For a case: called as its window is about to start, the check to run once it ended."""

    def start() -> Callable[[], dict[str, Any]]:
        since = time.time()
        return lambda: asyncio.run(_audit(env, since))

    return start


@contextmanager
def worker_running(env: Mapping[str, str]) -> Iterator[None]:
    """``citadel relay`` and ``citadel worker --no-relay`` (consumers, hold sweeper, jobs) beside
    the API for the whole suite, as the deployment runs them, on streams of their own: what
    earlier runs left unhandled is not this run's work."""
    asyncio.run(_delete_streams(env))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "citadel", *command],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for command in (["relay"], ["worker", "--no-relay"])
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


VARIANTS = (("checkout_3", 3, False), ("checkout_1", 1, False), ("checkout_hot", 1, True))


def cases(env: dict[str, str], load: Load) -> list[tuple[str, Server, list[str], str, Load, dict[str, Any]]]:
    catalogue = prepare(env)
    app = Server("citadel.app:create_app_from_env", factory=True, env=env)
    ceiling = Server("bench.apps.bare:litestar_insert", env=env)
    script = "wrk_checkout.lua"
    return [
        ("e_insert", ceiling, [], "/bench/products/1", load, {"script": script, "script_env": dummy_file}),
        *(
            (
                name, app, [], "/readyz", load,
                {"script": script, "script_env": carts_file(env, catalogue, lines, hot), "after": audit(env)},
            )
            for name, lines, hot in VARIANTS
        ),
    ]  # fmt: skip

"""The vendor bulk benchmark: how long the server takes for big batches, as a vendor's machine
sends them (an API key, one call at a time), beside a bare set-wise ceiling of the same run.

The full app runs on Granian (2 workers) with ``citadel relay`` and ``citadel worker --no-relay``
beside it (jobs run in the worker).
Each round uses SKUs of its own, so the first call creates everything:

- ``bare_copy``: the ceiling: COPY of the same number of rows into a temporary table, then one
  ``INSERT ... ON CONFLICT`` into a plain table, in one transaction, from a bare asyncpg client;
- ``products_create``: one call of 10,000 products with 2 variants each (30,000 SKUs in all);
- ``products_update``: the same 10,000 products with a new name and price (all updated);
- ``products_unchanged``: the same call again (all unchanged: nothing is written);
- ``stock_set``: 10,000 SKU × warehouse counts (5,000 variants in 2 warehouses);
- ``prices``: 10,000 variant prices;
- ``job_100k``: a 100,000-row NDJSON products file: streamed upload to 202, then until the job
  reports completed (the time a vendor waits).

Between calls the run waits until the worker has relayed every event of the last call (the
outbox is empty), so each call is measured on its own, not beside the previous call's
follow-up work; that wait is recorded as ``drain_ms``. Each round starts with a small warm-up
call. Synchronous calls report the server's own time (its ``Server-Timing`` header) and the wall time
seen by the client (which adds the transfer and JSON of a 10,000-row answer); rows per second
are from the server time. ``--quick`` runs a tenth of every size.
"""

import asyncio
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from bench import checkout, environment
from bench.driver import Server, exclusive, machine, record, running
from citadel.auth.models import Principal
from citadel.catalog.models import CategoryCreate
from citadel.catalog.service import categories
from citadel.inventory.models import WarehouseCreate
from citadel.inventory.service import warehouses
from citadel.kit.db import Database
from citadel.kit.ids import uuid7
from citadel.vendors.models import ApiKeyCreate
from citadel.vendors.service import keys

VENDOR_SLUG = "bench-bulk"
CATEGORY_SLUG = "bench-bulk-tools"
WAREHOUSES = ("BENCH-BULK-1", "BENCH-BULK-2")
ROWS = 10_000
JOB_ROWS = 100_000
CASES = (
    "bare_copy", "products_create", "products_update", "products_unchanged", "stock_set", "prices",
    "job_100k",
)  # fmt: skip
TARGETS_MS = {"products_create": 1_000, "products_update": 1_000, "prices": 500, "job_100k": 15_000}

_encoder = msgspec.json.Encoder()


async def _vendor_key(url: str) -> str:
    """The bench vendor (made once), its category and warehouses, and a new API key for this run."""
    db = Database(url, pool_size=1)
    await db.open()
    try:
        async with db.transaction() as conn:
            user = await conn.fetchval("SELECT owner_user_id FROM vendors WHERE slug = $1", VENDOR_SLUG)
            if user is None:
                user, _ = await environment.make_vendor(conn, VENDOR_SLUG, "Bench bulk")
                await categories.create_category(conn, CategoryCreate(name="Bench tools", slug=CATEGORY_SLUG))
                for code in WAREHOUSES:
                    await warehouses.create_warehouse(
                        conn, WarehouseCreate(code=code, name=code, country="US", priority=10)
                    )
            # keys of earlier runs are revoked: a vendor has a bounded number of live keys
            await conn.execute(
                "UPDATE vendor_api_keys SET revoked_at = now() WHERE revoked_at IS NULL AND vendor_id ="
                " (SELECT id FROM vendors WHERE slug = $1)",
                VENDOR_SLUG,
            )
            principal = Principal(user_id=user, role="vendor", session_id=uuid7(), via_cookie=False)
            scopes = ["products:write", "stock:write", "prices:write", "jobs:read"]
            issued = await keys.create(conn, principal, ApiKeyCreate(name="bench", scopes=scopes))  # type: ignore[arg-type]
            return issued.secret
    finally:
        await db.close()


def _products(prefix: str, count: int, *, price: int, name: str) -> list[dict[str, Any]]:
    return [
        {
            "sku": f"{prefix}-{n}", "name": f"{name} {n}", "priceAmount": price + n % 500, "currency": "USD",
            "status": "active", "category": CATEGORY_SLUG, "brand": "Bench", "tags": ["bench", "tools"],
            "attributes": {"material": "steel", "length_mm": 100 + n % 50},
            "options": [{"name": "size", "values": ["S", "L"]}],
            "variants": [
                {"sku": f"{prefix}-{n}-S", "optionValues": {"size": "S"}},
                {"sku": f"{prefix}-{n}-L", "optionValues": {"size": "L"}, "priceAdjustment": 150},
            ],
        }
        for n in range(count)
    ]  # fmt: skip


def _job_file(prefix: str, count: int) -> Iterator[bytes]:
    batch = []
    for n in range(count):
        row = {
            "sku": f"{prefix}-J{n}", "name": f"Job item {n}", "priceAmount": 500 + n % 900, "currency": "USD",
            "status": "active", "category": CATEGORY_SLUG, "attributes": {"grade": n % 7},
        }  # fmt: skip
        batch.append(_encoder.encode(row))
        if len(batch) == 2_000:
            yield b"\n".join(batch) + b"\n"
            batch = []
    if batch:
        yield b"\n".join(batch) + b"\n"


def _server_ms(response: httpx.Response) -> dict[str, float]:
    """The parts of ``Server-Timing`` ("parse;dur=1.2, apply;dur=3.4, encode;dur=0.5, app;dur=5.1")."""
    parts = (part.strip().split(";dur=") for part in response.headers["server-timing"].split(","))
    return {name: float(value) for name, value in parts}


def _call(http: httpx.Client, kind: str, rows: list[dict[str, Any]], expect: str | None) -> dict[str, Any]:
    body = _encoder.encode(rows)
    started = time.perf_counter()
    response = http.post(f"/api/v1/vendor/bulk/{kind}", content=body)
    wall_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"bulk {kind} answered {response.status_code}: {response.text[:500]}")
    summary = response.json()["summary"]
    if summary["errors"] or (expect is not None and summary[expect] != len(rows)):
        raise RuntimeError(f"bulk {kind}: expected every row {expect}, got {summary}")
    timing = _server_ms(response)
    server_ms = timing["app"]
    return {
        "rows": len(rows), "server_ms": round(server_ms, 1), "wall_ms": round(wall_ms, 1),
        "rows_per_s": round(len(rows) / server_ms * 1000), "summary": summary, "request_bytes": len(body),
        "server_timing_ms": timing,
    }  # fmt: skip


def _job(http: httpx.Client, prefix: str, count: int) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": str(uuid.uuid4())}
    started = time.perf_counter()
    made = http.post(
        "/api/v1/vendor/bulk/jobs?kind=products", content=_job_file(prefix, count), headers=headers
    )
    uploaded_ms = (time.perf_counter() - started) * 1000
    if made.status_code != 202:
        raise RuntimeError(f"job upload answered {made.status_code}: {made.text[:500]}")
    job_id = made.json()["id"]
    deadline = time.monotonic() + 300
    while True:
        job = http.get(f"/api/v1/vendor/bulk/jobs/{job_id}").json()
        if job["status"] in {"completed", "failed"}:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} did not finish: {job}")
        time.sleep(0.05)
    total_ms = (time.perf_counter() - started) * 1000
    if job["status"] != "completed" or job["createdRows"] != count:
        raise RuntimeError(f"job {job_id}: {job}")
    return {
        "rows": count, "upload_ms": round(uploaded_ms, 1), "wall_ms": round(total_ms, 1),
        "server_ms": round(total_ms, 1), "rows_per_s": round(count / total_ms * 1000),
    }  # fmt: skip


async def _bare_copy(url: str, count: int) -> dict[str, Any]:
    """The set-wise floor: COPY ``count`` product-sized rows into a temporary table, then upsert."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_bulk (sku text PRIMARY KEY, name text NOT NULL,"
            " price_amount bigint NOT NULL, currency char(3) NOT NULL, attributes jsonb NOT NULL)"
        )
        prefix = secrets.token_hex(4)
        rows = [
            (f"{prefix}-{n}", f"Bench item {n}", 900 + n % 500, "USD", '{"material": "steel"}')
            for n in range(count)
        ]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "CREATE TEMPORARY TABLE bulk_in (sku text, name text, price_amount bigint, currency char(3),"
                " attributes jsonb) ON COMMIT DROP"
            )
            await conn.copy_records_to_table("bulk_in", records=rows)
            await conn.execute(
                "INSERT INTO bench_bulk SELECT * FROM bulk_in ON CONFLICT (sku) DO UPDATE"
                " SET name = excluded.name, price_amount = excluded.price_amount"
            )
        took = (time.perf_counter() - started) * 1000
        await conn.execute("TRUNCATE bench_bulk")
    finally:
        await conn.close()
    return {
        "rows": count,
        "server_ms": round(took, 1),
        "wall_ms": round(took, 1),
        "rows_per_s": round(count / took * 1000),
    }


async def _drain(url: str, timeout_s: float = 120) -> float:
    """Wait until the outbox is empty; how long that took, in ms."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        while await conn.fetchval("SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"):
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError("the outbox did not drain: is the worker running?")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return round((time.perf_counter() - started) * 1000, 1)


def _round(http: httpx.Client, url: str, rows: int, job_rows: int) -> dict[str, dict[str, Any]]:
    prefix = "BB" + secrets.token_hex(3).upper()
    created = _products(prefix, rows, price=1_000, name="Bench tool")
    changed = _products(prefix, rows, price=1_200, name="Bench tool mk2")
    variants = [v["sku"] for p in created for v in p["variants"]]
    stock = [
        {"sku": sku, "warehouse": code, "onHand": 50 + n % 20, "lowStockThreshold": 5}
        for n, sku in enumerate(variants[: rows // 2])
        for code in WAREHOUSES
    ]
    prices = [{"sku": sku, "priceAmount": 1_500 + n % 300} for n, sku in enumerate(variants[:rows])]
    _call(http, "products", _products(prefix + "W", 50, price=1_000, name="Warm-up"), "created")
    asyncio.run(_drain(url))
    calls = (
        ("products_create", lambda: _call(http, "products", created, "created")),
        ("products_update", lambda: _call(http, "products", changed, "updated")),
        ("products_unchanged", lambda: _call(http, "products", changed, "unchanged")),
        ("stock_set", lambda: _call(http, "stock", stock, None)),
        ("prices", lambda: _call(http, "prices", prices, "updated")),
        ("job_100k", lambda: _job(http, prefix, job_rows)),
    )
    results = {"bare_copy": asyncio.run(_bare_copy(url, rows))}
    for case, call in calls:
        results[case] = call()
        results[case]["drain_ms"] = asyncio.run(_drain(url))
    return results


def run(store: Path, *, repeat: int, quick: bool) -> int:
    rows, job_rows = (ROWS // 10, JOB_ROWS // 10) if quick else (ROWS, JOB_ROWS)
    env = environment.prepare()
    url = env["CITADEL_DATABASE_URL"]
    secret = asyncio.run(_vendor_key(url))
    app = Server("citadel.app:create_app_from_env", factory=True, env=env)
    rounds = []
    with exclusive(), checkout.worker_running(env), running(app, "/readyz") as (base, _):
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            for number in range(1, repeat + 1):
                print(f"round {number}/{repeat} ...", file=sys.stderr, flush=True)
                facts = machine()
                results = _round(http, url, rows, job_rows)
                record(
                    [{"case": f"bulk_{case}", "tool": "httpx", **r} for case, r in results.items()],
                    facts, store, suite="bulk", round=number, quick=quick,
                )  # fmt: skip
                rounds.append(results)
    print(
        f"{'case':20} {'rows':>8} {'server ms':>10} {'wall ms':>9} {'rows/s':>9} {'× bare':>7} {'target':>8}"
    )
    for case in CASES:
        server = statistics.median(r[case]["server_ms"] for r in rounds)
        wall = statistics.median(r[case]["wall_ms"] for r in rounds)
        count = rounds[0][case]["rows"]
        bare = statistics.median(r[case]["server_ms"] / r["bare_copy"]["server_ms"] for r in rounds)
        target = TARGETS_MS.get(case)
        verdict = "-" if target is None or quick else ("met" if server < target else "MISSED")
        print(
            f"{case:20} {count:>8,} {server:>10,.1f} {wall:>9,.1f} {count / server * 1000:>9,.0f} "
            f"{bare:>6.1f}× {verdict:>8}"
        )
    return 0

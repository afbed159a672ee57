"""Bulk jobs: streamed uploads, workers through JetStream, errors to download, idempotent keys,
and a worker killed in the middle of a job whose work another worker finishes exactly once."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from citadel.auth.models import Principal
from citadel.bulk.service import jobs
from citadel.kit.db import Database
from citadel.settings import Settings
from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually, isolated_settings
from tests.fixtures.catalog import create_seller, unique
from tests.fixtures.servers import Servers, server_env
from tests.fixtures.vendors import issue_key, key_headers


def _ndjson(prefix: str, count: int, *, bad_every: int = 0) -> bytes:
    lines = []
    for n in range(1, count + 1):
        if bad_every and n % bad_every == 0:
            lines.append(b'{"sku": "broken"')  # not JSON
        else:
            row = {"sku": f"{prefix}-{n}", "name": f"Item {n}", "priceAmount": 100 + n, "currency": "USD"}
            lines.append(msgspec.json.encode(row))
    return b"\n".join(lines) + b"\n"


async def _job(client: AppClient, job_id: str, headers: dict[str, str]) -> dict[str, Any] | None:
    body: dict[str, Any] = (await client.get(f"/api/v1/vendor/bulk/jobs/{job_id}", headers=headers)).json()
    return body if body["status"] in {"completed", "failed"} else None


async def test_a_job_runs_and_its_errors_download(client: AppClient, worker: Worker) -> None:
    seller = await create_seller(client)
    headers = key_headers(await issue_key(client, seller, "products:write", "jobs:read"))
    prefix = unique("JOB").upper()
    key = str(uuid.uuid4())
    body = _ndjson(prefix, 2500, bad_every=500)
    made = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products",
        content=body,
        headers={**headers, "Idempotency-Key": key, "Content-Type": "application/x-ndjson"},
    )
    assert made.status_code == 202, made.text
    job = made.json()
    assert (job["status"], job["totalRows"]) == ("queued", 2500)
    done = await eventually(lambda: _job(client, job["id"], headers), timeout=60)
    assert done["status"] == "completed", done
    assert (done["processedRows"], done["createdRows"], done["errorRows"]) == (2500, 2495, 5)
    errors = await client.get(f"/api/v1/vendor/bulk/jobs/{job['id']}/errors", headers=headers)
    assert errors.headers["content-type"].startswith("application/x-ndjson")
    rows = [msgspec.json.decode(line) for line in errors.content.splitlines()]
    assert [r["row"] for r in rows] == [500, 1000, 1500, 2000, 2500]
    assert rows[0]["errors"][0]["code"] == "malformed_json"
    # the same key: the same job, nothing read or made again; another kind with it is refused
    replay = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products", content=body, headers={**headers, "Idempotency-Key": key}
    )
    assert (replay.status_code, replay.json()["id"]) == (200, job["id"])
    assert replay.headers["idempotent-replayed"] == "true"
    other = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=stock", content=body, headers={**headers, "Idempotency-Key": key}
    )
    assert (other.status_code, other.json()["code"]) == (403, "scope_required")
    reused = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products&format=csv",
        content=b"sku\n",
        headers={**seller.headers, "Idempotency-Key": key},
    )
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    listed = (await client.get("/api/v1/vendor/bulk/jobs", headers=headers)).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    async with client.runtime.db.connection() as conn:
        staged = await conn.fetchval(
            "SELECT count(*) FROM bulk_job_rows WHERE job_id = $1", uuid.UUID(job["id"])
        )
        products = await conn.fetchval(
            "SELECT count(*) FROM products WHERE vendor_id = $1 AND vendor_sku LIKE $2",
            seller.vendor_id,
            f"{prefix}-%",
        )
    assert (staged, products) == (0, 2495)  # staged rows are dropped once the job ends


async def test_csv_jobs_and_refused_uploads(client: AppClient, worker: Worker) -> None:
    seller = await create_seller(client)
    prefix = unique("CSV").upper()
    csv = "sku,name,priceAmount,currency,tags,attributes.material\n" + "".join(
        f'{prefix}-{n},"Item, {n}",{100 + n},USD,a|b,steel\n' for n in range(1, 51)
    )
    made = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products&format=csv",
        content=csv.encode(),
        headers={**seller.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert made.status_code == 202, made.text
    done = await eventually(lambda: _job(client, made.json()["id"], seller.headers), timeout=30)
    assert (done["status"], done["createdRows"]) == ("completed", 50)
    async with client.runtime.db.connection() as conn:
        row = await conn.fetchrow(
            "SELECT name, tags, attributes FROM products WHERE vendor_id = $1 AND vendor_sku = $2",
            seller.vendor_id,
            f"{prefix}-7",
        )
    assert (row["name"], row["tags"], row["attributes"]) == ("Item, 7", ["a", "b"], {"material": "steel"})
    no_key = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products", content=b"{}", headers=seller.headers
    )
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    no_header = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products&format=csv",
        content=b"name,price\nx,1\n",
        headers={**seller.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert no_header.status_code == 422
    empty = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=products",
        content=b"\n\n",
        headers={**seller.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert empty.status_code == 422
    bad_kind = await client.post(
        "/api/v1/vendor/bulk/jobs?kind=users",
        content=b"{}",
        headers={**seller.headers, "Idempotency-Key": "k"},
    )
    assert bad_kind.status_code == 422
    other = await create_seller(client)
    theirs = await client.get(f"/api/v1/vendor/bulk/jobs/{made.json()['id']}", headers=other.headers)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "job_not_found")


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


def _start_worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = server_env(
        settings,
        tmp_path,
        CITADEL_BULK_JOB_CHUNK_ROWS="250",
        CITADEL_BULK_JOB_LEASE_S="2",
        CITADEL_BULK_JOB_POLL_S="0.2",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "citadel", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_worker_killed_mid_job_is_resumed_exactly_once(
    servers: Servers, fresh_database_url: str, tmp_path: Path
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    db = Database(fresh_database_url, pool_size=2)
    await db.open()
    try:
        async with db.transaction() as conn:
            user = uuid.uuid4()
            await conn.execute(
                "INSERT INTO users (id, email, password_hash, name, role)"
                " VALUES ($1, $2, 'x', 'V', 'vendor')",
                user,
                f"{user}@example.test",
            )
            vendor = uuid.uuid4()
            await conn.execute(
                "INSERT INTO vendors (id, owner_user_id, name, slug, status)"
                " VALUES ($1, $2, 'V', $3, 'active')",
                vendor,
                user,
                f"v-{vendor.hex[:12]}",
            )
        principal = Principal(user_id=user, role="vendor", session_id=uuid.uuid4(), via_cookie=False)
        total = 8000
        job, made = await jobs.upload(
            db, principal, vendor, "products", "ndjson", "kill-1", _body(_ndjson("K", total, bad_every=1000))
        )
        assert made and job.total_rows == total

        async def progress() -> asyncpg.Record:
            async with db.connection() as conn:
                found: asyncpg.Record = await conn.fetchrow(
                    "SELECT status, processed_rows, created_rows, error_rows, attempts"
                    " FROM bulk_jobs WHERE id = $1",
                    job.id,
                )
                return found

        first = _start_worker(settings, tmp_path)
        try:
            started = await eventually(lambda: _partly(progress), timeout=30, interval=0.01)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        assert 0 < started["processed_rows"] < total
        await asyncio.sleep(0.5)
        stopped = await progress()
        assert stopped["status"] == "running" and stopped["processed_rows"] < total  # left mid-job
        second = _start_worker(settings, tmp_path)
        try:
            done = await eventually(lambda: _finished(progress), timeout=60, interval=0.1)
        finally:
            second.send_signal(signal.SIGINT)
            try:
                second.wait(20)
            except subprocess.TimeoutExpired:
                second.kill()
        assert (done["status"], done["processed_rows"], done["created_rows"], done["error_rows"]) == (
            "completed", total, total - 8, 8,
        )  # fmt: skip
        assert done["attempts"] == 2  # taken twice: once by each worker
        async with db.connection() as conn:
            products = await conn.fetchval("SELECT count(*) FROM products WHERE vendor_id = $1", vendor)
            variants = await conn.fetchval(
                "SELECT count(*) FROM product_variants WHERE vendor_id = $1", vendor
            )
            created_events = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = 'catalog.product_created'"
            )
            errors = await conn.fetchval("SELECT count(*) FROM bulk_job_errors WHERE job_id = $1", job.id)
        assert (products, variants, created_events, errors) == (total - 8, total - 8, total - 8, 8)
    finally:
        await db.close()


async def _partly(progress: Any) -> Any:
    row = await progress()
    return row if row["processed_rows"] >= 1000 else None


async def _finished(progress: Any) -> Any:
    row = await progress()
    return row if row["status"] in {"completed", "failed"} else None

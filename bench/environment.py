"""The servers of a benchmark run: the machine's (CITADEL_*_URL) or the embedded ones, and its database."""

import asyncio
import os
import secrets
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.apps.bare import ROWS
from citadel.kit.ids import uuid7
from citadel.kit.migrations import migrate
from citadel.kit.services import SERVICES, URL_VARS, EmbeddedServices, data_dir_from

BENCH_DATABASE = "citadel_bench"


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def _prepare_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(admin_dsn, name)
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_products ("
            " id bigint PRIMARY KEY, name text NOT NULL, price_amount bigint NOT NULL,"
            " currency char(3) NOT NULL)"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_orders ("
            " id bigserial PRIMARY KEY, total_amount bigint NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
        if await conn.fetchval("SELECT count(*) FROM bench_products") != ROWS:
            await conn.execute("TRUNCATE bench_products")
            await conn.execute(
                "INSERT INTO bench_products SELECT n, 'Product ' || n, 100 + n % 10000, 'USD'"
                " FROM generate_series(1, $1) AS n",
                ROWS,
            )
            await conn.execute("ANALYZE bench_products")
    finally:
        await conn.close()
    return url


async def make_vendor(conn: asyncpg.Connection, slug: str, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """An active vendor and the vendor user who owns it (no password: benchmarks use keys or
    carts, never sign-ins); (user id, vendor id)."""
    user, vendor = uuid7(), uuid7()
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, name, role) VALUES ($1, $2, 'none', $3, 'vendor')",
        user,
        f"{slug}@bench.test",
        name,
    )
    await conn.execute(
        "INSERT INTO vendors (id, owner_user_id, name, slug, status) VALUES ($1, $2, $3, $4, 'active')",
        vendor,
        user,
        name,
        slug,
    )
    return user, vendor


def prepare(database: str = BENCH_DATABASE, namespace: str = "bench") -> dict[str, str]:
    """Environment for every server of a run (the full app and the bare apps), on its own database
    and NATS namespace."""
    env = dict(os.environ)
    missing = tuple(name for name in SERVICES if not env.get(URL_VARS[name]))
    if missing:
        embedded = EmbeddedServices(data_dir_from(env))
        embedded.up(missing)
        env = embedded.environment(env)
    database_url = asyncio.run(_prepare_database(env["CITADEL_DATABASE_URL"], database))
    return {
        "CITADEL_DATABASE_URL": database_url,
        "CITADEL_REDIS_URL": env["CITADEL_REDIS_URL"],
        "CITADEL_NATS_URL": env["CITADEL_NATS_URL"],
        "CITADEL_JWT_SECRET": secrets.token_urlsafe(48),
        "CITADEL_CSRF_SECRET": secrets.token_urlsafe(48),
        "CITADEL_CURSOR_SECRET": secrets.token_urlsafe(48),
        "CITADEL_NAMESPACE": namespace,
        "CITADEL_ENV": "production",
        "CITADEL_LOG_LEVEL": "WARNING",
        # the limiter stays on, with limits far above the load, as the benchmark rules ask
        "CITADEL_RATE_LIMIT_API_PER_SECOND": "100000000",
        "CITADEL_RATE_LIMIT_AUTH_PER_SECOND": "100000000",
        "CITADEL_RATE_LIMIT_AUTH_BURST": "100000000",
        "CITADEL_METRICS_DIR": tempfile.mkdtemp(prefix="citadel-bench-metrics-"),
        "BENCH_DATABASE_URL": database_url,
    }

"""Readiness (can this worker reach PostgreSQL, Redis and NATS right now?) and the gauges a
metrics scrape reads from what all workers share: the outbox backlog and the JetStream consumers'
lag."""

import asyncio
from collections.abc import Awaitable, Callable

from citadel.kit.db import load_queries
from citadel.kit.events import namespace_consumers
from citadel.kit.observability import (
    CONSUMER_PENDING,
    CONSUMER_UNACKED,
    OUTBOX_AGE,
    OUTBOX_BACKLOG,
    SCRAPE_SOURCE_UP,
    MetricSpec,
)
from citadel.kit.runtime import Runtime
from citadel.system.models import Readiness

Q = load_queries(__file__)
CHECK_TIMEOUT_S = 1.0


async def _check_postgres(rt: Runtime) -> None:
    async with rt.db.connection() as conn:
        await conn.fetchval(Q.ping)


async def _check_redis(rt: Runtime) -> None:
    await rt.redis.ping()


async def _check_nats(rt: Runtime) -> None:
    if not rt.nats.connected:
        raise ConnectionError("not connected")
    await rt.nats.client.flush(timeout=1)


async def readiness(rt: Runtime) -> Readiness:
    checks: dict[str, Callable[[Runtime], Awaitable[None]]] = {
        "postgres": _check_postgres,
        "redis": _check_redis,
        "nats": _check_nats,
    }

    async def run(check: Callable[[Runtime], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(rt), CHECK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; its kind is reported
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    results = await asyncio.gather(*(run(check) for check in checks.values()))
    outcome = dict(zip(checks, results, strict=True))
    ready = all(result == "ok" for result in results)
    return Readiness(status="ready" if ready else "not_ready", checks=outcome)


Gauge = tuple[MetricSpec, tuple[str, ...], float]


async def _outbox(rt: Runtime) -> list[Gauge]:
    async with rt.db.connection() as conn:
        row = await conn.fetchrow(Q.outbox_backlog)
    if row is None:  # an aggregate answers one row; nothing to report otherwise
        return []
    return [(OUTBOX_BACKLOG, (), float(row["backlog"])), (OUTBOX_AGE, (), row["oldest_age_s"])]


async def _consumers(rt: Runtime) -> list[Gauge]:
    """Pending and unacknowledged messages of every durable consumer of this namespace's streams."""
    out: list[Gauge] = []
    for stream, consumer in await namespace_consumers(rt.nats.jetstream(), rt.settings):
        labels = (stream, consumer.name or "")
        out.append((CONSUMER_PENDING, labels, float(consumer.num_pending or 0)))
        out.append((CONSUMER_UNACKED, labels, float(consumer.num_ack_pending or 0)))
    return out


async def scrape_gauges(rt: Runtime) -> list[Gauge]:
    """The scrape-time gauges; a source that does not answer in time is reported down, not fatal."""
    sources = {"outbox": _outbox, "jetstream": _consumers}

    async def read(source: Callable[[Runtime], Awaitable[list[Gauge]]]) -> list[Gauge] | None:
        try:
            return await asyncio.wait_for(source(rt), CHECK_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a scrape reports the source down instead of failing
            return None

    results = await asyncio.gather(*(read(source) for source in sources.values()))
    gauges: list[Gauge] = []
    for name, found in zip(sources, results, strict=True):
        gauges.append((SCRAPE_SOURCE_UP, (name,), 0.0 if found is None else 1.0))
        gauges += found or []
    return gauges

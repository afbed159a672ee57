"""Readiness: can this worker reach PostgreSQL, Redis and NATS right now?"""

import asyncio
from collections.abc import Awaitable, Callable

from citadel.kit.db import load_queries
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

"""Rate limits per client IP: the API-wide limit (local, synced through Redis) and the exact auth limit."""

import asyncio
import itertools
import secrets

import pytest
import redis.asyncio as aioredis

from citadel.kit.ratelimit import ApiRateLimiter, AuthRateLimiter
from tests.fixtures.app import http_client, make_settings, running_app
from tests.fixtures.servers import NAMESPACE, PrivateServer, Servers

_HOSTS = itertools.count(secrets.randbelow(200) + 1)


def _ip() -> str:
    """An address no other test of this run uses: a shared one would share its limiter bucket."""
    n = next(_HOSTS)
    return f"198.51.{100 + n // 254 % 100}.{n % 254 + 1}"


async def test_api_limit_answers_429_with_retry_after(servers: Servers, database_url: str) -> None:
    settings = make_settings(servers, database_url, rate_limit_api_per_second=5)
    async with running_app(settings, client_ip=_ip()) as app:
        statuses = [(await app.get("/api/v1/info")).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses[5:]
        refused = await app.get("/api/v1/info")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["code"] == "rate_limited"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["x-request-id"]
        # another client is not affected, and neither are health checks
        async with http_client(app.app, client_ip=_ip()) as other:
            assert (await other.get("/api/v1/info")).status_code == 200
        assert (await app.get("/healthz")).status_code == 200
        await asyncio.sleep(1.1)
        assert (await app.get("/api/v1/info")).status_code == 200


async def test_api_limit_is_shared_across_processes_through_redis(servers: Servers) -> None:
    client = aioredis.Redis.from_url(servers.redis_url)
    prefix = f"{NAMESPACE}:citadel:rl:api:shared:{secrets.token_hex(3)}:"
    now = [1_000_000.0]
    workers = [
        ApiRateLimiter(limit=10, redis_client=client, key_prefix=prefix, clock=lambda: now[0])
        for _ in range(2)
    ]
    try:
        first, second = workers
        ip = "203.0.113.9"
        assert sum(first.allow(ip) for _ in range(8)) == 8
        await first.sync()
        # a process learns about an IP's traffic elsewhere once it has served that IP and synced
        assert second.allow(ip) is True
        await second.sync()
        assert sum(second.allow(ip) for _ in range(5)) == 1  # 8 elsewhere + 2 here = the limit
        await second.sync()
        await first.sync()
        assert first.allow(ip) is False
        now[0] += 2.0  # two windows later the IP starts over
        assert first.allow(ip) is True
    finally:
        await client.aclose()


async def test_api_limit_sliding_window_carries_the_previous_second() -> None:
    now = [5_000.2]
    limiter = ApiRateLimiter(limit=10, redis_client=None, key_prefix="x", clock=lambda: now[0])
    assert sum(limiter.allow("a") for _ in range(10)) == 10
    now[0] = 5_001.15  # 85 % of the previous window still counts: 8.5 of 10 used
    assert sum(limiter.allow("a") for _ in range(5)) == 2
    now[0] = 5_001.95  # 5 % counts now: 0.5, so this window may reach 10 (8 more than its 2)
    assert sum(limiter.allow("a") for _ in range(10)) == 8


async def test_auth_limit_is_exact_under_concurrency(servers: Servers, database_url: str) -> None:
    # a refill of one token a second: the 25 requests, however slowly a loaded machine runs them,
    # get the burst and no token that time added (at 10 a second, 100 ms of spread added one)
    settings = make_settings(servers, database_url, rate_limit_auth_per_second=1, rate_limit_auth_burst=10)
    async with running_app(settings, client_ip=_ip()) as app:
        body = {"email": "nobody@example.test"}
        responses = await asyncio.gather(
            *(app.post("/api/v1/auth/password/forgot", json=body) for _ in range(25))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [202] * 10 + [429] * 15
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.headers["retry-after"] == "1"
        # other API routes are not held to the auth limit
        assert (await app.get("/api/v1/info")).status_code == 200


async def test_auth_limit_spans_app_instances(servers: Servers, database_url: str) -> None:
    settings = make_settings(servers, database_url, rate_limit_auth_per_second=5, rate_limit_auth_burst=5)
    ip = _ip()
    async with running_app(settings, client_ip=ip) as one, running_app(settings, client_ip=ip) as two:
        body = {"email": "nobody@example.test"}
        statuses = [
            (await (one if n % 2 else two).post("/api/v1/auth/password/forgot", json=body)).status_code
            for n in range(8)
        ]
        assert statuses.count(202) == 5
        assert statuses.count(429) == 3


async def test_auth_limit_falls_back_to_the_process_when_redis_is_down(private_redis: PrivateServer) -> None:
    client = aioredis.Redis.from_url(
        f"redis://127.0.0.1:{private_redis.port}/0", socket_timeout=0.2, socket_connect_timeout=0.2
    )
    limiter = AuthRateLimiter(rate=3, burst=3, redis_client=client, key_prefix="fallback:", timeout_s=0.2)
    try:
        assert [(await limiter.check("192.0.2.1"))[0] for _ in range(4)] == [True, True, True, False]
        private_redis.stop()
        results = [(await limiter.check("192.0.2.2"))[0] for _ in range(4)]
        assert results == [True, True, True, False]
    finally:
        await client.aclose()


async def test_forwarded_for_is_trusted_only_from_trusted_proxies(
    servers: Servers, database_url: str
) -> None:
    settings = make_settings(
        servers, database_url, rate_limit_api_per_second=3, trusted_proxies=("10.0.0.0/8",)
    )
    async with running_app(settings, client_ip="10.1.2.3") as gateway:
        for client_ip in ("192.0.2.10", "192.0.2.11"):
            statuses = [
                (
                    await gateway.get("/api/v1/info", headers={"X-Forwarded-For": f"{client_ip}, 10.9.9.9"})
                ).status_code
                for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 429]  # each real client has its own budget
    async with running_app(settings, client_ip=_ip()) as direct:
        statuses = [
            (await direct.get("/api/v1/info", headers={"X-Forwarded-For": f"192.0.2.{n}"})).status_code
            for n in range(4)
        ]
        assert statuses == [200, 200, 200, 429]  # a spoofed header from an untrusted peer changes nothing


@pytest.mark.parametrize("lost_how", ["as_a_timeout", "swallowed"])
async def test_the_sync_task_stops_even_when_the_client_loses_the_cancel(lost_how: str) -> None:
    """redis-py can swallow a cancel, or (Python 3.11, racing a read deadline) report it as a
    TimeoutError; stopping the limiter must not wait on its sync task forever either way."""

    async def sync_that_loses_the_cancel() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            if lost_how == "as_a_timeout":
                raise TimeoutError("timed out") from None

    limiter = ApiRateLimiter(limit=100, redis_client=None, key_prefix="t:", sync_interval_s=0.01)
    limiter.sync = sync_that_loses_the_cancel  # type: ignore[method-assign]
    limiter._task = asyncio.create_task(limiter._sync_forever())
    await asyncio.sleep(0.05)  # inside the sync now
    await asyncio.wait_for(limiter.stop(), 2)

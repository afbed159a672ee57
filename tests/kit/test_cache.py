"""The per-worker principal cache: kept fresh across workers by NATS, short-lived without it."""

import asyncio

from citadel.settings import Secret
from tests.fixtures.app import eventually, isolated_settings, running_app
from tests.fixtures.factories import register
from tests.fixtures.servers import PrivateServer, Servers


async def test_a_logout_on_one_worker_is_refused_at_once_on_another(
    servers: Servers, database_url: str
) -> None:
    settings = isolated_settings(servers, database_url)
    async with running_app(settings) as one, running_app(settings) as two:
        await one.runtime.nats.wait_connected(5)
        await two.runtime.nats.wait_connected(5)
        await eventually(lambda: _true(one.runtime.bus.healthy and two.runtime.bus.healthy))
        account = await register(one)
        assert (await two.get("/api/v1/me", headers=account.headers)).status_code == 200  # now cached on two
        assert (await one.post("/api/v1/auth/logout-all", headers=account.headers)).status_code == 204

        async def refused_on_two() -> bool:
            return (await two.get("/api/v1/me", headers=account.headers)).status_code == 401

        await eventually(refused_on_two, timeout=2)


async def test_without_nats_entries_live_only_the_fallback_lifetime(
    servers: Servers, database_url: str, private_nats: PrivateServer
) -> None:
    settings = isolated_settings(
        servers,
        database_url,
        nats_url=Secret(f"nats://127.0.0.1:{private_nats.port}"),
        auth_cache_fallback_ttl_s=1,
    )
    async with running_app(settings) as one, running_app(settings) as two:
        await eventually(lambda: _true(one.runtime.bus.healthy and two.runtime.bus.healthy))
        account = await register(one)
        private_nats.stop()
        await eventually(lambda: _true(not two.runtime.bus.healthy))
        assert (await two.get("/api/v1/me", headers=account.headers)).status_code == 200  # cached briefly
        assert (await one.post("/api/v1/auth/logout-all", headers=account.headers)).status_code == 204
        await asyncio.sleep(1.2)
        assert (await two.get("/api/v1/me", headers=account.headers)).status_code == 401


async def _true(value: bool) -> bool:
    return value

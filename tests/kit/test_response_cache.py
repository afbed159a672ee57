"""The two-tier response cache: memory, Redis, invalidation across workers, and Redis outages."""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from citadel.kit.cache import CacheVersions, InvalidationBus, Loaded, ResponseCache
from citadel.kit.messaging import NatsLink
from citadel.kit.redislink import RedisLink
from citadel.kit.runtime import cache_versions
from citadel.settings import Secret, Settings
from tests.fixtures.app import AppClient, make_settings, running_app
from tests.fixtures.catalog import create_product, create_seller
from tests.fixtures.servers import NAMESPACE, PrivateServer, Servers

LONG = {"cache_memory_ttl_s": 3600.0, "cache_redis_ttl_s": 3600}


def _hits(app: AppClient, tier: str, result: str) -> float:
    return app.runtime.metrics._counters["citadel_cache_lookups"].get(("product", tier, result), 0.0)


def _settings(servers: Servers, database_url: str, **overrides: object) -> Settings:
    namespace = f"{NAMESPACE}_{secrets.token_hex(3)}"
    return make_settings(servers, database_url, namespace=namespace, **{**LONG, **overrides})


async def test_a_change_reaches_every_worker_within_a_second_and_nothing_else_is_dropped(
    servers: Servers, database_url: str
) -> None:
    settings = _settings(servers, database_url)
    async with running_app(settings) as one, running_app(settings) as two:
        for app in (one, two):
            assert await app.runtime.nats.wait_connected(5)
        seller = await create_seller(one)
        changed = await create_product(one, seller, priceAmount=1000)
        untouched = await create_product(one, seller, priceAmount=2000)
        for app in (one, two):
            for product in (changed, untouched):
                assert (await app.get(f"/api/v1/products/{product['id']}")).status_code == 200
        misses_before = _hits(two, "memory", "miss")
        assert (await two.get(f"/api/v1/products/{untouched['id']}")).json()["priceAmount"] == 2000
        assert _hits(two, "memory", "miss") == misses_before  # served from memory
        response = await one.patch(
            f"/api/v1/products/{changed['id']}", json={"priceAmount": 1500}, headers=seller.headers
        )
        assert response.status_code == 200
        started = time.monotonic()
        while (await two.get(f"/api/v1/products/{changed['id']}")).json()["priceAmount"] != 1500:
            assert time.monotonic() - started < 1.0, "the other worker still serves the old price"
            await asyncio.sleep(0.01)
        hits = _hits(two, "memory", "hit")
        assert (await two.get(f"/api/v1/products/{untouched['id']}")).json()["priceAmount"] == 2000
        assert _hits(two, "memory", "hit") == hits + 1  # the untouched page never left memory


async def test_redis_serves_a_worker_without_memory_and_follows_changes(
    servers: Servers, database_url: str
) -> None:
    settings = _settings(servers, database_url, cache_tiers=("redis",))
    async with running_app(settings) as app:
        seller = await create_seller(app)
        product = await create_product(app, seller, priceAmount=700)
        path = f"/api/v1/products/{product['id']}"
        first = await app.get(path)
        assert _hits(app, "redis", "miss") == 1
        second = await app.get(path)
        assert _hits(app, "redis", "hit") == 1
        assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
        await app.patch(path, json={"priceAmount": 800}, headers=seller.headers)
        assert (await app.get(path)).json()["priceAmount"] == 800
        assert _hits(app, "redis", "miss") == 2


async def test_with_the_cache_off_every_read_goes_to_postgres(servers: Servers, database_url: str) -> None:
    settings = _settings(servers, database_url, cache_tiers=("none",))
    async with running_app(settings) as app:
        seller = await create_seller(app)
        product = await create_product(app, seller)
        for _ in range(3):
            assert (await app.get(f"/api/v1/products/{product['id']}")).status_code == 200
        assert _hits(app, "memory", "hit") == _hits(app, "redis", "hit") == 0


async def test_redis_down_degrades_to_postgres_reads_not_errors(
    servers: Servers, database_url: str, private_redis: PrivateServer
) -> None:
    settings = _settings(
        servers,
        database_url,
        cache_tiers=("redis",),
        redis_url=Secret(f"redis://127.0.0.1:{private_redis.port}/0"),
    )
    async with running_app(settings) as app:
        seller = await create_seller(app)
        product = await create_product(app, seller, priceAmount=100)
        path = f"/api/v1/products/{product['id']}"
        assert (await app.get(path)).status_code == 200
        private_redis.stop()
        started = time.monotonic()
        for _ in range(5):
            response = await app.get(path)
            assert response.status_code == 200
            assert response.json()["priceAmount"] == 100
        assert time.monotonic() - started < 2.0  # a failed Redis is not waited for on every read
        changed = await app.patch(path, json={"priceAmount": 150}, headers=seller.headers)
        assert changed.status_code == 200  # writes do not need Redis either
        assert (await app.get(path)).json()["priceAmount"] == 150
        private_redis.start()
        await asyncio.sleep(1.2)  # past the link's back-off, and the pending version bump retried
        assert (await app.get(path)).json()["priceAmount"] == 150
        assert (await app.get(path)).json()["priceAmount"] == 150
        assert _hits(app, "redis", "hit") >= 1


@pytest.fixture
async def bare_cache(servers: Servers) -> AsyncIterator[tuple[ResponseCache, InvalidationBus]]:
    link = NatsLink(servers.nats_url, name="test-cache")
    redis = RedisLink(servers.redis_url)
    bus = InvalidationBus(link, f"{NAMESPACE}.bare.{secrets.token_hex(3)}")
    versions = CacheVersions(redis, key_prefix=f"{NAMESPACE}:bare:", topics={"t"}, version_ttl_s=60)
    cache = ResponseCache(
        bus, versions, tiers=("memory",), memory_ttl_s=60, fallback_ttl_s=60, redis_ttl_s=60,
        max_entries=2, max_bytes=10_000,
    )  # fmt: skip
    yield cache, bus
    await redis.close()


async def test_a_load_overtaken_by_an_invalidation_is_not_kept(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, bus = bare_cache
    gate = asyncio.Event()
    loads = 0

    async def slow() -> bytes:
        nonlocal loads
        loads += 1
        await gate.wait()
        return b'{"v":"old"}'

    pending = asyncio.create_task(cache.get("t", "s", "k", slow))
    await asyncio.sleep(0)
    await bus.publish([("t", "s")])  # the write commits while the old value is on its way
    gate.set()
    assert (await pending).body == b'{"v":"old"}'

    async def fresh() -> bytes:
        nonlocal loads
        loads += 1
        return b'{"v":"new"}'

    assert (await cache.get("t", "s", "k", fresh)).body == b'{"v":"new"}'
    assert (await cache.get("t", "s", "k", fresh)).body == b'{"v":"new"}'
    assert loads == 2


async def test_memory_is_bounded_least_recently_used_first(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, _ = bare_cache
    loads: list[str] = []

    def loader(key: str):  # type: ignore[no-untyped-def]
        async def load() -> bytes:
            loads.append(key)
            return key.encode()

        return load

    for key in ("a", "b", "a", "c", "a", "b"):
        await cache.get("t", key, key, loader(key))
    assert loads == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came


async def test_cached_pages_do_not_outlive_the_cursor_secret(servers: Servers, database_url: str) -> None:
    """Pages in Redis carry signed cursors: servers with another cursor secret never read them."""
    one = make_settings(servers, database_url)
    other = make_settings(servers, database_url, cursor_secret=Secret("another-cursor-secret-" + "x" * 20))
    same = make_settings(servers, database_url)
    key = cache_versions(one, frozenset({"product"})).data_key("product", "page")
    assert cache_versions(same, frozenset({"product"})).data_key("product", "page") == key
    assert cache_versions(other, frozenset({"product"})).data_key("product", "page") != key


class _GatedLoads:
    """A loader that numbers its loads and answers each once the gate opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.count = 0

    async def load(self) -> bytes:
        self.count += 1
        mine = self.count
        await self.gate.wait()
        return f'{{"load":{mine}}}'.encode()


async def test_concurrent_misses_load_once_and_an_invalidation_starts_a_new_load(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, bus = bare_cache
    loads = _GatedLoads()
    first = [asyncio.create_task(cache.get("t", "s", "burst", loads.load)) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert loads.count == 1  # twenty misses, one query
    await bus.publish([("t", "s")])  # a write: later readers must not get the load begun before it
    later = asyncio.create_task(cache.get("t", "s", "burst", loads.load))
    await asyncio.sleep(0.05)
    assert loads.count == 2
    loads.gate.set()
    assert {(await t).body for t in first} == {b'{"load":1}'}
    assert (await later).body == b'{"load":2}'
    assert not cache._inflight


async def test_readers_waiting_on_a_load_outlive_the_reader_that_ran_it(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, _ = bare_cache
    loads = _GatedLoads()
    first = asyncio.create_task(cache.get("t", "s", "gone", loads.load))
    await asyncio.sleep(0.02)
    waiting = [asyncio.create_task(cache.get("t", "s", "gone", loads.load)) for _ in range(5)]
    quitter = asyncio.create_task(cache.get("t", "s", "gone", loads.load))
    await asyncio.sleep(0.02)
    assert loads.count == 1
    first.cancel()  # its client went away mid-load
    quitter.cancel()  # and so did one waiting reader's, at the same moment
    await asyncio.sleep(0.02)
    assert loads.count == 2  # one of the waiting readers loads instead, the others wait on it
    loads.gate.set()
    assert {(await t).body for t in waiting} == {b'{"load":2}'}
    assert first.cancelled() and quitter.cancelled()
    assert not cache._inflight


async def test_a_failed_load_fails_every_reader_waiting_on_it_once(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, _ = bare_cache
    gate = asyncio.Event()
    loads = 0

    async def broken() -> bytes:
        nonlocal loads
        loads += 1
        await gate.wait()
        raise ConnectionError("database gone")

    readers = [asyncio.create_task(cache.get("t", "s", "broken", broken)) for _ in range(10)]
    await asyncio.sleep(0.02)
    gate.set()
    results = await asyncio.gather(*readers, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert loads == 1
    assert not cache._inflight


def _counting(answer: bytes | Loaded, loads: list[int]) -> Callable[[], Awaitable[bytes | Loaded]]:
    async def load() -> bytes | Loaded:
        loads.append(1)
        return answer

    return load


async def test_an_entry_is_dropped_by_any_scope_it_depends_on_and_by_no_other(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, bus = bare_cache
    loads: list[int] = []
    page = _counting(b"[1]", loads)
    await cache.get("t", ("*", "c:shoes"), "page", page)
    await bus.publish([("t", "c:hats"), ("t", "p")])  # other parts of the catalog
    await cache.get("t", ("*", "c:shoes"), "page", page)
    assert len(loads) == 1
    for scope in ("c:shoes", "*"):
        await bus.publish([("t", scope)])
        await cache.get("t", ("*", "c:shoes"), "page", page)
    assert len(loads) == 3


async def test_a_loader_can_narrow_what_its_entry_depends_on(
    bare_cache: tuple[ResponseCache, InvalidationBus],
) -> None:
    cache, bus = bare_cache
    loads: list[int] = []
    exact = _counting(Loaded(b"[2]", ("w:kettl", "*")), loads)  # any order: kept in the read's
    await cache.get("t", ("*", "p", "w:kettl"), "kettle", exact)
    await bus.publish([("t", "p")])  # a product without the word changed
    assert cache.peek("t", "kettle") is not None
    await bus.publish([("t", "w:kettl")])
    assert cache.peek("t", "kettle") is None
    broad = _counting(b"[]", loads)  # a page found nothing: it depends on every candidate
    await cache.get("t", ("*", "p", "w:zzz"), "zzz", broad)
    await bus.publish([("t", "p")])
    assert cache.peek("t", "zzz") is None


async def test_redis_entries_follow_the_versions_of_the_scopes_they_depend_on(servers: Servers) -> None:
    link = NatsLink(servers.nats_url, name="test-cache-scopes")
    redis = RedisLink(servers.redis_url)
    versions = CacheVersions(
        redis, key_prefix=f"{NAMESPACE}:scopes:{secrets.token_hex(3)}:", topics={"t"}, version_ttl_s=60
    )
    bus = InvalidationBus(link, f"{NAMESPACE}.scopes.{secrets.token_hex(3)}")
    cache = ResponseCache(
        bus, versions, tiers=("redis",), memory_ttl_s=60, fallback_ttl_s=60, redis_ttl_s=60,
        max_entries=10, max_bytes=10_000,
    )  # fmt: skip
    try:
        loads: list[int] = []
        scopes = ("*", "p", "w:kettl")
        exact = _counting(Loaded(b'{"n":1}', ("*", "w:kettl")), loads)
        first = await cache.get("t", scopes, "kettle", exact)
        again = await cache.get("t", scopes, "kettle", exact)  # from Redis: no memory tier
        assert first is not None and again is not None
        assert (again.body, again.etag, len(loads)) == (first.body, first.etag, 1)
        await versions.bump([("t", "p")])  # not a scope the entry depends on
        await cache.get("t", scopes, "kettle", exact)
        assert len(loads) == 1
        await versions.bump([("t", "w:kettl")])
        await cache.get("t", scopes, "kettle", exact)
        assert len(loads) == 2
        await versions.bump([("t", "*")])
        await cache.get("t", scopes, "kettle", exact)
        assert len(loads) == 3
    finally:
        await redis.close()

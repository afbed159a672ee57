"""The pipelined Redis client of the cache path: replies in order, outages fail fast, then recover."""

import asyncio
import time
from collections.abc import AsyncIterator

import hiredis
import pytest

from citadel.kit.redislink import RedisLink, RedisUnavailable
from tests.fixtures.servers import NAMESPACE, PrivateServer, Servers


@pytest.fixture
async def link(servers: Servers) -> AsyncIterator[RedisLink]:
    client = RedisLink(servers.redis_url)
    yield client
    await client.close()


async def test_commands_scripts_and_concurrent_replies_in_order(link: RedisLink) -> None:
    key = f"{NAMESPACE}:link:k"
    assert await link.execute("SET", key, b"v", "EX", 60) == b"OK"
    values = await asyncio.gather(*(link.execute("ECHO", str(n)) for n in range(500)))
    assert values == [str(n).encode() for n in range(500)]
    assert await link.pipeline([("INCR", f"{key}:n"), ("INCR", f"{key}:n"), ("DEL", f"{key}:n")]) == [1, 2, 1]
    assert await link.execute("MGET", key, f"{key}:none") == [b"v", None]
    with pytest.raises(hiredis.ReplyError):
        await link.execute("INCR", key)  # not an integer: Redis's own error comes back as such


async def test_an_outage_fails_fast_and_the_link_recovers(private_redis: PrivateServer) -> None:
    link = RedisLink(f"redis://127.0.0.1:{private_redis.port}/0", timeout_s=0.25, retry_after_s=0.3)
    try:
        assert await link.execute("PING") == b"PONG"
        private_redis.stop()
        with pytest.raises(RedisUnavailable):
            await link.execute("PING")
        started = time.monotonic()
        for _ in range(100):
            with pytest.raises(RedisUnavailable):
                await link.execute("PING")
        assert time.monotonic() - started < 0.2  # refused at once while Redis is known to be down
        private_redis.start()
        await asyncio.sleep(0.35)
        assert await link.execute("PING") == b"PONG"
    finally:
        await link.close()


async def test_a_silent_server_times_out() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(10)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = RedisLink(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            await link.execute("GET", "k")
        assert time.monotonic() - started < 1.0
    finally:
        await link.close()
        server.close()

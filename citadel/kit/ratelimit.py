"""Per-client-IP rate limits.

Two limiters, for two different promises:

``ApiRateLimiter`` (every ``/api/`` request, default 100 req/s per IP) never puts a network
round trip on the request path. Each process counts admitted requests per IP in one-second
windows and decides locally from a sliding-window estimate
(``previous window × unelapsed fraction + current window``) over its own counts plus the counts
the other processes reported. Every ``sync_interval`` (default 100 ms) a background task adds
this process's new counts to per-IP, per-window counters in Redis with one pipelined round trip
and reads back the totals. Tolerance: a process learns of the others' traffic at most one sync
interval (plus a round trip) late, so an IP spreading a sudden burst over N processes (workers ×
replicas) can get up to N × limit through in the first interval; once synced, the shared limit
holds to within the traffic of one interval. With Redis down each process enforces the limit on
its own traffic alone.

``AuthRateLimiter`` (``/api/v1/auth/*``, default 10 req/s per IP with a burst of 10) is exact:
one Redis round trip per request runs a GCRA script that decides atomically on the server. If
Redis cannot answer in time, the same algorithm runs in the process instead (exact per process).
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis
import redis.exceptions

logger = logging.getLogger("citadel.ratelimit")


class ApiRateLimiter:
    def __init__(
        self,
        *,
        limit: int,
        redis_client: aioredis.Redis | None,
        key_prefix: str,
        sync_interval_s: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.redis = redis_client
        self.key_prefix = key_prefix
        self.sync_interval_s = sync_interval_s
        self.clock = clock
        self.window = 0
        # counts of the current and previous one-second windows: ours and everyone else's
        self.own: dict[str, int] = {}
        self.own_prev: dict[str, int] = {}
        self.others: dict[str, int] = {}
        self.others_prev: dict[str, int] = {}
        # admitted here but not yet added to Redis, per (window, ip)
        self.unsent: dict[tuple[int, str], int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _roll(self, window: int) -> None:
        if window == self.window + 1:
            self.own_prev, self.others_prev = self.own, self.others
        else:
            self.own_prev, self.others_prev = {}, {}
        self.own, self.others = {}, {}
        self.window = window

    def allow(self, ip: str) -> bool:
        """Admit (and count) one request from ``ip``, or refuse it. No I/O."""
        now = self.clock()
        window = int(now)
        if window != self.window:
            self._roll(window)
        weight = 1.0 - (now - window)
        own = self.own.get(ip, 0)
        estimate = (
            own + self.others.get(ip, 0) + (self.own_prev.get(ip, 0) + self.others_prev.get(ip, 0)) * weight
        )
        if estimate >= self.limit:
            return False
        self.own[ip] = own + 1
        key = (window, ip)
        self.unsent[key] = self.unsent.get(key, 0) + 1
        return True

    async def start(self) -> None:
        if self.redis is not None:
            self._task = asyncio.create_task(self._sync_forever(), name="api-rate-limit-sync")

    async def stop(self) -> None:
        """Stop syncing. The flag ends the loop even if a cancel is lost inside the Redis client
        (redis-py can swallow one, or report it as a timeout); the cancel interrupts a round trip."""
        if self._task is None:
            return
        self._stopping.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _sync_forever(self) -> None:
        warned = False
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.sync_interval_s)
            if self._stopping.is_set():
                return
            try:
                await self.sync()
                warned = False
            except (redis.exceptions.RedisError, OSError) as exc:
                if self._stopping.is_set():
                    return
                if not warned:
                    logger.warning("rate-limit sync failed (%s); limiting per process", type(exc).__name__)
                    warned = True
                self.others.clear()
                self.others_prev.clear()

    async def sync(self) -> None:
        """Add our new counts to Redis and learn everyone's totals for the IPs we serve."""
        if self.redis is None:
            return
        window = self.window
        pending, self.unsent = self.unsent, {}
        # every IP active here this window is refreshed, even with nothing new to add
        for ip in self.own:
            pending.setdefault((window, ip), 0)
        if not pending:
            return
        keys = list(pending)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for w, ip in keys:
                    name = f"{self.key_prefix}{w}:{ip}"
                    pipe.incrby(name, pending[(w, ip)])
                    pipe.expire(name, 3)
                results = await pipe.execute()
        except BaseException:
            for key, count in pending.items():  # nothing was lost: send it next time
                self.unsent[key] = self.unsent.get(key, 0) + count
            raise
        # Redis holds everyone's sent counts; ours sent so far are what we admitted minus what
        # was admitted while this round trip was in flight.
        for (w, ip), total in zip(keys, results[::2], strict=True):
            in_flight = self.unsent.get((w, ip), 0)
            if w == self.window:
                self.others[ip] = max(0, int(total) - (self.own.get(ip, 0) - in_flight))
            elif w == self.window - 1:
                self.others_prev[ip] = max(0, int(total) - (self.own_prev.get(ip, 0) - in_flight))


# GCRA (generic cell rate algorithm): one "theoretical arrival time" per key, decided on the server.
_GCRA = """
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now - tolerance}
end
local new_tat = tat + emission
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"""


class _LocalGcra:
    def __init__(self, emission_us: int, tolerance_us: int) -> None:
        self.emission_us = emission_us
        self.tolerance_us = tolerance_us
        self.tat: dict[str, int] = {}

    def check(self, key: str, now_us: int) -> tuple[bool, int]:
        tat = max(self.tat.get(key, now_us), now_us)
        if tat - now_us > self.tolerance_us:
            return False, tat - now_us - self.tolerance_us
        self.tat[key] = tat + self.emission_us
        if len(self.tat) > 100_000:
            self.tat = {k: v for k, v in self.tat.items() if v > now_us}
        return True, 0


class AuthRateLimiter:
    def __init__(
        self, *, rate: int, burst: int, redis_client: aioredis.Redis | None, key_prefix: str, timeout_s: float
    ) -> None:
        self.emission_us = 1_000_000 // max(1, rate)
        self.tolerance_us = self.emission_us * (max(1, burst) - 1)
        self.redis = redis_client
        self.key_prefix = key_prefix
        self.timeout_s = timeout_s
        self._script = redis_client.register_script(_GCRA) if redis_client is not None else None
        self._local = _LocalGcra(self.emission_us, self.tolerance_us)
        self._warned = False

    async def check(self, ip: str) -> tuple[bool, int]:
        """(allowed, seconds to wait before retrying)."""
        if self._script is not None:
            try:
                async with asyncio.timeout(self.timeout_s):
                    allowed, wait_us = await self._script(
                        keys=[self.key_prefix + ip], args=[self.emission_us, self.tolerance_us]
                    )
                self._warned = False
                return bool(allowed), math.ceil(int(wait_us) / 1_000_000)
            except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
                if not self._warned:
                    logger.warning("auth rate limit falls back to this process (%s)", type(exc).__name__)
                    self._warned = True
        allowed, wait_us = self._local.check(ip, time.monotonic_ns() // 1000)
        return allowed, math.ceil(wait_us / 1_000_000)

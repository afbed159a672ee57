"""The outbox relay: committed outbox rows to JetStream, in order, at least once.

One relay leads at a time (a session advisory lock on a dedicated connection), so events leave
in the order they were written; other relays wait as standbys and take over when the leader's
connection ends. The leader wakes on a core NATS message on ``citadel.outbox.wake``, which a
process sends after committing a transaction that wrote outbox rows, and also polls, so a lost
wake-up costs at most one poll interval. (Not ``NOTIFY``: PostgreSQL serialises the commits of
notifying transactions on one lock held through the WAL flush, and under checkout load commits
queued on it.)

A woken relay first lingers (``CITADEL_OUTBOX_LINGER_MS``, 10 ms), so that the commits of that
moment go out as one batch: one read, one round of acks and one update for several checkouts'
events instead of for each (under checkout load, a batch held about one checkout's events). A
drain stops at a batch shorter than the batch size: a row committed after that read sends its
own wake-up.

A woken relay reads on from the last row it published, not from the start of the outbox: the
unpublished-rows index keeps an entry for every row published since the last vacuum, and a
read from the start steps over all of them (measured: 0.9 ms a read, thousands of reads a
second, under checkout load). A row numbered before the last one published but committed after
it is found by the full read the relay makes at least once per poll interval; events of one
aggregate are never reordered by this, since each takes its number under that aggregate's
sequence row lock, after the one before it committed.

Each batch is published with ``publish_async`` and the event id as ``Nats-Msg-Id``, through one
JetStream context for the life of the connection (its acks come on one reply subscription),
all of it written before the relay waits for the acks; rows are marked sent only once the
stream acknowledged them, up to the first failure. With NATS down, rows simply wait and the
relay retries with backoff; a row published twice across a crash is dropped by the stream's
duplicate window, and consumers dedupe by event id in any case.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
import msgspec

from citadel.kit.db import Database, Wake, load_queries
from citadel.kit.events import Envelope, ensure_streams, envelope_encoder, subject_of
from citadel.kit.messaging import NatsLink
from citadel.settings import Settings

logger = logging.getLogger("citadel.relay")
Q = load_queries(__file__)

RELAY_LOCK = 0x43_49_54_41_44_45_4C_02  # "CITADEL" + 2
WAKE_SUBJECT = "citadel.outbox.wake"
ACK_TIMEOUT_S = 5.0


class PublishFailed(Exception):
    pass


class OutboxRelay:
    def __init__(self, settings: Settings, db: Database, link: NatsLink) -> None:
        self.settings = settings
        self.db = db
        self.link = link
        self.poll_s = settings.outbox_poll_interval_ms / 1000
        self.linger_s = settings.outbox_linger_ms / 1000
        self.published_total = 0
        self.is_leader = False
        self._streams_ready = False
        self._published_up_to = 0  # the highest outbox seq this relay published

    async def run(self, stop: asyncio.Event) -> None:
        """Lead (or stand by) until ``stop`` is set, reconnecting to PostgreSQL as needed."""
        delay = 0.2
        while not stop.is_set():
            try:
                async with self.db.dedicated() as conn:
                    delay = 0.2
                    await self._lead(conn, stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.is_leader = False
                logger.warning("relay lost PostgreSQL (%s); retrying in %.1fs", type(exc).__name__, delay)
                await _sleep_until(stop, delay)
                delay = min(delay * 2, 5.0)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not await conn.fetchval(Q.try_advisory_lock, RELAY_LOCK):
            if await _sleep_until(stop, 1.0):
                return
        self.is_leader = True
        logger.info("relay is leading")
        wake = asyncio.Event()

        async def on_wake(_: object) -> None:
            wake.set()

        subscription: Any = None
        backoff = 0.2
        full_at = 0.0  # when the next read must start from the beginning
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if subscription is None and self.link.connected:
                    # kept by the client across reconnects; until it exists, the poll wakes us
                    with contextlib.suppress(Exception):
                        subscription = await self.link.client.subscribe(
                            self.settings.subject(WAKE_SUBJECT), cb=on_wake
                        )
                wake.clear()
                full = loop.time() >= full_at
                if full:
                    full_at = loop.time() + self.poll_s
                try:
                    await self.drain(conn, full=full)
                    backoff = 0.2
                except PublishFailed as exc:
                    logger.warning("relay could not publish (%s); retrying in %.1fs", exc, backoff)
                    await _sleep_until(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                # until the wake-up subscription exists (NATS still connecting), look again soon
                wait_s = self.poll_s if subscription is not None else min(self.poll_s, 0.2)
                await _wait_any(wake, stop, wait_s)
                if wake.is_set() and self.linger_s > 0:
                    await _sleep_until(stop, self.linger_s)
        finally:
            self.is_leader = False
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def drain(self, conn: asyncpg.Connection, *, full: bool = True) -> int:
        """Publish the unpublished rows, batch by batch: all of them, or (``full`` false) those
        after the last row this relay published; the number published."""
        total = 0
        after = 0 if full else self._published_up_to
        while True:
            rows = await conn.fetch(Q.fetch_unpublished, self.settings.outbox_batch_size, after)
            if not rows:
                return total
            if not self.link.connected:
                raise PublishFailed("NATS is not connected")
            if not self._streams_ready:
                try:
                    await ensure_streams(self.link.jetstream(), self.settings)
                except Exception as exc:
                    raise PublishFailed(f"cannot prepare streams: {type(exc).__name__}") from exc
                self._streams_ready = True
            sent, error = await self._publish(rows)
            if sent:
                await conn.execute(Q.mark_published, sent)
                total += len(sent)
                self.published_total += len(sent)
                after = sent[-1]
                self._published_up_to = max(self._published_up_to, after)
            if error is not None:
                await conn.execute(Q.record_publish_failure, rows[len(sent)]["seq"], error[:500])
                raise PublishFailed(error)
            if len(rows) < self.settings.outbox_batch_size:
                return total  # drained: what commits after the read wakes the relay again

    async def _publish(self, rows: list[asyncpg.Record]) -> tuple[list[int], str | None]:
        # Room for two batches of acks: every future of the last batch is done or cancelled
        # before the next one starts, so a publish never waits for room. It is therefore sent
        # without a stall timeout, which would wrap each publish in a task of its own and yield
        # to the loop, so that each message went out in a write of its own; without it the whole
        # batch goes out in a few writes.
        js = self.link.jetstream(publish_pending=2 * self.settings.outbox_batch_size)
        futures: list[asyncio.Future[Any]] = []
        try:
            for row in rows:
                payload = envelope_encoder.encode(
                    Envelope(
                        id=row["id"],
                        type=row["event_type"],
                        aggregate_id=row["aggregate_id"],
                        sequence=row["aggregate_sequence"],
                        occurred_at=row["occurred_at"],
                        data=msgspec.Raw(row["data"].encode()),
                    )
                )
                futures.append(
                    await js.publish_async(
                        subject_of(self.settings, row["event_type"]),
                        payload,
                        headers={"Nats-Msg-Id": str(row["id"])},
                    )
                )
        except Exception as exc:  # noqa: BLE001 - a failed send is retried from this row on
            error: str | None = f"send failed: {type(exc).__name__}"
        else:
            error = None
        if futures:
            await asyncio.wait(futures, timeout=ACK_TIMEOUT_S)
        sent: list[int] = []
        # the futures stop where a send failed: the rows after it count as unsent
        for row, future in zip(rows, futures, strict=False):
            if not future.done() or future.cancelled() or future.exception() is not None:
                if error is None:
                    reason = "no ack" if not future.done() else type(future.exception()).__name__
                    error = f"publish failed: {reason}"
                break
            sent.append(row["seq"])
        for future in futures:
            if not future.done():
                future.cancel()
        return sent, error


def relay_waker(settings: Settings, link: NatsLink) -> Wake:
    """What a process does after committing outbox rows: tell the leading relay (best effort)."""
    subject = settings.subject(WAKE_SUBJECT)

    async def wake() -> None:
        if not link.connected:
            return
        with contextlib.suppress(Exception):  # the relay's poll covers a lost wake-up
            await link.client.publish(subject, b"")

    return wake


async def _sleep_until(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``stop`` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _wait_any(wake: asyncio.Event, stop: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def purge_published(conn: asyncpg.Connection, retention_days: int) -> None:
    """Drop published outbox rows older than the retention (the streams keep the events)."""
    await conn.execute(Q.purge_published_outbox, retention_days)

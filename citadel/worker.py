"""The background process: the outbox relay, the JetStream consumers and housekeeping.

``citadel worker`` runs all three (``--no-relay`` leaves the relay to ``citadel relay``). Several
workers may run at once: one relay leads while the others stand by, and consumers share their
durable consumers' messages.
"""

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

from citadel.auth import service as auth_service
from citadel.bulk.models import BulkJobQueued
from citadel.bulk.service.jobs import JobRunner
from citadel.cart import service as cart_service
from citadel.catalog.models import CACHE_TOPICS
from citadel.kit import idempotency
from citadel.kit.cache import InvalidationBus, after_commit
from citadel.kit.consumers import Consumer, ConsumerRunner, purge_processed
from citadel.kit.db import Connection, Database
from citadel.kit.events import Envelope
from citadel.kit.live import live_publisher
from citadel.kit.messaging import NatsLink
from citadel.kit.relay import OutboxRelay, purge_published, relay_waker
from citadel.kit.runtime import cache_versions
from citadel.kit.search import open_elasticsearch
from citadel.live.consumers import consumers as live_consumers
from citadel.notifications.consumers import consumers as notification_consumers
from citadel.orders import service as orders_service
from citadel.orders.consumers import consumers as order_consumers
from citadel.search.consumers import consumers as search_consumers
from citadel.settings import Settings

logger = logging.getLogger("citadel.worker")

HEARTBEAT_INTERVAL_S = 5.0
HOUSEKEEPING_INTERVAL_S = 600.0
SWEEP_BATCH = 50


def all_consumers(
    settings: Settings, elasticsearch: Any | None, jobs: JobRunner | None = None
) -> list[Consumer]:
    found = [
        *notification_consumers(settings),
        *order_consumers(),
        *live_consumers(),
        *search_consumers(settings, elasticsearch),
    ]
    if jobs is not None:
        found.append(job_consumer(jobs))
    return found


def job_consumer(jobs: JobRunner) -> Consumer:
    """A queued bulk job wakes this worker's job runner (which takes the job if it is free)."""

    async def queued(_: Connection, event: BulkJobQueued, __: Envelope) -> None:
        jobs.wake()

    return Consumer(name="bulk-jobs", domain="vendors", handlers={"vendors.bulk_job_queued": queued})


class Worker:
    def __init__(
        self, settings: Settings, *, relay: bool = True, consumers: list[Consumer] | None = None
    ) -> None:
        self.settings = settings
        self.db = Database(
            settings.database_url.reveal(),
            direct_dsn=settings.direct_database_url,
            pool_size=settings.worker_pool_size,
            timeout=settings.database_command_timeout_s,
        )
        self.link = NatsLink(settings.nats_url.reveal(), name="citadel-worker")
        self.cache_versions = cache_versions(settings, CACHE_TOPICS)
        self.db.broadcast = after_commit(
            self.cache_versions, InvalidationBus(self.link, settings.subject("citadel.cache"))
        )
        self.db.publish = live_publisher(self.link, settings.subject("citadel.live"))
        self.db.wake_relay = relay_waker(settings, self.link)
        self.relay = OutboxRelay(settings, self.db, self.link) if relay else None
        self.elasticsearch = open_elasticsearch(settings)
        self.jobs = JobRunner(settings, self.db)
        if consumers is None:
            consumers = all_consumers(settings, self.elasticsearch, self.jobs)
        self.consumers = consumers
        self.runner = ConsumerRunner(settings, self.db, self.link) if self.consumers else None

    async def run(self, stop: asyncio.Event) -> None:
        await self.db.open()
        await self.link.start()
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.relay is not None:
                tasks.append(asyncio.create_task(self.relay.run(stop), name="relay"))
            if self.runner is not None:
                tasks.extend(
                    asyncio.create_task(self.runner.run(consumer, stop), name=consumer.name)
                    for consumer in self.consumers
                )
                tasks.append(asyncio.create_task(self._housekeeping(stop), name="housekeeping"))
                tasks.append(asyncio.create_task(self._sweep_holds(stop), name="hold-sweeper"))
                tasks.append(asyncio.create_task(self.jobs.run(stop), name="bulk-jobs"))
            tasks.append(asyncio.create_task(self._retry_versions(stop), name="cache-version-retry"))
            if self.settings.worker_heartbeat_path:
                heartbeat = self._heartbeat(stop, list(tasks), Path(self.settings.worker_heartbeat_path))
                tasks.append(asyncio.create_task(heartbeat, name="heartbeat"))
            await stop.wait()
        finally:
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(task, timeout=5.0)
            await self.link.close()
            await self.cache_versions.link.close()
            if self.elasticsearch is not None:
                await self.elasticsearch.close()
            await self.db.close()

    async def _heartbeat(self, stop: asyncio.Event, tasks: list[asyncio.Task[None]], path: Path) -> None:
        """Touch ``path`` while every task runs and PostgreSQL and NATS answer; a stale file
        tells a health check the worker is stuck or broken."""
        while not stop.is_set():
            try:
                alive = all(not task.done() for task in tasks) and self.link.connected
                if alive:
                    async with self.db.connection() as conn:
                        await conn.fetchval("SELECT 1")
                    await asyncio.to_thread(path.touch)
            except Exception as exc:  # noqa: BLE001 - a failed beat is the signal; the check reads it
                logger.warning("worker heartbeat skipped: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_INTERVAL_S)

    async def _retry_versions(self, stop: asyncio.Event) -> None:
        retry = asyncio.ensure_future(self.cache_versions.retry_forever())
        try:
            await stop.wait()
        finally:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.db.transaction() as conn:
                    await auth_service.purge_expired(conn, self.settings)
                    await purge_published(conn, self.settings.outbox_retention_days)
                    await purge_processed(conn, self.settings.jetstream_max_age_days + 1)
                    await idempotency.purge(conn, self.settings.idempotency_ttl_h)
                    await cart_service.purge_expired(conn)
            except Exception:
                logger.exception("housekeeping failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HOUSEKEEPING_INTERVAL_S)

    async def _sweep_holds(self, stop: asyncio.Event) -> None:
        """Cancel unpaid orders whose stock holds expired, a batch per transaction; several
        workers share the work (the orders are locked with SKIP LOCKED)."""
        failed: list[uuid.UUID] = []  # skipped until the worker restarts (and logged)
        while not stop.is_set():
            for _ in range(SWEEP_BATCH):  # one order per transaction
                order_id = None
                try:
                    async with self.db.transaction() as conn:
                        order_id = await orders_service.next_expired(conn, failed)
                        if order_id is not None:
                            await orders_service.expire(conn, order_id)
                except Exception:
                    logger.exception("cannot cancel expired order %s; skipping it", order_id)
                    if order_id is not None and len(failed) < 10_000:
                        failed.append(order_id)
                    continue
                if order_id is None:
                    break
            else:
                continue  # a full batch: more are waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.hold_sweep_interval_s)

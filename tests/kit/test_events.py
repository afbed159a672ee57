"""Outbox, relay and consumers against real PostgreSQL and NATS JetStream.

The failure tests run on a database of their own and a NATS server of their own, which they
stop and start.
"""

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from citadel.kit.consumers import Consumer
from citadel.kit.db import Connection, Database
from citadel.kit.events import Envelope, all_streams, emit, ensure_streams, subject_of
from citadel.kit.messaging import NatsLink
from citadel.kit.relay import OutboxRelay, relay_waker
from citadel.settings import Secret, Settings
from citadel.users.models import UserRoleChanged
from tests.fixtures.app import eventually, isolated_settings, running_worker
from tests.fixtures.servers import PrivateServer, Servers


def _event(user_id: uuid.UUID, n: int = 0) -> UserRoleChanged:
    roles = ("customer", "vendor", "admin")
    return UserRoleChanged(
        user_id=user_id, old_role=roles[n % 3], new_role=roles[(n + 1) % 3], changed_by=user_id
    )


@pytest.fixture
async def db(fresh_database_url: str) -> AsyncIterator[Database]:
    database = Database(fresh_database_url, pool_size=4)
    await database.open()
    async with database.transaction() as conn:
        await conn.execute("CREATE TABLE consumer_effects (event_id uuid NOT NULL, sequence bigint NOT NULL)")
    yield database
    await database.close()


async def _emit(db: Database, count: int, aggregate: uuid.UUID | None = None) -> list[uuid.UUID]:
    ids = []
    async with db.transaction() as conn:
        for n in range(count):
            target = aggregate or uuid.uuid4()
            ids.append(await emit(conn, _event(target, n), aggregate_id=target))
    return ids


def _effects_consumer(name: str = "test-effects", fail_times: int = 0) -> tuple[Consumer, Counter[uuid.UUID]]:
    calls: Counter[uuid.UUID] = Counter()

    async def handler(conn: Connection, event: UserRoleChanged, envelope: Envelope) -> None:
        calls[envelope.id] += 1
        if calls[envelope.id] <= fail_times:
            raise RuntimeError("transient failure")
        await conn.execute(
            "INSERT INTO consumer_effects (event_id, sequence) VALUES ($1, $2)",
            envelope.id,
            envelope.sequence,
        )

    return Consumer(name=name, domain="users", handlers={"users.role_changed": handler}), calls


async def _effects(db: Database) -> Counter[uuid.UUID]:
    async with db.connection() as conn:
        return Counter(r["event_id"] for r in await conn.fetch("SELECT event_id FROM consumer_effects"))


async def test_events_commit_with_their_change_or_not_at_all(db: Database) -> None:
    aggregate = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await emit(conn, _event(aggregate), aggregate_id=aggregate)
            raise RuntimeError("the change failed")
    await _emit(db, 3, aggregate)
    async with db.connection() as conn:
        rows = await conn.fetch("SELECT aggregate_sequence, event_type, data FROM outbox ORDER BY seq")
    assert [r["aggregate_sequence"] for r in rows] == [1, 2, 3]
    assert {r["event_type"] for r in rows} == {"users.role_changed"}
    assert rows[0]["data"]["userId"] == str(aggregate)


async def test_relay_publishes_envelopes_with_their_id_as_message_id(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    aggregate = uuid.uuid4()
    ids = await _emit(db, 2, aggregate)
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        sub = await js.subscribe(subject_of(settings, "users.role_changed"), ordered_consumer=True)
        async with running_worker(settings, consumers=[]):
            messages = [await sub.next_msg(timeout=10) for _ in range(2)]
        envelopes = [msgspec.json.decode(m.data, type=Envelope) for m in messages if m.headers]
        mine = [e for e in envelopes if e.aggregate_id == str(aggregate)]
        assert [e.id for e in mine] == ids
        assert [e.sequence for e in mine] == [1, 2]
        assert all(
            m.headers and m.headers["Nats-Msg-Id"] == str(e.id)
            for m, e in zip(messages, envelopes, strict=True)
        )
        assert msgspec.json.decode(mine[0].data)["newRole"] == "vendor"
        # the stream drops a republished duplicate inside its window
        info = await js.stream_info(settings.stream_name("users"))
        ack = await js.publish(messages[0].subject, messages[0].data, headers={"Nats-Msg-Id": str(ids[0])})
        assert ack.duplicate is True
        assert (await js.stream_info(settings.stream_name("users"))).state.messages == info.state.messages
    finally:
        await nc.close()
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_the_relay_publishes_batch_after_batch_on_one_jetstream_context(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    """Each context that publishes asynchronously subscribes to its own reply subject; a relay
    that made one per batch left a subscription behind per batch, for as long as it ran."""
    settings = isolated_settings(servers, fresh_database_url, outbox_batch_size=10)
    ids = await _emit(db, 35)
    link = NatsLink(servers.nats_url, name="relay-batches")
    await link.start()
    try:
        assert await link.wait_connected(5)
        await ensure_streams(link.jetstream(), settings)
        relay = OutboxRelay(settings, db, link)
        async with db.dedicated() as conn:
            await relay.drain(conn)  # the first batches make the relay's context and its reply subject
            subscriptions = len(link.client._subs)  # (the client keeps no public count)
            more = await _emit(db, 35)
            assert await relay.drain(conn) >= 35
        assert len(link.client._subs) == subscriptions
        assert link.jetstream() is link.jetstream()
        async with db.connection() as conn:
            unsent = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE id = ANY($1) AND published_at IS NULL", ids + more
            )
        assert unsent == 0
    finally:
        await link.close()


@contextlib.asynccontextmanager
async def _waiting_relay(
    servers: Servers, db: Database, settings: Settings, name: str
) -> AsyncIterator[None]:
    """A worker whose relay leads and, its first drain done, waits on its poll; commits on ``db``
    send wake-ups."""
    link = NatsLink(servers.nats_url, name=name)
    await link.start()
    try:
        assert await link.wait_connected(5)
        db.wake_relay = relay_waker(settings, link)
        async with running_worker(settings, consumers=[]) as worker:
            assert worker.relay is not None
            relay = worker.relay
            await eventually(lambda: _true(relay.is_leader))
            await asyncio.sleep(0.3)
            yield
    finally:
        db.wake_relay = None
        await link.close()


async def test_a_commit_with_events_wakes_the_relay_long_before_its_poll(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    # a poll this long would fail the test: only the wake-up sent after COMMIT can be in time
    settings = isolated_settings(servers, fresh_database_url, outbox_poll_interval_ms=60_000)
    async with _waiting_relay(servers, db, settings, "test-waker"):
        await _emit(db, 1)  # the poll would next look in a minute
        await eventually(lambda: _none_unpublished(db), timeout=3)


async def test_commits_within_the_relays_linger_go_out_in_one_batch(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(
        servers, fresh_database_url, outbox_poll_interval_ms=60_000, outbox_linger_ms=300
    )
    async with _waiting_relay(servers, db, settings, "test-linger"):
        for _ in range(5):  # five commits, each sending a wake-up
            await _emit(db, 2)
        await eventually(lambda: _none_unpublished(db), timeout=5)
    async with db.connection() as conn:
        # rows one statement marks share its now(): one batch, one read, one round of acks
        batches = await conn.fetchval("SELECT count(DISTINCT published_at) FROM outbox")
    assert batches == 1


async def _true(value: bool) -> bool:
    return value


async def _none_unpublished(db: Database) -> bool:
    async with db.connection() as conn:
        return bool(await conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))


async def test_an_event_committed_after_a_later_numbered_one_is_still_published(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    # the woken relay reads on from the last row it published; the early-numbered, late-committed
    # row is behind that point and must still come out (the periodic full read finds it)
    settings = isolated_settings(servers, fresh_database_url)
    early, late = uuid.uuid4(), uuid.uuid4()
    async with running_worker(settings, consumers=[]) as worker:
        assert worker.relay is not None
        relay = worker.relay
        await eventually(lambda: _true(relay.is_leader))
        async with db.transaction() as first:
            await emit(first, _event(early), aggregate_id=early)  # numbered first, committed last
            await _emit(db, 1, late)

            async def late_published() -> bool:
                async with db.connection() as conn:
                    return bool(
                        await conn.fetchval(
                            "SELECT published_at IS NOT NULL FROM outbox WHERE aggregate_id = $1", str(late)
                        )
                    )

            await eventually(late_published, timeout=5)

        await eventually(lambda: _none_unpublished(db), timeout=5)
    async with db.connection() as conn:
        order = await conn.fetch("SELECT aggregate_id FROM outbox ORDER BY seq")
    assert [r["aggregate_id"] for r in order] == [str(early), str(late)]


async def test_nats_outage_loses_nothing_and_duplicates_nothing(
    servers: Servers, fresh_database_url: str, db: Database, private_nats: PrivateServer
) -> None:
    settings = isolated_settings(
        servers, fresh_database_url, nats_url=Secret(f"nats://127.0.0.1:{private_nats.port}")
    )
    consumer, _calls = _effects_consumer()
    async with running_worker(settings, consumers=[consumer]) as worker:
        before = await _emit(db, 40)
        await eventually(lambda: _has_all(db, before), timeout=20)

        private_nats.stop()
        during = await _emit(db, 40)  # writes succeed while NATS is down: events wait in the outbox
        await asyncio.sleep(0.5)
        async with db.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 40

        private_nats.start()
        await eventually(lambda: _has_all(db, before + during), timeout=30)
        assert worker.relay is not None and worker.relay.published_total == 80
    effects = await _effects(db)
    assert set(effects) == set(before + during)
    assert max(effects.values()) == 1  # no event took effect twice
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM processed_events") == 80
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_a_fetch_is_handled_aggregate_by_aggregate_each_in_order(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url, consumer_concurrency=3)
    aggregates = [uuid.uuid4() for _ in range(3)]
    handled: list[tuple[str, int]] = []
    running, most = 0, 0

    async def handler(conn: Connection, event: UserRoleChanged, envelope: Envelope) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)  # a handler waiting on its round trips
        handled.append((envelope.aggregate_id, envelope.sequence))
        running -= 1

    consumer = Consumer(name="test-lanes", domain="users", handlers={"users.role_changed": handler})
    async with db.transaction() as conn:  # one commit: the relay sends them together, one fetch
        for n in range(4):
            for aggregate in aggregates:
                await emit(conn, _event(aggregate, n), aggregate_id=aggregate)
    async with running_worker(settings, consumers=[consumer]):
        await eventually(lambda: _true(len(handled) == 12), timeout=10)
    for aggregate in aggregates:
        assert [seq for agg, seq in handled if agg == str(aggregate)] == [1, 2, 3, 4]
    assert most > 1, "different aggregates were handled side by side"


async def test_redelivered_events_take_effect_once(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, _calls = _effects_consumer(name="test-redelivery")
    ids = await _emit(db, 5)
    async with running_worker(settings, consumers=[consumer]) as worker:
        await eventually(lambda: _has_all(db, ids))
        assert worker.runner is not None
        # deliver every stored message again, as JetStream does after a lost ack
        link = worker.link
        js = link.jetstream()
        sub = await js.subscribe(subject_of(settings, "users.>"), ordered_consumer=True)
        for _ in ids:
            message = await sub.next_msg(timeout=5)
            await worker.runner.process(consumer, _Redelivery(message))
    effects = await _effects(db)
    assert all(effects[i] == 1 for i in ids)


class _Redelivery:
    """A stored message handed to the consumer a second time (ack bookkeeping is ignored)."""

    def __init__(self, message: object) -> None:
        self.data = message.data  # type: ignore[attr-defined]
        self.subject = message.subject  # type: ignore[attr-defined]
        self.metadata = msgspec.structs.replace(_META, num_delivered=2)

    async def ack(self) -> None:
        return None


class _Meta(msgspec.Struct):
    num_delivered: int


_META = _Meta(num_delivered=1)


async def test_failures_are_retried_with_backoff_then_succeed(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, calls = _effects_consumer(name="test-retry", fail_times=2)
    ids = await _emit(db, 3)
    async with running_worker(settings, consumers=[consumer]):
        await eventually(lambda: _has_all(db, ids), timeout=20)
    assert all(calls[i] == 3 for i in ids)
    assert max((await _effects(db)).values()) == 1


async def test_poison_events_are_parked_after_the_last_attempt(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, calls = _effects_consumer(name="test-poison", fail_times=99)
    ids = await _emit(db, 2)

    async def parked() -> list[asyncpg.Record]:
        async with db.connection() as conn:
            rows = await conn.fetch("SELECT * FROM parked_events WHERE consumer LIKE '%test-poison'")
        return rows if len(rows) == 2 else []

    async with running_worker(settings, consumers=[consumer]):
        rows = await eventually(parked, timeout=20)
    assert {r["event_id"] for r in rows} == set(ids)
    assert all(r["attempts"] == settings.consumer_max_attempts for r in rows)
    assert all("transient failure" in r["error"] for r in rows)
    assert all(calls[i] == settings.consumer_max_attempts for i in ids)
    assert await _effects(db) == Counter()


async def test_undecodable_messages_are_parked_at_once(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, _ = _effects_consumer(name="test-garbage")
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        async with running_worker(settings, consumers=[consumer]):
            await js.publish(
                subject_of(settings, "users.role_changed"),
                b"{not json",
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )

            async def parked() -> int:
                async with db.connection() as conn:
                    return int(
                        await conn.fetchval(
                            "SELECT count(*) FROM parked_events WHERE consumer LIKE '%test-garbage'"
                        )
                    )

            assert await eventually(parked) == 1
    finally:
        await nc.close()


async def test_one_relay_leads_and_a_standby_takes_over(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    links = [NatsLink(servers.nats_url, name=f"relay-{n}") for n in range(2)]
    relays = [OutboxRelay(settings, db, link) for link in links]
    stops = [asyncio.Event(), asyncio.Event()]
    for link in links:
        await link.start()
    tasks = [asyncio.create_task(relay.run(stop)) for relay, stop in zip(relays, stops, strict=True)]
    try:
        await eventually(lambda: _async(any(r.is_leader for r in relays)))
        await asyncio.sleep(0.5)
        assert sum(r.is_leader for r in relays) == 1
        leader = next(n for n, r in enumerate(relays) if r.is_leader)
        stops[leader].set()
        await tasks[leader]
        standby = relays[1 - leader]
        await eventually(lambda: _async(standby.is_leader), timeout=10)
        ids = await _emit(db, 3)

        async def published() -> bool:
            async with db.connection() as conn:
                return bool(
                    await conn.fetchval(
                        "SELECT bool_and(published_at IS NOT NULL) FROM outbox WHERE id = ANY($1)", ids
                    )
                )

        await eventually(published)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
        for link in links:
            await link.close()


async def _async(value: bool) -> bool:
    return value


async def _has_all(db: Database, ids: list[uuid.UUID]) -> bool:
    return set(ids) <= set(await _effects(db))


async def test_a_batch_consumer_handles_each_fetch_at_once_and_each_event_once(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url, consumer_batch_size=50)
    batches: list[int] = []
    failures = 1

    async def handle(conn: Connection, events: list[tuple[UserRoleChanged, Envelope]]) -> None:
        nonlocal failures
        batches.append(len(events))
        if failures:
            failures -= 1
            raise RuntimeError("the whole batch fails once")
        for _, envelope in events:
            await conn.execute(
                "INSERT INTO consumer_effects (event_id, sequence) VALUES ($1, $2)",
                envelope.id,
                envelope.sequence,
            )

    consumer = Consumer(
        name="test-batch", domain="users", batch_handler=handle, batch_types=frozenset({"users.role_changed"})
    )
    ids = await _emit(db, 30)
    async with running_worker(settings, consumers=[consumer]):
        await eventually(lambda: _has_all(db, ids), timeout=20)
    effects = await _effects(db)
    assert all(effects[i] == 1 for i in ids)
    assert len(batches) < 30  # handled in batches, not one call per event
    assert sum(batches[1:]) >= 30  # the failed batch came back whole


async def _parked_alone(
    settings: Settings, db: Database, consumer: Consumer, ids: list[uuid.UUID], bad: uuid.UUID
) -> list[asyncpg.Record]:
    """Run ``consumer`` until ``bad`` is parked and the other events took effect; they took it
    once each, not held back by it, and it took none. The parked rows."""

    async def parked() -> list[asyncpg.Record]:
        async with db.connection() as conn:
            return await conn.fetch("SELECT * FROM parked_events WHERE consumer LIKE $1", f"%{consumer.name}")

    async with running_worker(settings, consumers=[consumer]):
        rows = await eventually(parked, timeout=30)
        await eventually(lambda: _has_all(db, [i for i in ids if i != bad]), timeout=20)
    assert [r["event_id"] for r in rows] == [bad]
    effects = await _effects(db)
    assert bad not in effects
    assert all(effects[i] == 1 for i in ids if i != bad)
    return rows


async def test_a_failing_batch_is_handled_again_event_by_event_when_a_handler_can(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url, consumer_batch_size=50)
    ids = await _emit(db, 12)
    bad = ids[5]
    batches: list[tuple[int, bool]] = []  # (events, whether the bad one is among them)

    async def handle_batch(conn: Connection, events: list[tuple[UserRoleChanged, Envelope]]) -> None:
        batches.append((len(events), any(envelope.id == bad for _, envelope in events)))
        if batches[-1][1]:
            raise RuntimeError("a batch holding the bad event fails")
        for _, envelope in events:
            await conn.execute(
                "INSERT INTO consumer_effects (event_id, sequence) VALUES ($1, 0)", envelope.id
            )

    async def handle_one(conn: Connection, event: UserRoleChanged, envelope: Envelope) -> None:
        if envelope.id == bad:
            raise RuntimeError("this event always fails")
        await conn.execute("INSERT INTO consumer_effects (event_id, sequence) VALUES ($1, 1)", envelope.id)

    consumer = Consumer(
        name="test-batch-fallback", domain="users", handlers={"users.role_changed": handle_one},
        batch_handler=handle_batch, batch_types=frozenset({"users.role_changed"}),
    )  # fmt: skip

    await _parked_alone(settings, db, consumer, ids, bad)
    # the bad event came in a batch with others first (the relay may publish the first events
    # before the rest, so the very first fetch can hold one event)
    assert max(size for size, with_bad in batches if with_bad) > 1


def _together_consumer(name: str, poison: set[uuid.UUID]) -> tuple[Consumer, list[tuple[str, int, int]]]:
    """A ``together`` consumer recording (aggregate, sequence, transaction id) per event it
    handles, failing every time on the events in ``poison``."""
    handled: list[tuple[str, int, int]] = []

    async def handler(conn: Connection, event: UserRoleChanged, envelope: Envelope) -> None:
        if envelope.id in poison:
            raise RuntimeError("this event always fails")
        await conn.execute(
            "INSERT INTO consumer_effects (event_id, sequence) VALUES ($1, $2)",
            envelope.id,
            envelope.sequence,
        )
        handled.append(
            (envelope.aggregate_id, envelope.sequence, await conn.fetchval("SELECT txid_current()"))
        )

    consumer = Consumer(name=name, domain="users", handlers={"users.role_changed": handler}, together=True)
    return consumer, handled


async def test_a_together_consumer_commits_each_fetch_at_once_in_stream_order(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url, consumer_batch_size=50)
    consumer, handled = _together_consumer("test-together", poison=set())
    aggregates = [uuid.uuid4() for _ in range(3)]
    async with db.transaction() as conn:  # one commit: the relay sends them together
        ids = [
            await emit(conn, _event(aggregate, n), aggregate_id=aggregate)
            for n in range(10)
            for aggregate in aggregates
        ]
    async with running_worker(settings, consumers=[consumer]):
        await eventually(lambda: _has_all(db, ids), timeout=20)
    effects = await _effects(db)
    assert all(effects[i] == 1 for i in ids)
    assert len({tx for _, _, tx in handled}) < len(ids) / 3  # commits per fetch, not per event
    for aggregate in aggregates:
        assert [seq for agg, seq, _ in handled if agg == str(aggregate)] == list(range(1, 11))


async def test_a_failing_event_in_a_together_fetch_is_parked_alone(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url, consumer_batch_size=50)
    async with db.transaction() as conn:
        aggregate = uuid.uuid4()
        ids = [await emit(conn, _event(aggregate, n), aggregate_id=aggregate) for n in range(12)]
    bad = ids[5]
    consumer, _ = _together_consumer("test-together-poison", poison={bad})
    rows = await _parked_alone(settings, db, consumer, ids, bad)
    assert rows[0]["attempts"] == settings.consumer_max_attempts


async def test_a_together_fetch_delivered_twice_takes_effect_once(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, handled = _together_consumer("test-together-twice", poison=set())
    ids = await _emit(db, 4)
    async with running_worker(settings, consumers=[consumer]) as worker:
        await eventually(lambda: _has_all(db, ids))
        assert worker.runner is not None
        sub = await worker.link.jetstream().subscribe(subject_of(settings, "users.>"), ordered_consumer=True)
        stored = [_Redelivery(await sub.next_msg(timeout=5)) for _ in ids]
        # every message again, and each of them twice within the one fetch
        await worker.runner.process_together(consumer, [m for m in stored for _ in range(2)])
    effects = await _effects(db)
    assert all(effects[i] == 1 for i in ids)
    assert len(handled) == len(ids)


async def test_a_consumer_is_sent_only_its_one_type_and_a_wider_durable_keeps_its_place(
    servers: Servers, fresh_database_url: str, db: Database
) -> None:
    settings = isolated_settings(servers, fresh_database_url)
    consumer, calls = _effects_consumer(name="test-narrowed")
    durable, stream = settings.consumer_name(consumer.name), settings.stream_name("users")
    assert consumer.filter_subject(settings) == subject_of(settings, "users.role_changed")
    assert Consumer(
        name="x", domain="users", handlers=dict.fromkeys(("users.a", "users.b"), _noop)
    ).filter_subject(settings) == settings.subject("citadel.users.>")
    handled_before = await _emit(db, 3)
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        # the durable as a release that filtered on the whole domain made it, with 3 events acked
        await js.add_consumer(
            stream, ConsumerConfig(durable_name=durable, filter_subject=settings.subject("citadel.users.>"),
                                   ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )  # fmt: skip
        async with running_worker(settings, consumers=[]):  # the relay alone publishes them
            old = await js.pull_subscribe_bind(durable=durable, stream=stream)
            for message in await old.fetch(3, timeout=10):
                await message.ack()
            await old.unsubscribe()
        later = await _emit(db, 2)
        async with running_worker(settings, consumers=[consumer]):
            await eventually(lambda: _has_all(db, later))
            info = await js.consumer_info(stream, durable)
        latest = await _emit(db, 2)
        async with running_worker(settings, consumers=[consumer]):  # a restart keeps the new durable
            await eventually(lambda: _has_all(db, latest))
        later += latest
    finally:
        await nc.close()
    assert info.config.filter_subject == subject_of(settings, "users.role_changed")
    assert set(calls) == set(later)  # not the three the old durable had acknowledged
    assert not set(handled_before) & set(await _effects(db))


async def _noop(conn: Connection, event: object, envelope: Envelope) -> None:
    return None


async def test_every_stream_is_listed_past_the_servers_page_of_256(private_nats: PrivateServer) -> None:
    nc = await nats.connect(f"nats://127.0.0.1:{private_nats.port}")
    try:
        js = nc.jetstream()
        names = {f"PAGED_{n}" for n in range(300)}
        for name in names:
            config = StreamConfig(name=name, subjects=[f"paged.{name}"], storage=StorageType.MEMORY)
            await js.add_stream(config)
        assert len(await js.streams_info()) < len(names)  # what one request answers
        assert {s.config.name for s in await all_streams(js)} == names
    finally:
        await nc.close()

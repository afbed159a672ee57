"""Domain events: the one table of event types, the envelope, the outbox and the streams.

Every durable event is ``citadel.<domain>.<event>`` (past tense) with one Struct for its data,
listed in ``EVENT_TYPES`` below. A service calls ``emit(conn, event, aggregate_id=...)`` inside
its transaction; the event is an outbox row numbered within its aggregate, committed or rolled
back with the change it describes. The relay publishes it to the domain's JetStream stream in an
envelope ``{id, type, aggregateId, sequence, occurredAt, data}``, with the event id as
``Nats-Msg-Id`` so the stream drops a republished duplicate.

Ephemeral messages (cache invalidations, live pushes) use core NATS under ``citadel.cache.>`` and
``citadel.live.>``; no stream captures them, because streams are per domain.
"""

import uuid
from datetime import datetime

import msgspec
from nats.js import JetStreamContext, JetStreamManager
from nats.js.api import ConsumerInfo, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import NotFoundError

from citadel.auth import models as auth_models
from citadel.bulk import models as bulk_models
from citadel.catalog import models as catalog_models
from citadel.inventory import models as inventory_models
from citadel.kit.db import Connection, load_queries
from citadel.kit.ids import uuid7, uuid7s
from citadel.kit.structs import Event
from citadel.orders import models as orders_models
from citadel.payments import models as payments_models
from citadel.settings import Settings
from citadel.users import models as users_models
from citadel.vendors import models as vendors_models

Q = load_queries(__file__)

# The table of durable events: type (the subject after "citadel.") -> data Struct.
EVENT_TYPES: dict[str, type[Event]] = {
    "auth.password_reset_requested": auth_models.PasswordResetRequested,
    "auth.email_verification_requested": auth_models.EmailVerificationRequested,
    "auth.password_changed": auth_models.PasswordChanged,
    "users.registered": users_models.UserRegistered,
    "users.role_changed": users_models.UserRoleChanged,
    "users.deactivated": users_models.UserDeactivated,
    "users.reactivated": users_models.UserReactivated,
    "catalog.product_created": catalog_models.ProductCreated,
    "catalog.product_updated": catalog_models.ProductUpdated,
    "catalog.product_archived": catalog_models.ProductArchived,
    "catalog.price_changed": catalog_models.PriceChanged,
    "catalog.stock_status_changed": catalog_models.StockStatusChanged,
    "catalog.category_changed": catalog_models.CategoryChanged,
    "inventory.reserved": inventory_models.StockReserved,
    "inventory.released": inventory_models.StockReleased,
    "inventory.restocked": inventory_models.StockRestocked,
    "inventory.stock_changed": inventory_models.StockChanged,
    "inventory.stock_low": inventory_models.StockLow,
    "orders.placed": orders_models.OrderPlaced,
    "orders.status_changed": orders_models.OrderStatusChanged,
    "orders.paid": orders_models.OrderPaid,
    "orders.cancelled": orders_models.OrderCancelled,
    "payments.pending": payments_models.PaymentPending,
    "payments.action_required": payments_models.PaymentActionRequired,
    "payments.authorized": payments_models.PaymentAuthorized,
    "payments.captured": payments_models.PaymentCaptured,
    "payments.failed": payments_models.PaymentFailed,
    "payments.voided": payments_models.PaymentVoided,
    "payments.refunded": payments_models.PaymentRefunded,
    "vendors.applied": vendors_models.VendorApplied,
    "vendors.status_changed": vendors_models.VendorStatusChanged,
    "vendors.payout_created": vendors_models.PayoutCreated,
    "vendors.payout_settled": vendors_models.PayoutSettled,
    "vendors.bulk_job_queued": bulk_models.BulkJobQueued,
    "vendors.bulk_job_finished": bulk_models.BulkJobFinished,
}
EVENT_NAMES: dict[type[Event], str] = {struct: name for name, struct in EVENT_TYPES.items()}
DOMAINS: tuple[str, ...] = tuple(sorted({name.split(".", 1)[0] for name in EVENT_TYPES}))


class Envelope(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    type: str
    aggregate_id: str
    sequence: int
    occurred_at: datetime
    data: msgspec.Raw


envelope_encoder = msgspec.json.Encoder()
envelope_decoder = msgspec.json.Decoder(Envelope)


def decode_data(envelope: Envelope) -> Event:
    """The typed data of an envelope (``KeyError`` for a type this code does not know)."""
    return msgspec.json.decode(envelope.data, type=EVENT_TYPES[envelope.type])


async def emit(conn: Connection, event: Event, *, aggregate_id: uuid.UUID | str) -> uuid.UUID:
    """Write ``event`` to the outbox in the caller's transaction; returns the event id."""
    event_id = uuid7()
    conn.wake_relay_after_commit()
    await conn.execute(Q.insert_outbox_event, event_id, EVENT_NAMES[type(event)], str(aggregate_id), event)
    return event_id


async def emit_many(conn: Connection, events: list[tuple[Event, uuid.UUID | str]]) -> list[uuid.UUID]:
    """Write several (event, aggregate id) pairs to the outbox in one statement, in order."""
    ids = uuid7s(len(events))
    conn.wake_relay_after_commit()
    await conn.execute(
        Q.insert_outbox_events,
        ids,
        [EVENT_NAMES[type(event)] for event, _ in events],
        [str(aggregate) for _, aggregate in events],
        [event for event, _ in events],
    )
    return ids


class OutboxRows(msgspec.Struct, frozen=True):
    """Events about aggregates made in the caller's transaction, as the columns of their outbox
    rows and of their aggregates' ``event_sequences`` rows, for a statement of the caller's that
    writes them beside its own rows (see ``new_aggregate_events``)."""

    ids: list[uuid.UUID]
    types: list[str]
    aggregates: list[str]
    sequences: list[int]
    data: list[Event]
    sequence_aggregates: list[str]
    last_sequences: list[int]


def new_aggregate_events(conn: Connection, events: list[tuple[Event, uuid.UUID]]) -> OutboxRows:
    """The outbox rows of (event, aggregate id) pairs whose aggregates are new in this transaction:
    each aggregate's events are numbered 1, 2, ... in the order given, and its sequence row is
    inserted, not updated (an aggregate that already had events fails the insert on the sequence
    table's key, so nothing is numbered twice). The relay is woken once the transaction commits."""
    conn.wake_relay_after_commit()
    counts: dict[str, int] = {}
    sequences = []
    for _, aggregate in events:
        key = str(aggregate)
        counts[key] = counts.get(key, 0) + 1
        sequences.append(counts[key])
    return OutboxRows(
        ids=uuid7s(len(events)),
        types=[EVENT_NAMES[type(event)] for event, _ in events],
        aggregates=[str(aggregate) for _, aggregate in events],
        sequences=sequences,
        data=[event for event, _ in events],
        sequence_aggregates=list(counts),
        last_sequences=list(counts.values()),
    )


def subject_of(settings: Settings, event_type: str) -> str:
    return settings.subject(f"citadel.{event_type}")


def stream_config(settings: Settings, domain: str) -> StreamConfig:
    return StreamConfig(
        name=settings.stream_name(domain),
        subjects=[settings.subject(f"citadel.{domain}.>")],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=settings.jetstream_replicas,
        duplicate_window=float(settings.jetstream_duplicate_window_s),
        max_age=float(settings.jetstream_max_age_days * 86400),
    )


async def all_streams(js: JetStreamManager) -> list[StreamInfo]:
    """Every stream of the account: the server lists them a page (256) at a time."""
    found: list[StreamInfo] = []
    while page := await js.streams_info(offset=len(found)):
        found.extend(page)
    return found


async def namespace_consumers(js: JetStreamManager, settings: Settings) -> list[tuple[str, ConsumerInfo]]:
    """(stream, consumer) for every durable consumer on this namespace's streams."""
    found: list[tuple[str, ConsumerInfo]] = []
    for domain in DOMAINS:
        stream = settings.stream_name(domain)
        try:
            found.extend((stream, consumer) for consumer in await js.consumers_info(stream))
        except NotFoundError:
            continue
    return found


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the stream of every domain that has events (idempotent)."""
    for domain in DOMAINS:
        config = stream_config(settings, domain)
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)

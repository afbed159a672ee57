"""Configuration: ``CITADEL_*`` environment variables read once into a frozen ``Settings``.

``Settings.from_env(mapping)`` is a pure function of the mapping it is given; nothing here reads
the environment at import time. Every field ``x`` is set by ``CITADEL_X`` (upper case). Lists are
comma-separated. Secrets are wrapped in ``Secret`` so that no repr, log line or error message
ever shows them.
"""

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

ENV_PREFIX = "CITADEL_"


class Secret:
    """A string that never shows itself in a repr or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(ValueError):
    """One or more ``CITADEL_*`` variables are missing or malformed (all are listed)."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # where it runs
    env: Literal["development", "test", "production"] = "development"
    # prefix of every Redis key and NATS stream, subject and consumer: isolates tenants and test runs
    namespace: str = ""
    data_dir: str = ".citadel"
    storefront_url: str = "http://127.0.0.1:3000"

    # PostgreSQL; the direct address (no PgBouncer) serves advisory locks and migrations
    database_url: Secret
    database_direct_url: Secret | None = None
    database_pool_size: int = 16
    # connections per API worker for searches (generic plans), so at most this many searches at
    # once: a queue in the worker, first come first served, instead of more searches sharing
    # PostgreSQL's cores (measured: p95 42-44 ms with 2 or 3, 45-54 ms with 4, 53 ms with 6)
    database_search_pool_size: int = 3
    worker_pool_size: int = 8
    database_command_timeout_s: float = 30.0

    redis_url: Secret
    redis_timeout_ms: int = 250

    nats_url: Secret
    jetstream_replicas: int = 1
    jetstream_duplicate_window_s: int = 1200
    jetstream_max_age_days: int = 7

    # secrets shared by every worker and replica
    jwt_secret: Secret
    csrf_secret: Secret
    cursor_secret: Secret

    # auth
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 7 * 86400
    password_reset_ttl_s: int = 3600
    email_verification_ttl_s: int = 86400
    email_verification_resend_s: int = 60
    lockout_threshold: int = 5
    lockout_window_s: int = 1800
    lockout_duration_s: int = 900
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    password_hash_parallelism: int = 4
    auth_cache_ttl_s: int = 600
    auth_cache_fallback_ttl_s: int = 5
    cookie_secure: bool | None = None
    cookie_domain: str | None = None
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"

    # HTTP edge
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    bulk_max_body_bytes: int = 64 * 1_048_576  # a synchronous bulk call
    bulk_job_max_bytes: int = 1024 * 1_048_576  # a bulk job's file
    gzip_min_bytes: int = 1024
    hsts_seconds: int | None = None

    # rate limits (per client IP)
    rate_limit_enabled: bool = True
    rate_limit_api_per_second: int = 100
    rate_limit_auth_per_second: int = 10
    rate_limit_auth_burst: int = 10
    rate_limit_sync_interval_ms: int = 100

    # catalog reads: pre-encoded responses in the worker's memory and in Redis ("none": no cache)
    cache_tiers: tuple[Literal["memory", "redis", "none"], ...] = ("memory", "redis")
    cache_memory_ttl_s: float = 3600.0
    cache_memory_fallback_ttl_s: float = 5.0
    cache_redis_ttl_s: int = 3600
    cache_memory_max_entries: int = 20_000
    cache_memory_max_mib: int = 128
    catalog_http_max_age_s: int = 30
    default_currency: str = "USD"  # the currency of price filters that name none

    # search
    search_backend: Literal["postgres", "elasticsearch"] = "postgres"
    elasticsearch_url: Secret | None = None
    elasticsearch_index: str = "products"
    search_stats_flush_s: float = 5.0

    # selling: totals, carts, checkout and payments
    prices_include_tax: bool = False  # catalog prices hold their tax (VAT style) or get it added
    rounding_policy: Literal["half_up", "half_even", "down", "up"] = "half_up"  # per line
    guest_cart_ttl_days: int = 30
    cart_max_lines: int = 100
    cart_max_quantity: int = 999  # units of one line
    checkout_retries: int = 3  # on serialization failures and deadlocks (a stock row that moved adds one)
    idempotency_ttl_h: int = 24
    payment_hold_test_s: int = 900  # how long stock is held for an unpaid order, per provider
    payment_hold_manual_s: int = 3 * 86400
    hold_sweep_interval_s: float = 5.0
    # a file the worker touches every few seconds while all its tasks run and PostgreSQL and NATS
    # answer (`citadel worker-alive` checks it: a container's health check)
    worker_heartbeat_path: str | None = None
    live_origins: tuple[str, ...] = ()  # allowed Origins of /ws besides the storefront and CORS ones

    # vendors' bulk jobs
    bulk_job_chunk_rows: int = 5000  # rows a worker applies per transaction (its checkpoint)
    bulk_job_lease_s: float = 30.0  # a job whose worker stops renewing this long is resumed by another
    bulk_job_poll_s: float = 5.0  # how often idle workers look for jobs besides the JetStream wake-up

    # events
    outbox_batch_size: int = 500
    outbox_poll_interval_ms: int = 1000
    outbox_linger_ms: int = 10  # a woken relay waits this long, so the commits meanwhile share a batch
    outbox_retention_days: int = 7
    consumer_max_attempts: int = 6
    consumer_backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    consumer_batch_size: int = 32
    consumer_concurrency: int = 2  # aggregates a consumer handles at once (each one's events in order)
    consumer_ack_wait_s: float = 30.0

    # observability
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = False
    metrics_dir: str | None = None

    # --- derived values ---------------------------------------------------------------------

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.env == "production"

    @property
    def hsts(self) -> int:
        return (
            self.hsts_seconds
            if self.hsts_seconds is not None
            else (31_536_000 if self.env == "production" else 0)
        )

    @property
    def direct_database_url(self) -> str:
        return (self.database_direct_url or self.database_url).reveal()

    def subject(self, name: str) -> str:
        """A NATS subject in this namespace (``citadel.auth.x`` → ``<ns>.citadel.auth.x``)."""
        return f"{self.namespace}.{name}" if self.namespace else name

    def stream_name(self, domain: str) -> str:
        base = f"CITADEL_{domain.upper()}"
        return f"{self.namespace.upper()}_{base}" if self.namespace else base

    def consumer_name(self, name: str) -> str:
        return f"{self.namespace}_{name}" if self.namespace else name

    def index_name(self, base: str) -> str:
        """An Elasticsearch index or alias name in this namespace (lower case, as ES requires)."""
        return f"{self.namespace.lower()}_{base}" if self.namespace else base

    def redis_key(self, key: str) -> str:
        return f"{self.namespace}:citadel:{key}" if self.namespace else f"citadel:{key}"

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> "Settings":
        """Read every field from ``CITADEL_<FIELD>``; ``overrides`` win (used by tests and tools)."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field in msgspec.structs.fields(cls):
            var = ENV_PREFIX + field.name.upper()
            if field.name in overrides:
                values[field.name] = overrides[field.name]
                continue
            raw = environ.get(var)
            if raw is None or raw == "":
                if field.required:
                    problems.append(f"{var} is not set")
                continue
            try:
                values[field.name] = _parse(raw, field.type)
            except (msgspec.ValidationError, ValueError) as exc:
                problems.append(f"{var}: {exc}")
        if problems:
            raise SettingsError("; ".join(problems))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        problems: list[str] = []
        if not self.namespace.replace("_", "").isalnum() and self.namespace:
            problems.append("CITADEL_NAMESPACE may hold letters, digits and underscores only")
        if self.database_pool_size < 1:
            problems.append("CITADEL_DATABASE_POOL_SIZE must be at least 1")
        if self.database_search_pool_size < 1:
            problems.append("CITADEL_DATABASE_SEARCH_POOL_SIZE must be at least 1")
        if self.env == "production":
            problems.extend(
                f"CITADEL_{name.upper()} must hold at least 32 characters in production"
                for name in ("jwt_secret", "csrf_secret", "cursor_secret")
                if len(getattr(self, name).reveal()) < 32
            )
        if not (len(self.default_currency) == 3 and self.default_currency.isalpha()):
            problems.append("CITADEL_DEFAULT_CURRENCY is an ISO 4217 code such as USD")
        if "none" in self.cache_tiers and len(self.cache_tiers) > 1:
            problems.append("CITADEL_CACHE_TIERS is 'none' alone, or a list of memory and redis")
        if self.search_backend == "elasticsearch" and self.elasticsearch_url is None:
            problems.append("CITADEL_ELASTICSEARCH_URL is needed when CITADEL_SEARCH_BACKEND=elasticsearch")
        if not self.consumer_backoff_s:
            problems.append("CITADEL_CONSUMER_BACKOFF_S needs at least one delay")
        if self.consumer_concurrency < 1:
            problems.append("CITADEL_CONSUMER_CONCURRENCY must be at least 1")
        if not 0 <= self.outbox_linger_ms < self.outbox_poll_interval_ms:
            problems.append("CITADEL_OUTBOX_LINGER_MS is 0 or more, and less than the poll interval")
        if problems:
            raise SettingsError("; ".join(problems))


def _parse(raw: str, annotation: Any) -> Any:
    """Convert one variable's text to its field's type (lists are comma-separated)."""
    if annotation is Secret or annotation == Secret | None:
        return Secret(raw)
    origin = getattr(annotation, "__origin__", None)
    if origin is tuple:
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return msgspec.convert(items, annotation, strict=False)
    return msgspec.convert(raw, annotation, strict=False)

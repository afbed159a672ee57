"""Metrics: per-process counting, merged across processes for a scrape, in Prometheus text format."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from citadel.kit.observability import HTTP_REQUESTS, Metrics, MetricSpec, prepare_metrics_dir
from citadel.worker import Worker
from tests.fixtures.app import AppClient, eventually
from tests.fixtures.catalog import unique
from tests.fixtures.commerce import add, checkout, guest, open_shop, ship_to, stocked_product

ORDERS = MetricSpec("citadel_test_orders", "Orders.", "counter", ("currency",))


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_snapshots_of_every_process_are_merged(tmp_path: Path) -> None:
    prepare_metrics_dir(tmp_path)
    here = Metrics(tmp_path, [ORDERS])
    here.observe_request("/a", "GET", 200, 0.003)
    here.inc(ORDERS, ("EUR",), 2)
    # a process that has exited: its counters still count, its gauges do not
    gone = Metrics(tmp_path, [ORDERS])
    gone.pid = _dead_pid()
    gone.observe_request("/a", "GET", 200, 0.2)
    gone.inc(ORDERS, ("EUR",), 3)
    gone.add_gauge_source(lambda: [(here.specs["citadel_db_pool_connections"], ("in_use",), 7.0)])
    (tmp_path / f"{gone.pid}.msgpack").write_bytes(_encode(gone))
    samples = _samples(here.render())
    assert (
        samples[("citadel_http_requests_total", (("method", "GET"), ("route", "/a"), ("status", "200")))] == 2
    )
    assert samples[("citadel_test_orders_total", (("currency", "EUR"),))] == 5
    assert samples[("citadel_http_request_duration_seconds_count", (("method", "GET"), ("route", "/a")))] == 2
    assert (
        samples[
            (
                "citadel_http_request_duration_seconds_bucket",
                (("le", "0.005"), ("method", "GET"), ("route", "/a")),
            )
        ]
        == 1
    )
    assert (
        samples[
            (
                "citadel_http_request_duration_seconds_bucket",
                (("le", "0.25"), ("method", "GET"), ("route", "/a")),
            )
        ]
        == 2
    )
    assert ("citadel_db_pool_connections", (("state", "in_use"),)) not in samples


def _encode(metrics: Metrics) -> bytes:
    from citadel.kit.observability import _snapshot_encoder

    return _snapshot_encoder.encode(metrics.snapshot())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_snapshots_are_cleared_at_start(tmp_path: Path) -> None:
    (tmp_path / "123.msgpack").write_bytes(b"old")
    prepare_metrics_dir(tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_metrics_endpoint_counts_requests_by_route_template(client: AppClient) -> None:
    for _ in range(3):
        await client.get("/api/v1/info")
    await client.get("/api/v1/me/addresses/01a211c5-00bf-78e9-886e-80f117433178")
    text = (await client.get("/metrics")).content
    samples = _samples(text)
    info = samples[
        ("citadel_http_requests_total", (("method", "GET"), ("route", "/api/v1/info"), ("status", "200")))
    ]
    assert info >= 3
    assert (
        "citadel_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/me/addresses/{address_id}"), ("status", "401")),
    ) in samples
    assert (
        samples[("citadel_db_pool_connections", (("state", "max"),))]
        == client.runtime.settings.database_pool_size + client.runtime.settings.database_search_pool_size
    )
    assert HTTP_REQUESTS.name + "_total" in text.decode()
    assert os.getpid() == client.runtime.metrics.pid


async def test_business_metrics_and_shared_gauges(client: AppClient, worker: Worker) -> None:
    """Orders, revenue, refused checkouts, cart additions and searches are counted where they
    happen; the outbox and the JetStream consumers are read at scrape time."""
    shop = await open_shop(client)
    _, variant = await stocked_product(client, shop, price=1_250, stock=(5,))

    def value(samples: dict[Any, float], name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    before = _samples((await client.get("/metrics")).content)
    shopper = await guest(client)
    await add(client, shopper, variant, 2)
    cart = await ship_to(client, shopper, shop)
    refused = await checkout(client, shopper, cart["totals"]["totalAmount"] + 1)
    assert refused.status_code == 409
    placed = await checkout(client, shopper, cart["totals"]["totalAmount"])
    assert placed.status_code == 201, placed.text
    await client.get("/api/v1/search", params={"q": unique("nothingmatches").replace("-", "")})
    after = _samples((await client.get("/metrics")).content)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("citadel_orders_created_total", currency="USD") == 1
    assert grew("citadel_revenue_minor_units_total", currency="USD") == cart["totals"]["totalAmount"]
    assert grew("citadel_checkout_failures_total", reason="price_changed") == 1
    assert grew("citadel_cart_additions_total") == 1
    assert grew("citadel_search_queries_total", result="zero") == 1
    assert value(after, "citadel_scrape_source_up", source="outbox") == 1
    assert value(after, "citadel_scrape_source_up", source="jetstream") == 1
    assert ("citadel_outbox_backlog_events", ()) in after and (
        "citadel_outbox_oldest_event_age_seconds",
        (),
    ) in after

    async def consumers_reported() -> set[str]:
        # the worker makes its durable consumers once NATS answers; a scrape reports them from then
        samples = _samples((await client.get("/metrics")).content)
        return {
            dict(labels)["consumer"]
            for (name, labels) in samples
            if name == "citadel_jetstream_consumer_pending_messages"
        }

    assert await eventually(consumers_reported, timeout=10), "the worker's durable consumers are reported"

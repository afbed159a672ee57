"""Citadel's Grafana dashboards (system, application, database, business), written as JSON
beside this file for Grafana's file provisioning. Run after changing a panel:

    python deploy/grafana/dashboards.py

A test checks that the JSON files are what this writes and that every expression names metrics
the API exports.
"""

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "citadel-prometheus"}
LATENCY_BY_LE = "sum by (le) (rate(citadel_http_request_duration_seconds_bucket[5m]))"

# (title, unit, [(legend, PromQL)]) per panel, per dashboard
DASHBOARDS: dict[str, tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = {
    "citadel-system": (
        "Citadel · System",
        [
            ("Replicas answering scrapes", "short", [("up", 'sum(up{job="citadel-api"})')]),
            ("Requests per second by replica", "reqps", [
                ("{{instance}}", "sum by (instance) (rate(citadel_http_requests_total[1m]))"),
            ]),
            ("Scrape-time sources", "short", [("{{source}}", "min by (source) (citadel_scrape_source_up)")]),
            ("Database connections in use by replica", "short", [
                ("{{instance}}", 'sum by (instance) (citadel_db_pool_connections{state="in_use"})'),
            ]),
        ],
    ),
    "citadel-application": (
        "Citadel · Application",
        [
            ("Requests per second by status", "reqps", [
                ("{{status}}", "sum by (status) (rate(citadel_http_requests_total[1m]))"),
            ]),
            ("Error rate (5xx)", "percentunit", [(
                "5xx",
                'sum(rate(citadel_http_requests_total{status=~"5.."}[5m]))'
                " / clamp_min(sum(rate(citadel_http_requests_total[5m])), 1e-9)",
            )]),
            ("Latency p50 / p95 / p99", "s", [
                (f"p{q}", f"histogram_quantile(0.{q}, {LATENCY_BY_LE})")
                for q in ("50", "95", "99")
            ]),
            ("Slowest routes (p95)", "s", [(
                "{{route}}",
                "topk(10, histogram_quantile(0.95, sum by (le, route)"
                " (rate(citadel_http_request_duration_seconds_bucket[5m]))))",
            )]),
            ("Cache hit ratio by tier", "percentunit", [(
                "{{tier}}",
                'sum by (tier) (rate(citadel_cache_lookups_total{result="hit"}[5m]))'
                " / clamp_min(sum by (tier) (rate(citadel_cache_lookups_total[5m])), 1e-9)",
            )]),
            ("Cache lookups by topic and result", "ops", [
                (
                    "{{topic}} {{tier}} {{result}}",
                    "sum by (topic, tier, result) (rate(citadel_cache_lookups_total[5m]))",
                ),
            ]),
        ],
    ),
    "citadel-database": (
        "Citadel · Database and events",
        [
            ("Pool saturation", "percentunit", [(
                "{{instance}}",
                'sum by (instance) (citadel_db_pool_connections{state="in_use"})'
                ' / clamp_min(sum by (instance) (citadel_db_pool_connections{state="max"}), 1)',
            )]),
            ("Pool connections by state", "short", [
                ("{{state}}", "sum by (state) (citadel_db_pool_connections)"),
            ]),
            ("Outbox backlog", "short", [("events", "max(citadel_outbox_backlog_events)")]),
            ("Oldest unpublished event", "s", [("age", "max(citadel_outbox_oldest_event_age_seconds)")]),
            ("JetStream consumer lag", "short", [
                ("{{consumer}}", "max by (stream, consumer) (citadel_jetstream_consumer_pending_messages)"),
            ]),
            ("Delivered, not yet acknowledged", "short", [
                (
                    "{{consumer}}",
                    "max by (stream, consumer) (citadel_jetstream_consumer_ack_pending_messages)",
                ),
            ]),
        ],
    ),
    "citadel-business": (
        "Citadel · Business",
        [
            ("Orders per minute", "short", [
                ("{{currency}}", "sum by (currency) (rate(citadel_orders_created_total[5m])) * 60"),
            ]),
            ("Revenue per hour (minor units)", "short", [
                ("{{currency}}", "sum by (currency) (rate(citadel_revenue_minor_units_total[1h])) * 3600"),
            ]),
            ("Checkout refusals by reason", "short", [
                ("{{reason}}", "sum by (reason) (rate(citadel_checkout_failures_total[5m])) * 60"),
            ]),
            ("Cart additions per minute", "short", [
                ("adds", "sum(rate(citadel_cart_additions_total[5m])) * 60"),
            ]),
            ("Searches per second", "ops", [
                ("{{result}}", "sum by (result) (rate(citadel_search_queries_total[5m]))"),
            ]),
            ("Zero-result search rate", "percentunit", [(
                "zero results",
                'sum(rate(citadel_search_queries_total{result="zero"}[15m]))'
                " / clamp_min(sum(rate(citadel_search_queries_total[15m])), 1e-9)",
            )]),
        ],
    ),
}  # fmt: skip


def dashboard(uid: str, title: str, panels: list[tuple[str, str, list[tuple[str, str]]]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["citadel"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "panels": [
            {
                "id": n + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (n % 2), "y": 8 * (n // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(65 + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for i, (legend, expr) in enumerate(targets)
                ],
            }
            for n, (panel_title, unit, targets) in enumerate(panels)
        ],
    }


def rendered() -> dict[str, str]:
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (HERE / name).write_text(text)
        print(f"wrote {HERE / name}")  # noqa: T201 - a command's report

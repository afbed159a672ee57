"""The real server: Granian with two workers, metrics merged across them, graceful stop."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from citadel.settings import Settings
from tests.fixtures.servers import free_port, server_env, wait_for_port


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = server_env(
        settings, tmp_path, CITADEL_METRICS_DIR=str(metrics_dir), CITADEL_RATE_LIMIT_API_PER_SECOND="100000"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "citadel", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}", metrics_dir
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def _total(text: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "citadel_http_requests_total" and sample.labels.get("route") == route
    )


def test_metrics_count_every_worker(served: tuple[str, Path]) -> None:
    base, metrics_dir = served
    with httpx.Client(base_url=base, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        sent = 0
        deadline = time.monotonic() + 20
        # a fresh connection each time; the kernel may hand a burst to one worker, so go on
        # until both have answered (each then keeps a snapshot)
        while sent < 200 or (len(list(metrics_dir.glob("*.msgpack"))) < 2 and time.monotonic() < deadline):
            assert http.get("/api/v1/info").status_code == 200
            sent += 1
            if sent >= 200:
                time.sleep(0.05)
        deadline = time.monotonic() + 5
        while True:
            text = http.get("/metrics").text
            if _total(text, "/api/v1/info") == sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _total(text, "/api/v1/info") == sent
        assert len(list(metrics_dir.glob("*.msgpack"))) == 2  # one snapshot per worker
        pool = {
            s.labels["state"]: s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "citadel_db_pool_connections"
        }
        assert pool["max"] == 12  # 2 workers x (4 + 2 for searches)
        assert http.get("/readyz").json()["status"] == "ready"

"""The ops dashboard, rendered by headless Chromium: every chart is drawn with every point of the
store, the numbers on the page are the store's, and a regression beyond 10% is flagged."""

import json
import shutil
import statistics
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _wrk(
    run: str, date: str, rnd: int, case: str, rps: float, p95: float, suite: str = "catalog"
) -> dict[str, Any]:
    return {
        "run": run, "date": date, "round": rnd, "suite": suite, "case": case, "commit": "abc1234",
        "tool": "wrk", "rps": rps, "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5},
        "error_count": 0,
    }  # fmt: skip


def _store(path: Path) -> list[dict[str, Any]]:
    records = []
    for run, day, scale in (("r1", "2026-11-30", 1.0), ("r2", "2026-12-01", 1.0)):
        for rnd in (1, 2, 3):
            date = f"{day}T10:0{rnd}:00+00:00"
            records += [
                _wrk(run, date, rnd, "a_rsgi", 60_000 + rnd * 100, 1.2),
                _wrk(run, date, rnd, "b_struct", 30_000 + rnd * 100, 3.0),
                _wrk(run, date, rnd, "c_pk", 11_000 + rnd * 10, 9.0),
                # detail_memory holds steady; search falls by a third in the second run
                _wrk(run, date, rnd, "detail_memory", 21_000 + rnd * 50, 5.0),
                _wrk(run, date, rnd, "search", (450 if run == "r1" else 300) + rnd, 90.0 * scale),
            ]
    records += [
        {"run": "k1", "date": "2026-12-01T11:00:00+00:00", "suite": "kernels", "case": "kernel_tax_10k",
         "tool": "pytest-benchmark", "compiled_median_s": 9e-5, "pure_median_s": 8.1e-3, "speedup": 90.0,
         "ns_per_line": 9.0, "lines": 10_000},
        {"run": "b1", "date": "2026-12-01T12:00:00+00:00", "suite": "bulk", "case": "bulk_prices",
         "tool": "httpx", "rows": 10_000, "server_ms": 581.3, "rows_per_s": 17_203},
        {"run": "l1", "date": "2026-12-01T13:00:00+00:00", "suite": "load", "case": "locust_mixed",
         "profile": "mixed", "tool": "locust", "load": {"users": 600, "duration_s": 60}, "rps": 1234.5,
         "latency_ms": {"p50": 12.0, "p95": 41.0, "p99": 80.0}, "error_count": 0,
         "locust_cpu_percent": 61.5, "verdict": "pass", "ceilings": {"c_pk": 8_000.0}, "of_c_pk": 0.1543},
        {"run": "l1", "date": "2026-12-01T12:59:00+00:00", "suite": "load", "case": "c_pk", "tool": "wrk",
         "rps": 8_000.0, "latency_ms": {"p50": 5.0, "p95": 15.0, "p99": 40.0}, "error_count": 0},
    ]  # fmt: skip
    lines = [json.dumps(r) for r in records]
    path.write_text("\n".join([*lines[:3], "not json", *lines[3:]]) + "\n")  # a torn line is skipped
    return records


class _Dom(HTMLParser):
    """Charts (figures and their points) and table rows, as the browser left them."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []
        self.body: dict[str, str | None] = {}
        self._figure: str | None = None
        self._row: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "figure" and "chart" in (a.get("class") or ""):
            self._figure = a["id"] or ""
            self.figures[self._figure] = {"drawn": a.get("data-drawn"), "points": 0, "svg": False}
        elif self._figure and tag == "svg":
            self.figures[self._figure]["svg"] = True
        elif self._figure and tag == "circle" and a.get("class") == "point":
            self.figures[self._figure]["points"] += 1
        elif tag == "tr" and a.get("data-case"):
            self._row = {"attrs": a, "values": []}
            self.rows.append(self._row)
        elif self._row is not None and tag == "td":
            self._row["values"].append(float(a["data-value"]) if a.get("data-value") else None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        elif tag == "tr":
            self._row = None


def _render(tmp_path: Path) -> tuple[list[dict[str, Any]], _Dom]:
    assert CHROMIUM, "the dashboard test needs Debian's chromium (.ci/run installs it)"
    store, page = tmp_path / "results.jsonl", tmp_path / "dashboard.html"
    records = _store(store)
    made = subprocess.run(
        [sys.executable, "-m", "bench", "dashboard", "--store", str(store), "--out", str(page)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "http" not in page.read_text().split("<body", 1)[1].replace("http://www.w3.org/2000/svg", "")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Dom()
    parsed.feed(dom.stdout)
    return records, parsed


def test_every_chart_is_drawn_with_the_stores_numbers(tmp_path: Path) -> None:
    records, dom = _render(tmp_path)
    assert dom.body.get("data-charts") == "drawn"
    catalog = [r for r in records if r["suite"] == "catalog"]
    expected = {
        "chart-catalog-rps": len(catalog),
        "chart-catalog-p95": len(catalog),
        "chart-kernels-speedup": 1,
        "chart-bulk-server": 1,
        "chart-load-rps": 1,
    }
    assert {k: (f["svg"], f["points"], f["drawn"]) for k, f in dom.figures.items()} == {
        k: (True, n, str(n)) for k, n in expected.items()
    }
    rows = {(r["attrs"]["data-case"], r["attrs"].get("data-metric")): r for r in dom.rows}
    # the latest run's medians and ratios to the ceilings of the same rounds
    latest = [r for r in catalog if r["run"] == "r2"]
    search = statistics.median(r["rps"] for r in latest if r["case"] == "search")
    pk = {r["round"]: r["rps"] for r in latest if r["case"] == "c_pk"}
    of_pk = statistics.median(r["rps"] / pk[r["round"]] * 100 for r in latest if r["case"] == "search")
    # cells: the case, req/s, p95, % of a_rsgi, % of b_struct, % of c_pk
    table = rows[("catalog/search", None)]["values"]
    assert table[1:3] == [search, 90.0] and abs(table[5] - of_pk) < 1e-9
    assert rows[("kernels/kernel_tax_10k", None)]["values"][1:4] == [9e-5, 8.1e-3, 90.0]
    assert rows[("bulk/bulk_prices", None)]["values"][1:4] == [10_000, 581.3, 17_203]
    load = rows[("load/locust_mixed", None)]  # date, profile, users, seconds, req/s, p50, p95, p99,
    # failures, Locust CPU %, the share of the run's own c_pk ceiling
    assert load["values"][4:8] == [1234.5, 12.0, 41.0, 80.0] and load["attrs"]["class"] == "pass"
    assert load["values"][10] == pytest.approx(15.43)
    assert ("load/c_pk", None) not in rows  # the run's ceiling is no Locust run


def test_a_drop_beyond_ten_percent_is_flagged(tmp_path: Path) -> None:
    _, dom = _render(tmp_path)
    flags = {
        (r["attrs"]["data-case"], r["attrs"]["data-metric"]): r["attrs"]["class"]
        for r in dom.rows
        if r["attrs"].get("data-metric")
    }
    assert flags[("catalog/search", "req/s")] == "regression"
    assert flags[("catalog/detail_memory", "req/s")] == "steady"
    assert flags[("catalog/search", "p95")] == "steady"
    before = statistics.median([451, 452, 453])
    after = statistics.median([301, 302, 303])
    search = next(
        r
        for r in dom.rows
        if r["attrs"].get("data-metric") == "req/s" and r["attrs"]["data-case"] == "catalog/search"
    )
    assert search["values"][3:6] == [before, after, (after - before) / before]  # after suite, case, measure

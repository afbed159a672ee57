"""The load suites and the micro-benchmarks never rot: CI runs a short smoke of every Locust
profile against a served Citadel (its own gate file, a temporary store) and the kernel
benchmarks in their fast mode. Gate judging and Locust's CSV are checked on their own too."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.runner import Gates, Totals, judge, read_stats

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("browse", "shop", "buy", "vendor", "admin", "mixed")


def test_gates_name_every_miss() -> None:
    gates = Gates(min_rps=1000, max_p95_ms=200, max_p99_ms=500, max_failure_ratio=0.0)
    good = Totals(requests=90_000, failures=0, rps=1500.0, p50=8, p95=40, p99=90, max=300)
    assert judge(gates, good) == []
    bad = Totals(requests=50_000, failures=5, rps=833.3, p50=80, p95=210, p99=900, max=2000)
    assert judge(gates, bad) == [
        "833.3 req/s is below 1,000",
        "p95 210 ms is above 200 ms",
        "p99 900 ms is above 500 ms",
        "5 of 50,000 requests failed (0.01%, at most 0.00%)",
    ]
    assert "no request was made" in judge(gates, Totals(0, 0, 0.0, 0, 0, 0, 0))
    shipped = {p.name: Gates.load(p) for p in (ROOT / "loadtests" / "gates").glob("*.toml")}
    assert shipped["default.toml"] == Gates(min_rps=1000, max_p95_ms=200, max_p99_ms=500, max_failure_ratio=0)


def test_locust_stats_are_read_with_their_aggregate(tmp_path: Path) -> None:
    header = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,"
        "80%,90%,95%,98%,99%,99.9%,99.99%,100%"
    )
    rows = [
        "GET,/api/v1/products/[slug],900,0,6,7.1,2,80,2100,15.0,0.0,6,7,8,9,12,20,30,40,70,80,80",
        "POST,/api/v1/checkout,100,1,40,45.0,20,300,900,1.7,0.02,40,45,50,55,70,90,150,200,300,300,300",
        ",Aggregated,1000,1,7,10.9,2,300,1980,16.7,0.02,7,8,9,10,15,30,60,95,250,300,300",
    ]
    path = tmp_path / "locust_stats.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    totals, endpoints = read_stats(path)
    assert totals == Totals(requests=1000, failures=1, rps=16.7, p50=7, p95=30, p99=95, max=300)
    assert [(e["method"], e["name"], e["p95"]) for e in endpoints] == [
        ("GET", "/api/v1/products/[slug]", 20),
        ("POST", "/api/v1/checkout", 90),
    ]


@pytest.mark.timeout(400)
def test_every_profile_runs_a_short_smoke(tmp_path: Path) -> None:
    store = tmp_path / "results.jsonl"
    run = subprocess.run(
        [
            sys.executable, "-m", "loadtests", "run", "--profile", ",".join(PROFILES), "--users", "4",
            "--spawn-rate", "4", "--duration", "4", "--gates", "loadtests/gates/smoke.toml",
            "--store", str(store), "--reports", str(tmp_path / "reports"), "--database", "citadel_load_smoke",
            "--products", "300", "--customers", "10", "--sample", "40", "--ceilings-duration", "1",
            "--warmup", "1",
        ],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=380,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    stored = [json.loads(line) for line in store.read_text().splitlines()]
    ceilings = {r["case"]: r for r in stored if r["tool"] == "wrk"}
    assert set(ceilings) == {"a_rsgi", "b_struct", "c_pk"}
    assert all(c["rps"] > 0 and c["error_count"] == 0 for c in ceilings.values())
    results = [r for r in stored if r["tool"] == "locust"]
    assert [r["profile"] for r in results] == list(PROFILES)
    for r in results:
        assert r["ceilings"] == {name: c["rps"] for name, c in ceilings.items()}
        assert r["of_c_pk"] == pytest.approx(r["rps"] / ceilings["c_pk"]["rps"], abs=1e-4)
        assert (r["suite"], r["tool"], r["verdict"], r["error_count"]) == ("load", "locust", "pass", 0), r
        assert r["requests"] > 0 and r["latency_ms"]["p95"] > 0 and r["locust_cpu_percent"] > 0
        assert Path(r["reports"]["html"]).stat().st_size > 0 and r["endpoints"]
        assert r["run"] == results[0]["run"] and r["machine"]["cpus"] >= 1
    names = {e["name"] for r in results for e in r["endpoints"]}
    assert {"/api/v1/checkout", "/api/v1/vendor/bulk/products", "/api/v1/orders [all]"} <= names


def test_the_kernel_benchmarks_run_in_their_fast_mode(tmp_path: Path) -> None:
    store = tmp_path / "results.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "kernels", "--quick", "--store", str(store)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=110,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    results = [json.loads(line) for line in store.read_text().splitlines()]
    assert {r["case"] for r in results} == {
        "kernel_pricing_10k", "kernel_tax_10k", "kernel_cart_50", "kernel_allocation_20x10",
        "kernel_facets_22k",
    }  # fmt: skip
    assert all(r["speedup"] > 1 and r["compiled_median_s"] > 0 for r in results)

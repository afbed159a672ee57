"""``python -m bench``: Citadel's benchmark cases, each beside the bare ceilings of the same run.

    python -m bench ceilings      the bare ceilings only (Granian RSGI, Litestar + Struct, + one PK read)
    python -m bench foundation    a trivial route of the full app against the same route in bare Litestar
    python -m bench catalog       product pages, list pages and search (cached and not) on 100,000 products
    python -m bench checkout      checkouts per second (3-line carts, 1-line carts, one hot SKU)
                                  beside a bare insert
    python -m bench kernels       the compiled kernels against their twins (pytest-benchmark)
    python -m bench bulk          vendor bulk calls (10,000 products, stock rows, prices) and a
                                  100,000-row job, beside a bare COPY + upsert
    python -m bench dashboard     the results store as one static HTML page (see bench/dashboard.py)
    python -m bench list          the cases

Options: --repeat N (medians of N rounds, default 3), --duration S (default 10), --connections C
(default 64), --store PATH (default bench/results/results.jsonl), --quick (a short smoke run),
--only CASES (comma-separated; the ceilings always run).
Results are appended to the store as JSON lines and summarised with ratios to the ceilings.
"""

import argparse
import statistics
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench import bulk, catalog, checkout, dashboard, environment
from bench.driver import CEILINGS, RESULTS, Load, Server, ceiling_cases, exclusive, machine, measure, record

# name, server, paths, readiness path, load, and options of measure (a script, its files, an
# audit factory called as the case's window starts)
Case = tuple[str, Server, list[str], str, Load, dict[str, Any]]


def _ceilings(env: dict[str, str], load: Load) -> list[Case]:
    return [(*case, {}) for case in ceiling_cases(env, load)]


def _foundation(env: dict[str, str], load: Load) -> list[Case]:
    full = Server("citadel.app:create_app_from_env", factory=True, env=env)
    return [*_ceilings(env, load), ("full_info", full, ["/api/v1/info"], "/readyz", load, {})]


def _catalog(env: dict[str, str], load: Load) -> list[Case]:
    catalog.prepare(env)
    return [*_ceilings(env, load), *((*case, {}) for case in catalog.cases(env, load))]


def _checkout(env: dict[str, str], load: Load) -> list[Case]:
    return [*_ceilings(env, load), *checkout.cases(env, load)]


SUITES: dict[str, Callable[[dict[str, str], Load], list[Case]]] = {
    "ceilings": _ceilings,
    "foundation": _foundation,
    "catalog": _catalog,
    "checkout": _checkout,
}
CASE_NAMES = {
    "ceilings": CEILINGS,
    "foundation": (*CEILINGS, "full_info"),
    "catalog": (*CEILINGS, "detail_memory", "detail_redis", "list_memory", "detail_cold", "search"),
    "checkout": (*CEILINGS, "e_insert", "checkout_3", "checkout_1", "checkout_hot"),
    "kernels": ("pricing_10k", "tax_10k", "cart_50", "allocation_20x10", "facets_22k"),
    "bulk": bulk.CASES,
}


# cases also judged against another case of the same round
RELATIVE_TO = {
    "checkout_3": ("e_insert",),
    "checkout_1": ("e_insert",),
    "checkout_hot": ("e_insert", "checkout_1"),
}


def _summary(rounds: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Medians over rounds, with each case's ratio to the ceilings of its own round."""
    rows = []
    for case in rounds[0]:
        results = [r[case] for r in rounds]
        row: dict[str, Any] = {
            "case": case,
            "connections": results[0]["load"]["connections"],
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in results),
            "p95_ms": statistics.median(r["latency_ms"]["p95"] for r in results),
            "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in results),
            "cpu_us": statistics.median(r["server_cpu_us_per_request"] for r in results),
            "errors": sum(r["error_count"] for r in results),
            # how each round's connections fell to the workers (an uneven split slows a round)
            "split": " ".join("/".join(map(str, r.get("worker_connections") or ["?"])) for r in results),
        }
        for ceiling in CEILINGS:
            if ceiling in rounds[0] and ceiling != case:
                row[f"of_{ceiling}"] = statistics.median(r[case]["rps"] / r[ceiling]["rps"] for r in rounds)
        for base in RELATIVE_TO.get(case, ()):
            if base in rounds[0]:
                row[f"of_{base}"] = statistics.median(r[case]["rps"] / r[base]["rps"] for r in rounds)
        for key in ("orders", "outbox_backlog", "outbox_oldest_s", "consumer_lag", "catch_up_s", "oversold"):
            if key in results[0]:
                row[key] = max(r[key] for r in results) if key != "orders" else sum(r[key] for r in results)
        rows.append(row)
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'case':14} {'conns':>5} {'req/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'µs/req':>7} "
        f"{'of a_rsgi':>9} {'of b_struct':>11} {'of c_pk':>8} {'errors':>6}  workers' connections"
    )
    for row in rows:
        ratios = [
            f"{row[f'of_{c}'] * 100:.1f}%" if f"of_{c}" in row else "-"
            for c in ("a_rsgi", "b_struct", "c_pk")
        ]
        print(
            f"{row['case']:14} {row['connections']:>5} {row['rps']:>9,.0f} {row['p50_ms']:>7.2f} "
            f"{row['p95_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['cpu_us']:>7.0f} {ratios[0]:>9} "
            f"{ratios[1]:>11} {ratios[2]:>8} {row['errors']:>6}  {row['split']}"
        )
    for row in rows:
        extra = {k: v for k, v in row.items() if k.startswith("of_") and k[3:] not in CEILINGS}
        extra.update(
            {
                k: row[k]
                for k in (
                    "orders",
                    "outbox_backlog",
                    "outbox_oldest_s",
                    "consumer_lag",
                    "catch_up_s",
                    "oversold",
                )
                if k in row
            }
        )
        if extra:
            shown = ", ".join(
                f"{k} {v * 100:.1f}%" if k.startswith("of_") else f"{k} {v}" for k, v in extra.items()
            )
            print(f"  {row['case']}: {shown}")


def kernels(store: Path, *, quick: bool) -> int:
    """The kernel micro-benchmarks (pytest-benchmark): compiled against pure, per case."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "benchmark.json"
        rounds = (
            ["--benchmark-min-rounds=3", "--benchmark-max-time=0.2"]
            if quick
            else ["--benchmark-min-rounds=10"]
        )
        suite = str(Path(__file__).with_name("micro") / "test_kernels.py")
        command = [
            sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider",
            f"--benchmark-json={report}", *rounds,
        ]  # fmt: skip
        if subprocess.run(command, check=False).returncode:
            return 1
        results = json.loads(report.read_text())["benchmarks"]
    medians = {(b["extra_info"]["case"], b["extra_info"]["implementation"]): b for b in results}
    records = []
    print(f"{'case':18} {'compiled µs':>12} {'pure µs':>10} {'speed-up':>9} {'ns/line':>8}")
    for case in dict.fromkeys(c for c, _ in medians):
        compiled, pure = medians[(case, "compiled")], medians[(case, "pure")]
        lines = compiled["extra_info"]["lines"]
        fast, slow = compiled["stats"]["median"], pure["stats"]["median"]
        per_line = fast / lines * 1e9
        print(f"{case:18} {fast * 1e6:>12,.1f} {slow * 1e6:>10,.0f} {slow / fast:>8.1f}× {per_line:>8.1f}")
        records.append(
            {
                "case": f"kernel_{case}", "tool": "pytest-benchmark", "lines": lines,
                "compiled_median_s": fast, "pure_median_s": slow, "speedup": round(slow / fast, 2),
                "ns_per_line": round(fast / lines * 1e9, 2), "rounds": compiled["stats"]["rounds"],
            }
        )  # fmt: skip
    record(records, machine(), store, suite="kernels")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dashboard"]:
        return dashboard.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("suite", choices=[*SUITES, "kernels", "bulk", "list"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: checks the cases still run")
    parser.add_argument("--only", default="", help="comma-separated cases to run (the ceilings always run)")
    args = parser.parse_args(argv)
    if args.suite == "kernels":
        return kernels(args.store, quick=args.quick)
    if args.suite == "bulk":
        return bulk.run(args.store, repeat=1 if args.quick else args.repeat, quick=args.quick)
    if args.suite == "list":
        for name, cases in CASE_NAMES.items():
            print(f"{name}: {', '.join(cases)}")
        return 0
    repeat, load = args.repeat, Load(connections=args.connections, duration_s=args.duration)
    if args.quick:
        repeat, load = 1, Load(connections=16, duration_s=2.0, warmup_s=1.0)
    env = environment.prepare()
    cases = SUITES[args.suite](env, load)
    if args.only:
        wanted = set(args.only.split(",")) | set(CEILINGS)
        cases = [case for case in cases if case[0] in wanted]
    rounds: list[dict[str, dict[str, Any]]] = []
    beside = checkout.worker_running(env) if args.suite == "checkout" else nullcontext()
    with exclusive(), beside:
        for round_number in range(1, repeat + 1):
            results = {}
            facts = machine()
            for name, server, paths, ready, case_load, options in cases:
                print(f"round {round_number}/{repeat}: {name} ...", file=sys.stderr, flush=True)
                after = options["after"]() if "after" in options else None
                results[name] = measure(
                    name,
                    server,
                    paths,
                    case_load,
                    ready_path=ready,
                    script=options.get("script", "wrk_report.lua"),
                    script_env=options.get("script_env"),
                    after=after,
                )
            record(list(results.values()), facts, args.store, suite=args.suite, round=round_number)
            rounds.append(results)
    rows = _summary(rounds)
    _print(rows)
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

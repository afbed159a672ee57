"""``python -m bench``: Citadel's benchmark cases, each beside the bare ceilings of the same run.

    python -m bench ceilings      the bare ceilings only (Granian RSGI, Litestar + Struct, + one PK read)
    python -m bench foundation    a trivial route of the full app against the same route in bare Litestar
    python -m bench list          the cases

Options: --repeat N (medians of N rounds, default 3), --duration S (default 10), --connections C
(default 64), --store PATH (default bench/results/results.jsonl), --quick (a short smoke run).
Results are appended to the store as JSON lines and summarised with ratios to the ceilings.
"""

import argparse
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import environment
from bench.apps.bare import ROWS
from bench.driver import RESULTS, Load, Server, exclusive, machine, measure, record

Case = tuple[str, Server, list[str], str]  # name, server, paths, readiness path


def _ceilings(env: dict[str, str]) -> list[Case]:
    ids = random.Random(7).sample(range(1, ROWS + 1), 500)
    return [
        ("a_rsgi", Server("bench.apps.bare:rsgi_app", interface="rsgi"), ["/api/v1/info"], "/"),
        ("b_struct", Server("bench.apps.bare:litestar_struct"), ["/api/v1/info"], "/api/v1/info"),
        (
            "c_pk",
            Server("bench.apps.bare:litestar_pk", env=env),
            [f"/bench/products/{i}" for i in ids],
            "/bench/products/1",
        ),
    ]


def _foundation(env: dict[str, str]) -> list[Case]:
    full = Server("citadel.app:create_app_from_env", factory=True, env=env)
    return [*_ceilings(env), ("full_info", full, ["/api/v1/info"], "/readyz")]


SUITES: dict[str, Callable[[dict[str, str]], list[Case]]] = {"ceilings": _ceilings, "foundation": _foundation}
CEILINGS = ("a_rsgi", "b_struct")


def _summary(rounds: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Medians over rounds, with each case's ratio to the ceilings of its own round."""
    rows = []
    for case in rounds[0]:
        results = [r[case] for r in rounds]
        row: dict[str, Any] = {
            "case": case,
            "rps": statistics.median(r["rps"] for r in results),
            "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in results),
            "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in results),
            "cpu_us": statistics.median(r["server_cpu_us_per_request"] for r in results),
            "errors": sum(r["error_count"] for r in results),
        }
        for ceiling in CEILINGS:
            if ceiling in rounds[0] and ceiling != case:
                row[f"of_{ceiling}"] = statistics.median(r[case]["rps"] / r[ceiling]["rps"] for r in rounds)
        rows.append(row)
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'case':12} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} "
        f"{'% of a_rsgi':>12} {'% of b_struct':>14} {'errors':>7}"
    )
    print(header)
    for row in rows:
        of_a = f"{row['of_a_rsgi'] * 100:.1f}%" if "of_a_rsgi" in row else "-"
        of_b = f"{row['of_b_struct'] * 100:.1f}%" if "of_b_struct" in row else "-"
        print(
            f"{row['case']:12} {row['rps']:>10,.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['cpu_us']:>11.0f} {of_a:>12} {of_b:>14} {row['errors']:>7}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("suite", choices=[*SUITES, "list"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s: checks the cases still run")
    args = parser.parse_args(argv)
    if args.suite == "list":
        for name, suite in SUITES.items():
            print(f"{name}: " + ", ".join(case for case, *_ in suite({})))
        return 0
    repeat, load = args.repeat, Load(connections=args.connections, duration_s=args.duration)
    if args.quick:
        repeat, load = 1, Load(connections=16, duration_s=2.0, warmup_s=1.0)
    env = environment.prepare()
    cases = SUITES[args.suite](env)
    rounds: list[dict[str, dict[str, Any]]] = []
    with exclusive():
        for round_number in range(1, repeat + 1):
            results = {}
            facts = machine()
            for name, server, paths, ready in cases:
                print(f"round {round_number}/{repeat}: {name} ...", file=sys.stderr, flush=True)
                results[name] = measure(name, server, paths, load, ready_path=ready)
            record(list(results.values()), facts, args.store, suite=args.suite, round=round_number)
            rounds.append(results)
    rows = _summary(rounds)
    _print(rows)
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

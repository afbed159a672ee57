"""``python -m loadtests``: run Locust profiles headless, keep their reports, judge them by gates.

    python -m loadtests run --profile mixed --users 600 --duration 60
    python -m loadtests run --profile mixed --host https://shop.example --users 2000 --duration 300
    python -m loadtests run --profile browse,shop,buy,vendor,admin,mixed --users 4 --duration 4 \\
        --gates loadtests/gates/smoke.toml --store /tmp/load/results.jsonl
    python -m loadtests profiles

Without ``--host`` the run serves Citadel itself, the way the benchmarks do: 2 Granian workers,
``citadel relay`` and ``citadel worker --no-relay`` on a database of its own (seeded once with
``--products`` products and ``--customers`` customers), with the API and auth rate limits raised
above the load. A host of your own must be seeded (``citadel seed``) and have its limits raised
likewise (``CITADEL_RATE_LIMIT_*``), or the limiter's 429s count as failures.

A served Citadel starts with cold caches and a cold database; ``--warmup`` seconds of the same
profile run first, unmeasured, so the gates judge a store in its steady state (as a shop that has
been open for a minute is). The same users carry on into the measured seconds: a second ramp
would put every user signing in again at once into the first measured seconds, which a shop
that has been open for a minute does not see. Before it is served, the bare ceilings of the
machine are measured (``--ceilings-duration``), and each result carries its share of them.

Each profile's run writes Locust's CSV and HTML reports under ``--reports`` (by default
``bench/results/locust/<time>-<profile>/``), appends its result (requests per second,
p50/p95/p99, failures, Locust's own CPU use, the verdict) to the results store, and is judged
against the gate file: aggregate requests per second, p95, p99 and the failure ratio. Any miss
makes the exit status 1.
"""

import argparse
import asyncio
import csv
import math
import os
import subprocess
import sys
import time
import tomllib
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from bench import checkout, environment
from bench.driver import Load, Server, ceiling_cases, machine, measure, record, running
from citadel.kit.db import Database
from citadel.seed import seed, seed_shipping
from citadel.settings import Secret, Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCUSTFILE = HERE / "locustfile.py"
DEFAULT_GATES = HERE / "gates" / "default.toml"
REPORTS = HERE.parent / "bench" / "results" / "locust"


class Gates(msgspec.Struct, forbid_unknown_fields=True):
    min_rps: float
    max_p95_ms: float
    max_p99_ms: float
    max_failure_ratio: float

    @classmethod
    def load(cls, path: Path) -> "Gates":
        return msgspec.convert(tomllib.loads(path.read_text()), cls)


class Totals(msgspec.Struct):
    """Locust's aggregate row of one run (latencies in ms)."""

    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


def judge(gates: Gates, totals: Totals) -> list[str]:
    """The gates a run missed, each said in words (none: it passed)."""
    misses = []
    if totals.requests == 0:
        misses.append("no request was made")
    if totals.rps < gates.min_rps:
        misses.append(f"{totals.rps:,.1f} req/s is below {gates.min_rps:,.0f}")
    if totals.p95 > gates.max_p95_ms:
        misses.append(f"p95 {totals.p95:,.0f} ms is above {gates.max_p95_ms:,.0f} ms")
    if totals.p99 > gates.max_p99_ms:
        misses.append(f"p99 {totals.p99:,.0f} ms is above {gates.max_p99_ms:,.0f} ms")
    if totals.failure_ratio > gates.max_failure_ratio:
        misses.append(
            f"{totals.failures:,} of {totals.requests:,} requests failed"
            f" ({totals.failure_ratio:.2%}, at most {gates.max_failure_ratio:.2%})"
        )
    return misses


def _number(value: str) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def read_stats(path: Path) -> tuple[Totals, list[dict[str, Any]]]:
    """The aggregate row and the per-endpoint rows of Locust's ``*_stats.csv``."""
    totals: Totals | None = None
    endpoints = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            entry = {
                "method": row["Type"], "name": row["Name"], "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]), "rps": _number(row["Requests/s"]),
                "p50": _number(row["50%"]), "p95": _number(row["95%"]), "p99": _number(row["99%"]),
                "max": _number(row["Max Response Time"]),
            }  # fmt: skip
            if row["Name"] == "Aggregated":
                totals = Totals(**{k: entry[k] for k in Totals.__struct_fields__})
            else:
                endpoints.append(entry)
    if totals is None:
        raise RuntimeError(f"{path} has no aggregate row")
    return totals, endpoints


def _failures(path: Path, limit: int = 5) -> list[str]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: -int(r["Occurrences"]))
    return [f"{r['Occurrences']}× {r['Method']} {r['Name']}: {r['Error'][:200]}" for r in rows[:limit]]


def measure_ceilings(env: dict[str, str], duration_s: float) -> dict[str, dict[str, Any]]:
    """The bare ceilings on this machine, measured with wrk before Citadel is served (the run's
    own yardstick: req/s of a bare Granian app, a bare Litestar route, one primary-key read)."""
    load = Load(connections=64, duration_s=duration_s, warmup_s=min(2.0, duration_s / 2))
    found = {}
    for name, server, paths, ready, case_load in ceiling_cases(env, load):
        found[name] = measure(name, server, paths, case_load, ready_path=ready)
        print(f"ceiling {name}: {found[name]['rps']:,.0f} req/s", file=sys.stderr)
    return found


def run_profile(
    profile: str,
    host: str,
    args: argparse.Namespace,
    gates: Gates,
    facts: dict[str, Any],
    ceilings: dict[str, dict[str, Any]],
) -> bool:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.reports) / f"{stamp}-{profile}"
    out.mkdir(parents=True, exist_ok=True)
    warm = f" after {args.warmup:g} s of warm-up" if args.warmup > 0 else ""
    print(f"load: {profile}, {args.users} users for {args.duration} s{warm} against {host}", file=sys.stderr)
    cpu_percent = _locust(profile, host, args, out, args.duration, warmup=args.warmup)
    totals, endpoints = read_stats(out / "locust_stats.csv")
    misses = judge(gates, totals)

    def shown(path: Path | str) -> str:  # inside the repository: relative to it
        resolved = Path(path).resolve()
        return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)

    result = {
        "case": f"locust_{profile}", "tool": "locust", "profile": profile,
        "load": {
            "users": args.users, "spawn_rate": args.spawn_rate, "duration_s": args.duration,
            "warmup_s": args.warmup, "host": host,
        },
        "requests": totals.requests, "rps": round(totals.rps, 1),
        "latency_ms": {"p50": totals.p50, "p95": totals.p95, "p99": totals.p99, "max": totals.max},
        "error_count": totals.failures, "failure_ratio": round(totals.failure_ratio, 6),
        "locust_cpu_percent": round(cpu_percent, 1), "endpoints": endpoints,
        "gates": {"file": shown(args.gates), **msgspec.to_builtins(gates)},
        "verdict": "pass" if not misses else "fail", "misses": misses,
        # the bare ceilings of this run and the profile's share of each (with think times, a
        # profile asks for what its users ask, so this is the share of the bare capacity it used)
        "ceilings": {name: c["rps"] for name, c in ceilings.items()},
        **{f"of_{name}": round(totals.rps / c["rps"], 4) for name, c in ceilings.items() if c["rps"]},
        "reports": {
            "dir": shown(out), "html": shown(out / "report.html"), "csv": shown(out / "locust_stats.csv"),
        },
    }  # fmt: skip
    record([result], facts, Path(args.store), suite="load")
    print(
        f"{profile}: {totals.requests:,} requests, {totals.rps:,.1f} req/s, p50 {totals.p50:,.0f} ms,"
        f" p95 {totals.p95:,.0f} ms, p99 {totals.p99:,.0f} ms, {totals.failures:,} failures;"
        f" Locust used {cpu_percent:.0f}% of a core: {'PASS' if not misses else 'FAIL'}"
    )
    if ceilings:
        shares = ", ".join(f"{totals.rps / c['rps']:.1%} of {n}" for n, c in ceilings.items() if c["rps"])
        print(f"  same-run ceilings: {shares}")
    for miss in misses:
        print(f"  gate missed: {miss}")
    for failure in _failures(out / "locust_failures.csv"):
        print(f"  {failure}")
    return not misses


def _locust(
    profile: str, host: str, args: argparse.Namespace, out: Path, seconds: float, *, warmup: float = 0
) -> float:
    """One headless Locust run of ``seconds`` after its ramp and ``warmup``, reports into
    ``out``; the share of a core Locust used."""
    # users start (and sign in) during the ramp; the statistics are reset once all have started
    # and again after the warm-up, so the gates judge the steady state of the seconds asked for
    ramp = math.ceil(args.users / args.spawn_rate)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-u", str(args.users), "-r", str(args.spawn_rate),
        "-t", f"{ramp + math.ceil(warmup) + math.ceil(seconds)}s",
        "--host", host, "--reset-stats",
        "--csv", str(out / "locust"), "--html", str(out / "report.html"), "--stop-timeout", "5",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    env = {
        **os.environ, "CITADEL_LOAD_PROFILE": profile, "CITADEL_LOAD_SAMPLE": str(args.sample),
        "CITADEL_LOAD_CUSTOMERS": str(args.customers if args.host is None else 0),
        "CITADEL_LOAD_RESET_AFTER_S": str(warmup),
    }  # fmt: skip
    started = time.monotonic()
    log = out / "locust.log"  # a file, not a pipe: a busy run logs more than a pipe holds
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        # Locust's own CPU use, from the kernel's account of the finished process
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0 or not (out / "locust_stats.csv").exists():
        stderr = log.read_text(errors="replace")
        raise RuntimeError(f"locust did not finish the {profile} run:\n{stderr[-3000:]}")
    return (usage.ru_utime + usage.ru_stime) / elapsed * 100


async def _prepare_data(url: str, products: int, customers: int) -> None:
    """The run's own database, seeded once (demo accounts, catalog, shipping)."""
    db = Database(url, pool_size=1)
    await db.open()
    try:
        async with db.connection() as conn:
            seeded = await conn.fetchval("SELECT count(*) FROM users") > 0
        if seeded:
            async with db.transaction() as conn:
                await seed_shipping(conn)
            return
    finally:
        await db.close()
    env = {k: v for k, v in os.environ.items() if k.startswith("CITADEL_")}
    settings = Settings.from_env(env, database_url=Secret(url))
    await seed(settings, customers=customers, products=products, only_if_empty=True, progress=False)


def run(args: argparse.Namespace) -> int:
    gates = Gates.load(Path(args.gates))
    profiles = [p.strip() for p in args.profile.split(",") if p.strip()]
    known = tomllib.loads((HERE / "profiles.toml").read_text())["profiles"]
    unknown = [p for p in profiles if p not in known]
    if unknown:
        print(f"unknown profiles: {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    passed = True
    ceilings: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        host = args.host
        if host is None:
            env = environment.prepare(database=args.database, namespace="load")
            if args.ceilings_duration > 0:  # only for a Citadel served here: the same machine
                ceilings = measure_ceilings(env, args.ceilings_duration)
                record(list(ceilings.values()), machine(), Path(args.store), suite="load")
            os.environ.update(env)  # the seed and this run's own clients use the same servers
            asyncio.run(_prepare_data(env["CITADEL_DATABASE_URL"], args.products, args.customers))
            stack.enter_context(checkout.worker_running(env))
            app = Server(
                "citadel.app:create_app_from_env", factory=True, env=env, workers=args.workers,
                backpressure=args.backpressure,
            )  # fmt: skip
            host, _ = stack.enter_context(running(app, "/readyz"))
        for profile in profiles:
            passed = run_profile(profile, host.rstrip("/"), args, gates, machine(), ceilings) and passed
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run", help="run profiles headless and judge them")
    go.add_argument("--profile", default="mixed", help="a profile, or several separated by commas")
    go.add_argument("--users", type=int, default=600)
    go.add_argument("--spawn-rate", type=float, default=100.0, help="users started per second")
    go.add_argument("--duration", type=int, default=60, help="seconds of load per profile")
    go.add_argument("--host", default=None, help="a running Citadel (default: serve one here)")
    go.add_argument("--gates", default=str(DEFAULT_GATES))
    go.add_argument("--store", default=str(HERE.parent / "bench" / "results" / "results.jsonl"))
    go.add_argument("--reports", default=str(REPORTS))
    go.add_argument(
        "--sample", type=int, default=0, help="products each Locust process samples (0: the config's)"
    )
    go.add_argument("--database", default="citadel_load", help="the served Citadel's database")
    go.add_argument("--products", type=int, default=20_000, help="products seeded into a new database")
    go.add_argument("--customers", type=int, default=200, help="customers seeded into a new database")
    go.add_argument("--workers", type=int, default=2, help="Granian workers of the served Citadel")
    go.add_argument(
        "--backpressure", type=int, default=2048, help="connections each Granian worker holds at once"
    )
    go.add_argument(
        "--warmup", type=float, default=60.0,
        help="seconds of the profile run first, unmeasured, to warm caches and database (0: none)",
    )  # fmt: skip
    go.add_argument(
        "--ceilings-duration", type=float, default=10.0,
        help="seconds of each bare ceiling measured before a Citadel served here (0: none)",
    )  # fmt: skip
    sub.add_parser("profiles", help="list the profiles and their weights")
    args = parser.parse_args(argv)
    if args.command == "profiles":
        for name, profile in tomllib.loads((HERE / "profiles.toml").read_text())["profiles"].items():
            print(f"{name}: {', '.join(f'{u} {w}' for u, w in profile['users'].items())}")
        return 0
    return run(args)

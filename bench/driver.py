"""Running servers and wrk, and keeping what they measured.

A run takes an exclusive lock (other benchmarks on a shared machine wait), starts each server
with Granian exactly as production does, warms it up, measures it with wrk, samples the server's
CPU time, stops it, and appends one JSON line per measurement to the results store.
"""

import fcntl
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.apps.bare import ROWS as BARE_ROWS

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "results.jsonl"
# every result one invocation records shares this id: the dashboard compares runs, not rounds
RUN_ID = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
LOCK = Path(os.environ.get("TMPDIR", "/tmp")) / "bench.lock"


@dataclass(frozen=True)
class Server:
    """A Granian server: an import target and how to serve it."""

    target: str
    interface: str = "asgi"
    workers: int = 2
    factory: bool = False
    # connections a worker holds open at once (Granian counts connections, not requests). The
    # kernel hashes wrk's connections to the workers, so 64 may fall 39 to 25: with 32 a worker
    # left the rest of its share unaccepted for the whole run (seen: 32/25 of 64); with 64 none
    # waits, at the same rates. A load run with a thousand users needs more.
    backpressure: int = 64
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self, port: int) -> list[str]:
        command = [
            sys.executable, "-m", "granian", "--interface", self.interface, "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(self.workers), "--loop", "uvloop", "--http", "1",
            "--backpressure", str(self.backpressure), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        if self.factory:
            command.append("--factory")
        return [*command, self.target]


@dataclass(frozen=True)
class Load:
    threads: int = 1
    connections: int = 64
    duration_s: float = 10.0
    warmup_s: float = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def exclusive() -> Iterator[None]:
    """Hold the machine-wide benchmark lock for the duration of a run."""
    LOCK.touch(exist_ok=True)
    with LOCK.open("r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def running(server: Server, ready_path: str) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    env = {**os.environ, **server.env}
    # its own process group: if it will not stop, its workers are killed with it, not orphaned
    proc = subprocess.Popen(
        server.command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                raise RuntimeError(f"{server.target} did not start: {err.decode()[-2000:]}")
            time.sleep(0.1)
        yield base, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tree_cpu_seconds(root: psutil.Process) -> float:
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def worker_connections(root: psutil.Process, port: int) -> list[int]:
    """Established client connections each worker of the server holds on ``port``, most first.
    Granian's workers listen on sockets of their own (SO_REUSEPORT), so the kernel spreads the
    load generator's connections over them by a hash: with few connections the split is uneven
    (16 may land 12 to 4), and a round's figures depend on it."""
    counts = []
    for proc in root.children(recursive=True):
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        established = [c for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr]
        counts.append(sum(1 for c in established if c.laddr.port == port))
    return sorted((n for n in counts if n), reverse=True)


def wrk(
    base: str,
    paths: list[str],
    load: Load,
    duration_s: float,
    *,
    script: str = "wrk_report.lua",
    script_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run wrk against ``base``; the default script spreads GETs over ``paths``, another script
    reads what it needs from ``script_env`` files."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    seconds = max(1, round(duration_s))  # wrk takes whole seconds
    command = [
        binary, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(BENCH_DIR / script), base,
    ]  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as listing:
        listing.write("\n".join(paths) + "\n")
    try:
        env = {**os.environ, "WRK_PATHS_FILE": listing.name, **(script_env or {})}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    finally:
        os.unlink(listing.name)
    match = re.search(r"^WRK_JSON (.*)$", result.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no results: {result.stdout}{result.stderr}")
    raw: dict[str, Any] = json.loads(match.group(1))
    return raw


def measure(
    case: str,
    server: Server,
    paths: list[str],
    load: Load,
    *,
    ready_path: str = "/healthz",
    script: str = "wrk_report.lua",
    script_env: Callable[[str], Mapping[str, str]] | None = None,
    after: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Serve, check one answer, warm up, measure; one result record. A case with its own script
    gets its files from ``script_env`` (called with "warmup", then "measure") and skips the GET
    check; ``after`` adds what it finds once the load stopped (the server still up)."""
    with running(server, ready_path) as (base, proc):
        if script_env is None:
            check = httpx.get(base + paths[0], timeout=5)
            if check.status_code != 200:
                raise RuntimeError(f"{case}: {paths[0]} answered {check.status_code}: {check.text[:300]}")
        if load.warmup_s:
            extra = script_env("warmup") if script_env else None
            wrk(base, paths, load, load.warmup_s, script=script, script_env=extra)
        extra = script_env("measure") if script_env else None
        cpu_before = _tree_cpu_seconds(proc)
        split: list[int] = []
        sampler = threading.Timer(
            min(1.0, load.duration_s / 2),
            lambda: split.extend(worker_connections(proc, int(base.rsplit(":", 1)[1]))),
        )
        sampler.start()
        raw = wrk(base, paths, load, load.duration_s, script=script, script_env=extra)
        sampler.join()
        cpu_used = _tree_cpu_seconds(proc) - cpu_before
        found = after() if after else {}
    seconds = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "case": case,
        "server": {"target": server.target, "interface": server.interface, "workers": server.workers},
        "tool": "wrk",
        "load": {"threads": load.threads, "connections": load.connections, "duration_s": load.duration_s},
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "latency_ms": {
            "p50": raw["p50_us"] / 1000,
            "p90": raw["p90_us"] / 1000,
            "p95": raw["p95_us"] / 1000,
            "p99": raw["p99_us"] / 1000,
            "max": raw["max_us"] / 1000,
        },
        "errors": errors,
        "error_count": sum(errors.values()),
        "server_cpu_us_per_request": round(cpu_used / max(1, raw["requests"]) * 1e6, 1),
        "worker_connections": split,
        **found,
    }


CEILINGS = ("a_rsgi", "b_struct", "c_pk")


def ceiling_cases(env: dict[str, str], load: Load) -> list[tuple[str, Server, list[str], str, Load]]:
    """The bare ceilings every HTTP result is judged against: a Granian RSGI app, a Litestar route
    returning a Struct, and one doing one asyncpg primary-key read (name, server, paths, readiness
    path, load)."""
    ids = random.Random(7).sample(range(1, BARE_ROWS + 1), 500)
    return [
        ("a_rsgi", Server("bench.apps.bare:rsgi_app", interface="rsgi"), ["/api/v1/info"], "/", load),
        ("b_struct", Server("bench.apps.bare:litestar_struct"), ["/api/v1/info"], "/api/v1/info", load),
        (
            "c_pk",
            Server("bench.apps.bare:litestar_pk", env=env),
            [f"/bench/products/{i}" for i in ids],
            "/bench/products/1",
            load,
        ),
    ]


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("granian", "litestar", "msgspec", "asyncpg", "uvloop"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_1m": round(os.getloadavg()[0], 2),
        "versions": versions,
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=BENCH_DIR, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def record(results: list[dict[str, Any]], facts: dict[str, Any], store: Path = RESULTS, **extra: Any) -> None:
    """Append results to the store, each with the date, commit and machine facts taken before the round."""
    store.parent.mkdir(parents=True, exist_ok=True)
    stamp = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": RUN_ID,
        **git_commit(),
        "machine": facts,
        **extra,
    }
    with store.open("a") as out:
        for result in results:
            out.write(json.dumps({**stamp, **result}, sort_keys=True) + "\n")

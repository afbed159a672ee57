"""The worker's heartbeat: touched while its tasks run and its servers answer; checked by
``citadel worker-alive``, a container's health check."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from citadel.settings import Settings
from citadel.worker import Worker
from tests.fixtures.app import eventually, isolated_settings
from tests.fixtures.servers import Servers


def _alive(path: Path, max_age: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citadel", "worker-alive", "--path", str(path), "--max-age", str(max_age)],
        capture_output=True, text=True, check=False, env={**os.environ},
    )  # fmt: skip


async def test_a_running_worker_beats_and_a_stopped_one_goes_stale(
    servers: Servers, database_url: str, tmp_path: Path
) -> None:
    beat = tmp_path / "worker.alive"
    settings: Settings = isolated_settings(servers, database_url, worker_heartbeat_path=str(beat))
    missing = await asyncio.to_thread(_alive, beat)
    assert missing.returncode != 0 and "no heartbeat" in missing.stderr
    stop = asyncio.Event()
    worker = Worker(settings, consumers=[])
    task = asyncio.create_task(worker.run(stop))
    try:

        async def beaten() -> bool:
            return beat.exists()

        assert await eventually(beaten, timeout=10)
        assert (await asyncio.to_thread(_alive, beat)).returncode == 0
    finally:
        stop.set()
        await task
    os.utime(beat, (time.time() - 120, time.time() - 120))  # as if it stopped two minutes ago
    stale = await asyncio.to_thread(_alive, beat)
    assert stale.returncode != 0 and "old" in stale.stderr

"""The collector pause (shared by nested and interleaved blocks, undone by the last one out), and
the collector of a serving worker."""

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

from citadel.kit.collector import YOUNG_THRESHOLD, collector_paused
from citadel.settings import Settings
from tests.fixtures.servers import server_env


async def test_interleaved_pauses_resume_once_the_last_ends() -> None:
    assert gc.isenabled()
    first_in, second_out = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        with collector_paused():
            first_in.set()
            await second_out.wait()
            assert not gc.isenabled()  # the second block ended; this one still holds the pause

    async def second() -> None:
        await first_in.wait()
        with collector_paused(), collector_paused():
            assert not gc.isenabled()
        second_out.set()

    await asyncio.gather(first(), second())
    assert gc.isenabled()


def test_a_failing_block_resumes_and_a_disabled_collector_stays_off() -> None:
    try:
        with collector_paused():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_worker_built_from_the_environment_serves_with_its_start_up_heap_frozen(
    settings: Settings, tmp_path: Path
) -> None:
    # in a process of its own: freezing is for a serving worker, not for this test run
    probe = (
        "import gc; from citadel.app import create_app_from_env; create_app_from_env(); "
        "print(gc.get_freeze_count(), gc.get_threshold()[0])"
    )
    env = server_env(settings, tmp_path)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    frozen, young = map(int, done.stdout.split())
    assert frozen > 10_000  # the app, its routes and modules
    assert young == YOUNG_THRESHOLD

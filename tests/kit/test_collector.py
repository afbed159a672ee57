"""The collector pause: shared by nested and interleaved blocks, undone by the last one out."""

import asyncio
import gc

from citadel.kit.collector import collector_paused


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

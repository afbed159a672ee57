"""Counts kept in a worker's memory and written to PostgreSQL in batches.

Some facts are worth keeping but not worth a write on the request path (what shoppers search
for, say). A ``Tally`` adds them up per key in memory, and every ``interval`` hands each
registered kind's counts to its flusher in one transaction. A failed flush puts the counts back
to be tried again; counts of a worker that dies unflushed are lost, which is why only
best-effort statistics go through here.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from citadel.kit.db import Connection, Database

logger = logging.getLogger("citadel.tally")

Counts = dict[tuple[object, ...], list[int]]
Flusher = Callable[[Connection, Counts], Awaitable[None]]


class Tally:
    def __init__(self, db: Database, interval_s: float) -> None:
        self.db = db
        self.interval_s = interval_s
        self._flushers: dict[str, Flusher] = {}
        self._counts: dict[str, Counts] = {}

    def register(self, kind: str, flusher: Flusher) -> None:
        self._flushers[kind] = flusher
        self._counts[kind] = {}

    def add(self, kind: str, key: tuple[object, ...], *amounts: int) -> None:
        counts = self._counts[kind]
        current = counts.get(key)
        if current is None:
            counts[key] = list(amounts)
        else:
            for i, amount in enumerate(amounts):
                current[i] += amount

    async def flush(self) -> None:
        for kind, flusher in self._flushers.items():
            counts, self._counts[kind] = self._counts[kind], {}
            if not counts:
                continue
            try:
                async with self.db.transaction() as conn:
                    await flusher(conn, counts)
            except Exception as exc:  # noqa: BLE001 - kept for the next round, whatever went wrong
                logger.warning("cannot write %s counts (%s); keeping them", kind, type(exc).__name__)
                for key, amounts in counts.items():
                    self.add(kind, key, *amounts)

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()

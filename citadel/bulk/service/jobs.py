"""Bulk jobs: files of up to 1,000,000 rows, applied by workers, resumable, idempotent by key.

Upload: the request body streams into ``bulk_job_rows`` (COPY, a few thousand lines at a time,
all in the upload's transaction), never onto a local disk, so any worker on any machine can run
the job; the transaction that ends the upload also queues the job and writes its
``vendors.bulk_job_queued`` event. An ``Idempotency-Key`` is required: the same key answers with
the job it made (and reads nothing); a key still uploading is a 409.

Run: JetStream delivers the queued event to a worker, which wakes its job runner; runners also
look for work every ``CITADEL_BULK_JOB_POLL_S``. A runner takes a job's lease (only one holds it),
then applies its rows in chunks of ``CITADEL_BULK_JOB_CHUNK_ROWS``: each chunk's writes, its row
errors, the checkpoint and the renewed lease commit together. A worker killed mid-chunk leaves
the last checkpoint; once its lease runs out another runner resumes from there, so every row is
applied exactly once. A chunk that keeps failing (three attempts) fails the job, stating why.
"""

import asyncio
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from citadel.auth.models import Principal
from citadel.bulk.models import (
    MAX_JOB_ROWS,
    BulkJob,
    BulkJobFinished,
    BulkJobPage,
    BulkJobQueued,
    BulkKind,
    BulkResult,
    JobStatus,
)
from citadel.bulk.service import prices, products, stock
from citadel.bulk.service.parse import Parsed, csv_header, csv_line, ndjson_line
from citadel.kit.collector import collector_paused
from citadel.kit.db import Connection, Database, load_queries
from citadel.kit.errors import CitadelError, Conflict, FieldError, NotFound, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.listing import Filter, ListSpec, Sort, fetch_page
from citadel.kit.security import Signer
from citadel.settings import Settings

logger = logging.getLogger("citadel.bulk")
Q = load_queries(__file__)
COPY_BATCH = 5000
CHUNK_ATTEMPTS = 3
_encoder = msgspec.json.Encoder()


class JobNotFound(NotFound):
    code = "job_not_found"
    title = "Bulk job not found"


class JobUploading(Conflict):
    code = "idempotency_key_in_use"
    title = "A job with this key is still uploading"


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "This key was used for another job"


class TooManyRows(ValidationFailed):
    code = "too_many_rows"
    title = "Too many rows"


def _view(row: Any) -> BulkJob:
    return BulkJob(**{f: row[f] for f in BulkJob.__struct_fields__})


def _fingerprint(kind: str, fmt: str) -> str:
    return hashlib.sha256(f"{kind}:{fmt}".encode()).hexdigest()


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The body's non-empty lines, as text (bytes that are not UTF-8 are replaced, NULs dropped)."""
    rest = b""
    async for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        for raw in complete:
            line = raw.strip()
            if line:
                yield line.decode("utf-8", "replace").replace("\x00", "")
    tail = rest.strip()
    if tail:
        yield tail.decode("utf-8", "replace").replace("\x00", "")


async def upload(
    db: Database,
    principal: Principal,
    vendor_id: uuid.UUID,
    kind: BulkKind,
    fmt: str,
    key: str,
    body: AsyncIterator[bytes],
) -> tuple[BulkJob, bool]:
    """The job the key names: made now from the streamed body (True), or made before (False)."""
    print_ = _fingerprint(kind, fmt)
    async with db.connection() as conn:
        found = await conn.fetchrow(Q.find_job, vendor_id, key)
    if found is not None:
        return _existing(found, print_), False
    job_id = uuid7()
    async with db.transaction() as conn:
        made = await conn.fetchrow(Q.insert_job, job_id, vendor_id, kind, fmt, key, print_, principal.user_id)
    if made is None:  # another request with this key got there first
        async with db.connection() as conn:
            return _existing(await conn.fetchrow(Q.find_job, vendor_id, key), print_), False
    try:
        async with db.transaction() as conn:
            total = await _stage(conn, job_id, fmt, body)
            queued = await conn.fetchrow(Q.queue_job, job_id, total)
            await emit(
                conn,
                BulkJobQueued(job_id=job_id, vendor_id=vendor_id, kind=kind, total_rows=total),
                aggregate_id=job_id,
            )
    except BaseException:
        async with db.transaction() as conn:
            await conn.execute(Q.discard_upload, job_id)
        raise
    return _view(queued), True


def _existing(row: Any, print_: str) -> BulkJob:
    if row["status"] == "uploading":
        raise JobUploading("Wait for the first upload with this key to finish.")
    if row["fingerprint"] != print_:
        raise KeyReused(
            "This Idempotency-Key made a job of another kind or format.",
            errors=[FieldError(field="Idempotency-Key", message="Used for another job", code="reused")],
        )
    return _view(row)


async def _stage(conn: Connection, job_id: uuid.UUID, fmt: str, body: AsyncIterator[bytes]) -> int:
    """COPY the body's lines into the job's rows; a CSV file's header is row 0. Returns the count."""
    batch: list[tuple[uuid.UUID, int, str]] = []
    row = 0
    header_seen = fmt != "csv"
    async for line in _lines(body):
        if not header_seen:
            csv_header(line)  # refuses a file without a header naming 'sku'
            batch.append((job_id, 0, line))
            header_seen = True
            continue
        row += 1
        if row > MAX_JOB_ROWS:
            raise TooManyRows(f"A job takes at most {MAX_JOB_ROWS:,} rows.")
        batch.append((job_id, row, line))
        if len(batch) >= COPY_BATCH:
            await conn.copy_records_to_table(
                "bulk_job_rows", records=batch, columns=("job_id", "row_no", "line")
            )
            batch = []
    if batch:
        await conn.copy_records_to_table("bulk_job_rows", records=batch, columns=("job_id", "row_no", "line"))
    if row == 0:
        raise ValidationFailed("The file has no rows.")
    return row


async def get(conn: Connection, vendor_id: uuid.UUID, job_id: uuid.UUID) -> BulkJob:
    row = await conn.fetchrow(Q.get_job, job_id)
    if row is None or row["vendor_id"] != vendor_id:
        raise JobNotFound()
    return _view(row)


JOB_LIST = ListSpec(
    source=Q.list_jobs_source,
    filters={"vendor": Filter("vendor_id"), "status": Filter("status")},
    sorts={"newest": Sort("created_at", "timestamp", descending=True)},
    default_sort="newest",
)


async def list_jobs(
    conn: Connection,
    signer: Signer,
    vendor_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> BulkJobPage:
    page = await fetch_page(
        conn, JOB_LIST, signer, filters={"vendor": vendor_id, "status": status}, sort=None, cursor=cursor,
        limit=limit,
    )  # fmt: skip
    return BulkJobPage(items=[_view(r) for r in page.rows], next_cursor=page.next_cursor)


async def errors_ndjson(db: Database, vendor_id: uuid.UUID, job_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The job's row errors as NDJSON ({row, key, errors}), read a page at a time."""
    async with db.connection() as conn:
        await get(conn, vendor_id, job_id)
    after = 0
    while True:
        async with db.connection() as conn:
            rows = await conn.fetch(Q.job_errors_page, job_id, after, 5000)
        if not rows:
            return
        yield b"".join(
            _encoder.encode({"row": r["row_no"], "key": r["key"], "errors": r["errors"]}) + b"\n"
            for r in rows
        )
        after = rows[-1]["row_no"]


# --- running -------------------------------------------------------------------------------------


async def apply_rows(
    conn: Connection,
    kind: str,
    vendor_id: uuid.UUID,
    actor_id: uuid.UUID,
    parsed: list[Parsed],
    reference: str,
) -> BulkResult:
    """One batch of rows of a kind, as the synchronous bulk routes apply them."""
    if kind == "products":
        return await products.upsert(conn, vendor_id, parsed)
    if kind == "stock":
        return await stock.apply(conn, vendor_id, actor_id, parsed, reference)
    return await prices.apply(conn, vendor_id, parsed)


class JobRunner:
    """Runs bulk jobs in a worker: woken by JetStream's queued events, or by its own polling."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wakeup = asyncio.Event()
        self.finished = 0

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception:
                logger.exception("bulk job runner failed; trying again")
                worked = False
            if worked:
                continue
            self.wakeup.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wakeup.wait())]
            await asyncio.wait(
                waiters, timeout=self.settings.bulk_job_poll_s, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> bool:
        """Take one runnable job and run it to its end (or until its lease is lost)."""
        async with self.db.connection() as conn:
            job_id = await conn.fetchval(Q.next_runnable_job)
        if job_id is None:
            return False
        async with self.db.transaction() as conn:
            job = await conn.fetchrow(Q.claim_job, job_id, self.owner, self.settings.bulk_job_lease_s)
        if job is None:
            return False
        await self._run(job)
        return True

    async def _run(self, job: Any) -> None:
        header: list[str] | None = None
        if job["format"] == "csv":
            async with self.db.connection() as conn:
                rows = await conn.fetch(Q.job_rows, job["id"], -1, 1)
            header = csv_header(rows[0]["line"]) if rows and rows[0]["row_no"] == 0 else []
        failures = 0
        while True:
            try:
                more = await self._chunk(job, header)
            except CitadelError as exc:  # a batch the rules refuse as a whole: the job cannot go on
                await self._finish(job, "failed", exc.detail or exc.title)
                return
            except LeaseLost:
                return
            except Exception as exc:  # noqa: BLE001 - retried, then the job fails with the reason
                failures += 1
                logger.warning("bulk job %s chunk failed (%d): %r", job["id"], failures, exc)
                if failures >= CHUNK_ATTEMPTS:
                    await self._finish(job, "failed", f"{type(exc).__name__}: {exc}"[:1000])
                    return
                await asyncio.sleep(0.5 * failures)
                continue
            failures = 0
            if not more:
                await self._finish(job, "completed", None)
                return

    async def _chunk(self, job: Any, header: list[str] | None) -> bool:
        """Apply the next chunk and move the checkpoint, in one transaction; False when none is left."""
        with collector_paused():
            return await self._apply_chunk(job, header)

    async def _apply_chunk(self, job: Any, header: list[str] | None) -> bool:
        async with self.db.transaction() as conn:
            current = await conn.fetchrow(Q.lock_job_lease, job["id"], self.owner)
            if current is None:
                raise LeaseLost()
            lines = await conn.fetch(
                Q.job_rows, job["id"], max(current["processed_rows"], 0), self.settings.bulk_job_chunk_rows
            )
            if not lines:
                return False
            parsed = [
                csv_line(r["row_no"], header, r["line"])
                if header is not None
                else ndjson_line(r["row_no"], r["line"])
                for r in lines
            ]
            result = await apply_rows(
                conn, job["kind"], job["vendor_id"], job["created_by"], parsed, f"bulk job {job['id']}"
            )
            failed = [r for r in result.results if r.status == "error"]
            if failed:
                await conn.execute(
                    Q.insert_job_errors, job["id"], [r.row for r in failed], [r.key for r in failed],
                    [_encoder.encode(r.errors).decode() for r in failed],
                )  # fmt: skip
            s = result.summary
            await conn.execute(
                Q.advance_job, job["id"], lines[-1]["row_no"], s.created, s.updated, s.unchanged, s.errors,
                self.settings.bulk_job_lease_s,
            )  # fmt: skip
        return True

    async def _finish(self, job: Any, status: JobStatus, failure: str | None) -> None:
        async with self.db.transaction() as conn:
            current = await conn.fetchrow(Q.lock_job_lease, job["id"], self.owner)
            if current is None:
                return
            done: Any = await conn.fetchrow(Q.finish_job, job["id"], status, failure)
            await conn.execute(Q.drop_job_rows, job["id"])
            await emit(
                conn,
                BulkJobFinished(
                    job_id=job["id"], vendor_id=job["vendor_id"], status=status,
                    processed_rows=done["processed_rows"], error_rows=done["error_rows"],
                ),
                aggregate_id=job["id"],
            )  # fmt: skip
        self.finished += 1


class LeaseLost(Exception):
    """Another runner took the job over (this one was too slow to renew its lease)."""

"""``/api/v1/vendor/bulk``: the calling vendor's bulk writes and jobs.

Synchronous calls take up to 10,000 rows as a JSON array or NDJSON (``Content-Type:
application/x-ndjson``) and answer every row; their ``Server-Timing`` header says how long the
server spent. Jobs take files of up to 1,000,000 rows (NDJSON or CSV, streamed), answer 202 with
the job, and are read back while they run; their row errors download as NDJSON.
"""

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

import asyncpg
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import Stream

from citadel.auth.guards import CurrentPrincipal, ScopeRequired, requires
from citadel.auth.models import Principal
from citadel.bulk.models import MAX_ROWS, BulkJob, BulkJobPage, BulkKind, BulkResult, JobStatus
from citadel.bulk.service import jobs, parse, prices, products, stock
from citadel.kit.collector import collector_paused
from citadel.kit.db import Connection
from citadel.kit.errors import CitadelError, ValidationFailed
from citadel.kit.http import Cursor, PageSize, private_json
from citadel.kit.idempotency import HEADER, check_key
from citadel.kit.runtime import Conn, Runtime, RuntimeDep
from citadel.vendors import service as vendors

WRITE_SCOPES: dict[str, str] = {
    "products": "products:write",
    "stock": "stock:write",
    "prices": "prices:write",
}
RETRIES = 3


class PayloadTooLarge(CitadelError):
    status_code = 413
    code = "payload_too_large"
    title = "Payload too large"


class TooManyRows(ValidationFailed):
    code = "too_many_rows"
    title = "Too many rows"


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(f"The body is larger than {limit:,} bytes.")
        yield chunk


async def _body(request: Request[Any, Any, Any], limit: int) -> bytes:
    return b"".join([chunk async for chunk in _limited(request.stream(), limit)])


def _is_ndjson(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() in {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
    }


async def _rows(request: Request[Any, Any, Any], runtime: Runtime) -> tuple[list[parse.Parsed], float]:
    """The request's rows, and when the server started on them (the body read, before parsing)."""
    body = await _body(request, runtime.settings.bulk_max_body_bytes)
    started = time.perf_counter()
    with collector_paused():
        parsed = parse.ndjson_rows(body) if _is_ndjson(request) else parse.json_rows(body)
    if not parsed:
        raise ValidationFailed("Send at least one row.")
    if len(parsed) > MAX_ROWS:
        raise TooManyRows(f"A call takes at most {MAX_ROWS:,} rows; send more as a job (/bulk/jobs).")
    return parsed, started


Apply = Callable[[Connection, uuid.UUID, Principal], Awaitable[BulkResult]]


async def _run(runtime: Runtime, principal: Principal, started: float, apply: Apply) -> Response[bytes]:
    """One transaction (retried on a lost race). ``Server-Timing`` says where the server's time
    went: parsing the rows, the transaction (checks and writes, commit included), encoding the
    answer, and ``app`` for all three."""
    parsed_at = time.perf_counter()
    with collector_paused():
        for attempt in range(1, RETRIES + 1):
            try:
                async with runtime.db.transaction() as tx:
                    vendor = await vendors.selling_vendor_of_user(tx, principal.user_id)
                    result = await apply(tx, vendor.id, principal)
                break
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES:
                    raise
        applied_at = time.perf_counter()
        answer = private_json(result)
    done = time.perf_counter()
    timing = ", ".join(
        f"{name};dur={(end - begin) * 1000:.1f}"
        for name, begin, end in (
            ("parse", started, parsed_at),
            ("apply", parsed_at, applied_at),
            ("encode", applied_at, done),
            ("app", started, done),
        )
    )
    return Response(
        answer.body,
        media_type="application/json",
        headers={"Server-Timing": timing, "Cache-Control": "private, no-store"},
    )


class VendorBulkController(Controller):
    path = "/api/v1/vendor/bulk"
    tags = ["vendor bulk"]

    @post(
        "/products",
        operation_id="bulkUpsertProducts",
        status_code=200,
        request_max_body_size=None,
        guards=[requires("vendor", scope="products:write")],
        summary="Create or update up to 10,000 products and their variants by your SKUs",
    )
    async def upsert_products(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, principal: CurrentPrincipal
    ) -> Response[bytes]:
        parsed, started = await _rows(request, runtime)
        return await _run(
            runtime, principal, started, lambda tx, vendor_id, _: products.upsert(tx, vendor_id, parsed)
        )

    @post(
        "/stock",
        operation_id="bulkSetStock",
        status_code=200,
        request_max_body_size=None,
        guards=[requires("vendor", scope="stock:write")],
        summary="Set or adjust up to 10,000 SKU × warehouse stock rows (with the ledger)",
    )
    async def set_stock(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, principal: CurrentPrincipal
    ) -> Response[bytes]:
        parsed, started = await _rows(request, runtime)
        reference = f"bulk {request.headers.get('x-request-id', '')}".strip()
        return await _run(
            runtime,
            principal,
            started,
            lambda tx, vendor_id, who: stock.apply(tx, vendor_id, who.user_id, parsed, reference),
        )

    @post(
        "/prices",
        operation_id="bulkSetPrices",
        status_code=200,
        request_max_body_size=None,
        guards=[requires("vendor", scope="prices:write")],
        summary="New prices for up to 10,000 SKUs",
    )
    async def set_prices(
        self, request: Request[Any, Any, Any], runtime: RuntimeDep, principal: CurrentPrincipal
    ) -> Response[bytes]:
        parsed, started = await _rows(request, runtime)
        return await _run(
            runtime, principal, started, lambda tx, vendor_id, _: prices.apply(tx, vendor_id, parsed)
        )

    @post(
        "/jobs",
        operation_id="createBulkJob",
        status_code=202,
        request_max_body_size=None,
        guards=[requires("vendor", scope=tuple(WRITE_SCOPES.values()))],
        summary="Upload a file of up to 1,000,000 rows (NDJSON or CSV) for the workers to apply",
    )
    async def create_job(
        self,
        request: Request[Any, Any, Any],
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        kind: Annotated[BulkKind, QueryParameter()],
        key: Annotated[str | None, HeaderParameter(name=HEADER, max_length=300, required=False)] = None,
        file_format: Annotated[Literal["ndjson", "csv"] | None, QueryParameter(name="format")] = None,
    ) -> Response[bytes]:
        if not principal.may(WRITE_SCOPES[kind]):
            raise ScopeRequired(f"This needs an API key with the scope {WRITE_SCOPES[kind]}.")
        key = check_key(key)
        fmt = file_format or ("csv" if "csv" in request.headers.get("content-type", "") else "ndjson")
        async with runtime.db.connection() as conn:
            vendor = await vendors.selling_vendor_of_user(conn, principal.user_id)
        body = _limited(request.stream(), runtime.settings.bulk_job_max_bytes)
        job, made = await jobs.upload(runtime.db, principal, vendor.id, kind, fmt, key, body)
        answer = private_json(job)
        headers = {"Cache-Control": "private, no-store"} | ({} if made else {"Idempotent-Replayed": "true"})
        return Response(
            answer.body, status_code=202 if made else 200, media_type="application/json", headers=headers
        )

    @get(
        "/jobs",
        operation_id="listBulkJobs",
        guards=[requires("vendor", scope="jobs:read")],
        summary="Your jobs",
    )
    async def list_jobs(
        self,
        conn: Conn,
        runtime: RuntimeDep,
        principal: CurrentPrincipal,
        status: Annotated[JobStatus | None, QueryParameter()] = None,
        cursor: Cursor = None,
        limit: PageSize = 20,
    ) -> BulkJobPage:
        vendor = await vendors.own_vendor(conn, principal)
        return await jobs.list_jobs(
            conn, runtime.cursors, vendor.id, status=status, cursor=cursor, limit=limit
        )

    @get(
        "/jobs/{job_id:uuid}",
        operation_id="getBulkJob",
        guards=[requires("vendor", scope="jobs:read")],
        summary="A job and its progress",
    )
    async def get_job(self, job_id: FromPath[uuid.UUID], conn: Conn, principal: CurrentPrincipal) -> BulkJob:
        vendor = await vendors.own_vendor(conn, principal)
        return await jobs.get(conn, vendor.id, job_id)

    @get(
        "/jobs/{job_id:uuid}/errors",
        operation_id="getBulkJobErrors",
        guards=[requires("vendor", scope="jobs:read")],
        summary="The job's row errors, as NDJSON",
    )
    async def job_errors(
        self, job_id: FromPath[uuid.UUID], runtime: RuntimeDep, principal: CurrentPrincipal
    ) -> Stream:
        async with runtime.db.connection() as conn:
            vendor = await vendors.own_vendor(conn, principal)
            await jobs.get(conn, vendor.id, job_id)
        return Stream(
            jobs.errors_ndjson(runtime.db, vendor.id, job_id),
            media_type="application/x-ndjson",
            headers={"Cache-Control": "private, no-store"},
        )

"""The bare ceilings every HTTP case is judged against, each served by Granian like Citadel.

- ``rsgi_app``: Granian's own RSGI interface answering a fixed JSON body (the server's ceiling).
- ``litestar_struct``: a bare Litestar app whose one route returns the Struct ``/api/v1/info``
  returns in Citadel (the framework's ceiling).
- ``litestar_pk``: a bare Litestar app whose route reads one row by primary key with asyncpg
  (pool of 16, no reset query, as Citadel configures it) and returns it as a Struct.
- ``litestar_insert``: the same app taking the checkout request (same path and body) and
  inserting one row in a transaction (BEGIN, INSERT, COMMIT): the ceiling of any write.
"""

import os
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, get, post
from litestar.params import FromPath, JSONBody

from citadel.system.models import Info

INFO = Info(name="citadel", version="0.1.0", api_version="v1")
INFO_BODY = msgspec.json.encode(INFO)
ROWS = 10_000


async def rsgi_app(scope: Any, proto: Any) -> None:
    proto.response_bytes(200, [("content-type", "application/json")], INFO_BODY)


@get("/api/v1/info", operation_id="info")
async def info() -> Info:
    return INFO


litestar_struct = Litestar([info], openapi_config=None, logging_config=None)


class Product(msgspec.Struct, rename="camel"):
    id: int
    name: str
    price_amount: int
    currency: str


class _NoReset(asyncpg.Connection):
    def get_reset_query(self) -> str:
        return ""


_pool: asyncpg.Pool | None = None


@asynccontextmanager
async def _lifespan(_: Litestar) -> AsyncIterator[None]:
    global _pool  # noqa: PLW0603 - one pool per worker process, as in the real app
    _pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=16, max_size=16, connection_class=_NoReset
    )
    try:
        yield
    finally:
        await _pool.close()


@get("/bench/products/{product_id:int}", operation_id="product")
async def product(product_id: FromPath[int]) -> Product:
    assert _pool is not None
    row = await _pool.fetchrow(
        "SELECT id, name, price_amount, currency FROM bench_products WHERE id = $1", product_id
    )
    return Product(**row)


litestar_pk = Litestar([product], lifespan=[_lifespan], openapi_config=None, logging_config=None)


class CheckoutBody(msgspec.Struct, rename="camel"):
    expected_total: int
    payment: dict[str, str]


class Receipt(msgspec.Struct, rename="camel"):
    id: int
    total_amount: int


@post("/api/v1/checkout", operation_id="insertOrder", status_code=201)
async def insert_order(data: JSONBody[CheckoutBody]) -> Receipt:
    assert _pool is not None
    async with _pool.acquire() as conn, conn.transaction():
        order_id = await conn.fetchval(
            "INSERT INTO bench_orders (total_amount) VALUES ($1) RETURNING id", data.expected_total
        )
    return Receipt(id=order_id, total_amount=data.expected_total)


litestar_insert = Litestar(
    [product, insert_order], lifespan=[_lifespan], openapi_config=None, logging_config=None
)


def random_product_path() -> str:
    return f"/bench/products/{random.randint(1, ROWS)}"

"""The catalog benchmark: cached and uncached product pages, list pages and search, beside the ceilings.

``prepare`` seeds the benchmark database with the demo catalog (100,000 products by default) once
and reuses it while it holds that many; ``cases`` builds, for one run, the bare ceilings and the
full app in the cache configurations the targets are stated for:

- ``detail_memory``: product pages served from the worker's memory (a set that fits in it);
- ``detail_redis``: the same pages with memory off, so every hit is a Redis round trip;
- ``list_memory``: list pages of 20 (categories × sorts), served from memory;
- ``detail_cold``: product pages with the cache off (one PostgreSQL query each);
- ``search``: 50 varied searches with the cache off, at 16 connections (latency is the target).
"""

import asyncio
import random
from urllib.parse import quote

import asyncpg

from bench.driver import Load, Server
from citadel.kit.migrations import migrate
from citadel.seed import seed
from citadel.settings import Secret, Settings

PRODUCTS = 100_000
DETAIL_PATHS = 2_000  # fits in a worker's memory tier many times over
COLD_PATHS = 20_000
SEARCH_CONNECTIONS = 16

# Fifty searches a storefront sees: kinds of product, brands, two-word queries, prefixes being
# typed, misspellings, and searches with filters and sorts.
SEARCHES = [
    "headphones", "kettle", "laptop", "running shoes", "tent", "yoga mat", "coffee maker",
    "backpack", "sunglasses", "dutch oven", "aurora", "northwind", "voltix speaker",
    "kestrel jacket", "wireless earbuds", "waterproof boots", "portable speaker",
    "compact blender", "premium pillow", "eco shampoo", "vintage watch", "smart monitor",
    "lightweight helmet", "rugged lantern", "soft blanket", "pro keyboard", "modular shelf",
    "foldable chair", "deluxe perfume", "classic novel", "headph", "kettl", "sneak", "lapt",
    "camp sto", "headphnes", "ketle", "backpak", "sunglases", "moniter",
    "headphones&maxPrice=5000", "tent&inStock=true", "shirt&sort=price_asc",
    "speaker&sort=newest", "lamp&attr=colour:black", "jeans&minPrice=2000&maxPrice=20000",
    "boots&tag=sale", "watch&sort=popular", "mouse&inStock=true&sort=price_desc",
    "candle&attr=waterproof:false",
]  # fmt: skip


async def _prepare(env: dict[str, str], products: int) -> None:
    url = env["CITADEL_DATABASE_URL"]
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM products")
        if count == products:
            return
        await conn.execute(
            "TRUNCATE stock_movements, stock, product_variants, products, categories, warehouses, "
            "search_terms, vendors, users CASCADE"
        )
    finally:
        await conn.close()
    settings = Settings.from_env(env, database_url=Secret(url))
    await seed(settings, customers=0, products=products, only_if_empty=False, progress=True)


def prepare(env: dict[str, str], products: int = PRODUCTS) -> None:
    asyncio.run(_prepare(env, products))


async def _paths(url: str) -> tuple[list[str], list[str], list[str]]:
    conn = await asyncpg.connect(url)
    try:
        ids = [str(r["id"]) for r in await conn.fetch("SELECT id FROM products WHERE status = 'active'")]
        leaves = [
            r["slug"]
            for r in await conn.fetch(
                "SELECT slug FROM categories WHERE cardinality(path) = 3 ORDER BY slug LIMIT 50"
            )
        ]
    finally:
        await conn.close()
    rng = random.Random(11)
    detail = [f"/api/v1/products/{i}" for i in rng.sample(ids, DETAIL_PATHS)]
    cold = [f"/api/v1/products/{i}" for i in rng.sample(ids, COLD_PATHS)]
    sorts = ["newest", "price_asc", "price_desc", "popular"]
    lists = [
        f"/api/v1/products?category={slug}&sort={sorts[n % 4]}&limit=20" for n, slug in enumerate(leaves)
    ]
    return detail, cold, lists


def search_paths() -> list[str]:
    paths = []
    for query in SEARCHES:
        words, _, rest = query.partition("&")
        paths.append(f"/api/v1/search?q={quote(words)}" + (f"&{rest}" if rest else ""))
    return paths


def full_app(env: dict[str, str], **settings: str) -> Server:
    return Server("citadel.app:create_app_from_env", factory=True, env={**env, **settings})


def cases(env: dict[str, str], load: Load) -> list[tuple[str, Server, list[str], str, Load]]:
    detail, cold, lists = asyncio.run(_paths(env["CITADEL_DATABASE_URL"]))
    off = {"CITADEL_CACHE_TIERS": "none"}
    search_load = Load(
        threads=load.threads,
        connections=SEARCH_CONNECTIONS,
        duration_s=load.duration_s,
        warmup_s=load.warmup_s,
    )
    return [
        ("detail_memory", full_app(env, CITADEL_CACHE_TIERS="memory,redis"), detail, "/readyz", load),
        ("detail_redis", full_app(env, CITADEL_CACHE_TIERS="redis"), detail, "/readyz", load),
        ("list_memory", full_app(env, CITADEL_CACHE_TIERS="memory,redis"), lists, "/readyz", load),
        ("detail_cold", full_app(env, **off), cold, "/readyz", load),
        ("search", full_app(env, **off), search_paths(), "/readyz", search_load),
    ]

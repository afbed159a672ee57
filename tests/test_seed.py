"""The demo catalog: realistic, consistent (the stock ledger agrees with stock), and loaded in one go."""

import uuid

import asyncpg
import pytest

from citadel.kit.db import Database
from citadel.seed import seed
from tests.fixtures.app import make_settings
from tests.fixtures.servers import Servers


async def test_the_demo_catalog_is_consistent(servers: Servers, fresh_database_url: str) -> None:
    settings = make_settings(servers, fresh_database_url)
    report = await seed(settings, customers=1, products=300, progress=False)
    assert report.catalog is not None
    assert (report.catalog.products, report.catalog.vendors, report.catalog.warehouses) == (300, 12, 4)
    assert report.shipping_methods == 2  # the demo shop ships to the United States
    db = Database(fresh_database_url, pool_size=1)
    await db.open()
    try:
        async with db.connection() as conn:
            assert await conn.fetchval("SELECT max(cardinality(path)) FROM categories") == 3
            assert await conn.fetchval("SELECT count(*) FROM products") == 300
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM products p WHERE NOT EXISTS "
                    "(SELECT 1 FROM product_variants v WHERE v.product_id = p.id)"
                )
                == 0
            )
            per_product = await conn.fetchrow(
                "SELECT min(n), max(n) FROM"
                " (SELECT count(*) AS n FROM product_variants GROUP BY product_id) AS per"
            )
            assert per_product[0] >= 1 and per_product[1] <= 6
            disagreeing = await conn.fetchval(
                "SELECT count(*) FROM stock s LEFT JOIN LATERAL ("
                " SELECT COALESCE(sum(on_hand_delta), 0) AS total FROM stock_movements m"
                " WHERE m.variant_id = s.variant_id AND m.warehouse_id = s.warehouse_id) l"
                " ON true WHERE l.total <> s.on_hand"
            )
            assert disagreeing == 0
            stale_flags = await conn.fetchval(
                "SELECT count(*) FROM products p WHERE p.in_stock <> EXISTS (SELECT 1 FROM product_variants v"
                " JOIN stock s ON s.variant_id = v.id WHERE v.product_id = p.id AND s.on_hand > s.reserved)"
            )
            assert stale_flags == 0
            assert await conn.fetchval("SELECT count(*) FROM search_terms") > 50
            # the load derives search documents and facet codes set-wise: as the row triggers would
            documents_differing = await conn.fetchval(
                "SELECT count(*) FROM products p LEFT JOIN categories c ON c.id = p.category_id"
                " WHERE p.search_vector IS DISTINCT FROM"
                " product_search_document(p.name, p.brand, p.tags, c.name, p.description)"
            )
            assert documents_differing == 0
            loaded = dict(await conn.fetch("SELECT id, facet_codes FROM products"))
            await conn.execute("UPDATE products SET attributes = attributes")  # the trigger recomputes
            assert dict(await conn.fetch("SELECT id, facet_codes FROM products")) == loaded
            assert all(len(codes) >= 4 * 6 for codes in loaded.values())  # category, vendor, 4 attributes
            indexes = await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE tablename = 'products'")
            assert indexes >= 10  # the load dropped and rebuilt them all
            with pytest.raises(asyncpg.ForeignKeyViolationError):  # and its foreign keys are back
                await conn.execute(
                    "INSERT INTO stock (variant_id, warehouse_id, on_hand)"
                    " SELECT $1, id, 1 FROM warehouses LIMIT 1",
                    uuid.uuid4(),
                )
        again = await seed(settings, customers=1, products=300, progress=False)
        assert again.skipped
    finally:
        await db.close()

"""Demo data for a fresh database: users of every role, vendors, and a catalog to browse."""

import logging
import uuid

import msgspec
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citadel.kit.db import Connection, Database, load_queries
from citadel.kit.security import PasswordHasher
from citadel.seed_catalog import VENDORS, CatalogReport, seed_catalog
from citadel.settings import Settings
from citadel.shipping import service as shipping
from citadel.shipping.models import ShippingMethodCreate, ShippingZoneCreate
from citadel.users import service as users
from citadel.users.models import Role
from citadel.vendors import service as vendors

logger = logging.getLogger("citadel.seed")
Q = load_queries(__file__)

DEMO_PASSWORD = "citadel-demo-1"


class SeedReport(msgspec.Struct):
    users: int
    skipped: bool
    catalog: CatalogReport | None = None
    shipping_methods: int = 0


# Where the demo shop ships: the whole United States, so a seeded shop can take orders at once.
DEMO_SHIPPING = (
    ShippingMethodCreate(
        name="Standard", currency="USD", base_amount=599, free_above_amount=7_500, min_delivery_days=3,
        max_delivery_days=5,
    ),
    ShippingMethodCreate(
        name="Express", currency="USD", base_amount=1_499, per_kg_amount=200, min_delivery_days=1,
        max_delivery_days=2, position=1,
    ),
)  # fmt: skip


async def seed_shipping(conn: Connection) -> int:
    """The demo shipping zone and its methods, unless the database has zones already."""
    if await shipping.list_zones(conn):
        return 0
    zone = await shipping.create_zone(conn, ShippingZoneCreate(name="United States", countries=["US"]))
    for method in DEMO_SHIPPING:
        await shipping.create_method(conn, zone.id, method)
    return len(DEMO_SHIPPING)


def _demo_users(customers: int) -> list[tuple[str, str, Role]]:
    people: list[tuple[str, str, Role]] = [
        ("admin@citadel.test", "Ada Admin", "admin"),
        ("vendor@citadel.test", "Vera Vendor", "vendor"),
        ("vendor2@citadel.test", "Victor Vendor", "vendor"),
    ]
    people += [(f"vendor{n}@citadel.test", f"Vendor {n}", "vendor") for n in range(3, len(VENDORS) + 1)]
    people += [(f"customer{n}@citadel.test", f"Customer {n}", "customer") for n in range(1, customers + 1)]
    return people


async def seed(
    settings: Settings,
    *,
    customers: int = 20,
    products: int = 2000,
    only_if_empty: bool = True,
    progress: bool = True,
) -> SeedReport:
    db = Database(settings.database_url.reveal(), pool_size=2)
    await db.open()
    try:
        async with db.connection() as conn:
            if only_if_empty and await users.count_users(conn) > 0:
                return SeedReport(users=0, skipped=True)
            has_catalog = await conn.fetchval(Q.count_products) > 0
        hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        # One hash for every demo account: they share the demo password.
        password_hash = await hasher.hash(DEMO_PASSWORD)
        people = _demo_users(customers)
        created = 0
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("users", total=len(people))
            async with db.transaction() as conn:
                vendor_ids: list[uuid.UUID] = []
                for email, name, role in people:
                    try:
                        user = await users.create_user(
                            conn, email=email, password_hash=password_hash, name=name, role=role
                        )
                    except users.EmailTaken:
                        bar.advance(task)
                        continue
                    created += 1
                    if role == "vendor":
                        vendor = await vendors.create_vendor(
                            conn, owner_user_id=user.id, name=VENDORS[len(vendor_ids)], status="active"
                        )
                        vendor_ids.append(vendor.id)
                    bar.advance(task)
                methods = await seed_shipping(conn)
                catalog = None
                if products and vendor_ids and not has_catalog:
                    products_task = bar.add_task("products", total=products)
                    catalog = await seed_catalog(
                        conn,
                        products=products,
                        vendor_ids=vendor_ids,
                        progress=lambda n: bar.advance(products_task, n),
                    )
            if catalog is not None:
                async with db.connection() as conn:
                    await conn.execute(Q.vacuum_catalog)
        return SeedReport(users=created, skipped=False, catalog=catalog, shipping_methods=methods)
    finally:
        await db.close()

"""Demo data for a fresh database: users of every role (later: a catalog and orders)."""

import logging

import msgspec
from rich.progress import Progress

from citadel.kit.db import Database
from citadel.kit.security import PasswordHasher
from citadel.settings import Settings
from citadel.users import service as users
from citadel.users.models import Role

logger = logging.getLogger("citadel.seed")

DEMO_PASSWORD = "citadel-demo-1"


class SeedReport(msgspec.Struct):
    users: int
    skipped: bool


def _demo_users(customers: int) -> list[tuple[str, str, Role]]:
    people: list[tuple[str, str, Role]] = [
        ("admin@citadel.test", "Ada Admin", "admin"),
        ("vendor@citadel.test", "Vera Vendor", "vendor"),
        ("vendor2@citadel.test", "Victor Vendor", "vendor"),
    ]
    people += [(f"customer{n}@citadel.test", f"Customer {n}", "customer") for n in range(1, customers + 1)]
    return people


async def seed(
    settings: Settings, *, customers: int = 20, only_if_empty: bool = True, progress: bool = True
) -> SeedReport:
    db = Database(settings.database_url.reveal(), pool_size=2)
    await db.open()
    try:
        async with db.connection() as conn:
            if only_if_empty and await users.count_users(conn) > 0:
                return SeedReport(users=0, skipped=True)
        hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )
        # One hash for every demo account: they share the demo password.
        password_hash = await hasher.hash(DEMO_PASSWORD)
        people = _demo_users(customers)
        created = 0
        with Progress(disable=not progress) as bar:
            task = bar.add_task("users", total=len(people))
            async with db.transaction() as conn:
                for email, name, role in people:
                    try:
                        await users.create_user(
                            conn, email=email, password_hash=password_hash, name=name, role=role
                        )
                        created += 1
                    except users.EmailTaken:
                        pass
                    bar.advance(task)
        return SeedReport(users=created, skipped=False)
    finally:
        await db.close()

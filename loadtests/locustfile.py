"""Citadel's Locust users: shoppers who browse, fill carts and buy; vendors' integrations; the back
office. All are ``FastHttpUser``s against a seeded Citadel (``citadel seed``: demo accounts with
the demo password, a catalog, and shipping to the United States).

The profile (``CITADEL_LOAD_PROFILE``, default ``mixed``) and its fixed weights and think times
come from ``profiles.toml`` (``CITADEL_LOAD_CONFIG`` names another file); users of no profile's
kind are left out. Run it through ``python -m loadtests run`` (gates, reports, the results
store), or with Locust itself, alone or distributed::

    CITADEL_LOAD_PROFILE=mixed locust -f loadtests/locustfile.py --host http://127.0.0.1:8000
    locust -f loadtests/locustfile.py --master ...    and on each load machine:
    locust -f loadtests/locustfile.py --worker --master-host <master>

What users act on is drawn from the catalog once per Locust process (products with stock, their
variants, categories, words of product names), through plain HTTP outside the measured client.
Users sign in once, in ``on_start``, and again only if their session expires.

``CITADEL_LOAD_RESET_AFTER_S`` (the runner's ``--warmup``) resets the statistics that many
seconds after the last user started: the same users warm the store up, then are measured.
"""

import itertools
import json
import os
import random
import tomllib
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, ClassVar

import gevent
import gevent.lock
from locust import FastHttpUser, between, events, task
from locust.env import Environment

CONFIG_PATH = Path(os.environ.get("CITADEL_LOAD_CONFIG", Path(__file__).with_name("profiles.toml")))
CONFIG = tomllib.loads(CONFIG_PATH.read_text())
PROFILE = os.environ.get("CITADEL_LOAD_PROFILE", "mixed")
DATA = CONFIG["data"]
SAMPLE = int(os.environ.get("CITADEL_LOAD_SAMPLE", "0")) or DATA["products"]
CUSTOMERS = int(os.environ.get("CITADEL_LOAD_CUSTOMERS", "0")) or DATA["customers"]
# distributed runs: each Locust worker takes its buyers' accounts from its own range
CUSTOMER_OFFSET = int(os.environ.get("CITADEL_LOAD_CUSTOMER_OFFSET", "0"))
RESET_AFTER_S = float(os.environ.get("CITADEL_LOAD_RESET_AFTER_S", "0"))


_environment: list[Environment] = []


@events.init.add_listener
def _remember_environment(environment: Environment, **_: Any) -> None:
    _environment.append(environment)


@events.spawning_complete.add_listener
def _measure_after_warm_up(**_: Any) -> None:
    """With a warm-up, the statistics start over once it is done (the users carry on)."""
    runner = _environment[0].runner if _environment else None
    if RESET_AFTER_S > 0 and runner is not None:
        gevent.spawn_later(RESET_AFTER_S, runner.stats.reset_all)


TEST_CARD = "4242424242424242"
ADDRESS = {
    "fullName": "Load Shopper", "line1": "1 Market Street", "city": "San Francisco",
    "region": "CA", "postalCode": "94105", "country": "US",
}  # fmt: skip


class Catalog:
    """What users act on: sampled once per process from the public API."""

    _lock = gevent.lock.Semaphore()
    loaded = False
    products: ClassVar[list[dict[str, Any]]] = []  # {"slug", "id", "variants": [variant ids with stock]}
    categories: ClassVar[list[str]] = []
    words: ClassVar[list[str]] = []
    word_weights: ClassVar[list[float]] = []  # cumulative

    @classmethod
    def word(cls) -> str:
        return random.choices(cls.words, cum_weights=cls.word_weights)[0]

    @classmethod
    def ensure(cls, host: str) -> None:
        with cls._lock:
            if not cls.loaded:
                cls._load(host)
                cls.loaded = True

    @classmethod
    def _load(cls, host: str) -> None:
        def get(path: str) -> Any:
            with urllib.request.urlopen(host + path, timeout=30) as response:
                return json.load(response)

        def walk(nodes: list[dict[str, Any]]) -> None:
            for node in nodes:
                cls.categories.append(node["slug"])
                walk(node.get("children", []))

        walk(get("/api/v1/categories")["items"])
        summaries: list[dict[str, Any]] = []
        cursor = ""
        while len(summaries) < SAMPLE:
            page = get(f"/api/v1/products?limit=100&inStock=true{cursor}")
            summaries += page["items"]
            if not page["nextCursor"]:
                break
            cursor = f"&cursor={urllib.parse.quote(page['nextCursor'])}"
        for summary in summaries[:SAMPLE]:
            detail = get(f"/api/v1/products/{summary['id']}")
            variants = [v["id"] for v in detail["variants"] if v["available"] >= 20]
            if variants:
                cls.products.append({"id": detail["id"], "slug": detail["slug"], "variants": variants})
            cls.words += [w.lower() for w in detail["name"].split() if len(w) > 3 and w.isalpha()]
        if not cls.products:
            raise RuntimeError(f"{host} has no products with stock: seed it first (citadel seed)")
        # shoppers' searches are skewed: a few words are searched for all the time, most rarely
        # (Zipf: the n-th word 1/n as often as the first), in an order fixed per run
        cls.words = sorted(set(cls.words))
        random.Random(7).shuffle(cls.words)
        cls.word_weights = list(itertools.accumulate(1 / (n + 1) for n in range(len(cls.words))))


class CitadelUser(FastHttpUser):
    abstract = True
    _numbers = iter(range(1, 1_000_000))

    def on_start(self) -> None:
        Catalog.ensure(self.host)
        self.number = next(CitadelUser._numbers)
        self.headers: dict[str, str] = {}

    def sign_in(self, email: str) -> None:
        body = {"email": email, "password": DATA["password"]}
        with self.client.post(
            "/api/v1/auth/login", json=body, name="/api/v1/auth/login", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"cannot sign in as {email}: {r.status_code} {r.text[:200]}")
                return
            self.email = email
            self.headers = {"Authorization": f"Bearer {r.json()['accessToken']}"}

    def call(self, method: str, path: str, name: str, expect: int = 200, **kwargs: Any) -> Any:
        """One request, failed unless it answers ``expect``; a lapsed session signs in again."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kwargs
        ) as r:
            if r.status_code == 401 and getattr(self, "email", None):
                r.success()  # the access token lapsed: not the server's failure
                self.sign_in(self.email)
                return None
            if r.status_code != expect:
                r.failure(f"{r.status_code}: {(r.text or '')[:300]}")
                return None
            return r.json() if r.text else None

    def product(self) -> dict[str, Any]:
        return random.choice(Catalog.products)


class BrowseUser(CitadelUser):
    """A shopper looking around: the home list, categories, product pages, search."""

    @task(3)
    def home(self) -> None:
        self.call("GET", "/api/v1/products?limit=20", "/api/v1/products")

    @task(3)
    def category(self) -> None:
        slug = random.choice(Catalog.categories)
        sort = random.choice(("newest", "price_asc", "popular"))
        self.call(
            "GET",
            f"/api/v1/categories/{slug}/products?limit=20&sort={sort}",
            "/api/v1/categories/[slug]/products",
        )

    @task(6)
    def product_page(self) -> None:
        self.call("GET", f"/api/v1/products/{self.product()['slug']}", "/api/v1/products/[slug]")

    @task(2)
    def search(self) -> None:
        words = " ".join(Catalog.word() for _ in range(random.choice((1, 1, 2))))
        self.call("GET", f"/api/v1/search?q={words}", "/api/v1/search")

    @task(1)
    def suggest(self) -> None:
        word = Catalog.word()
        self.call(
            "GET",
            f"/api/v1/search/suggest?q={word[: random.randint(3, len(word))]}",
            "/api/v1/search/suggest",
        )

    @task(1)
    def tree(self) -> None:
        self.call("GET", "/api/v1/categories", "/api/v1/categories")


class ShopUser(CitadelUser):
    """A guest filling a cart: add, change and remove lines, look at the totals."""

    def on_start(self) -> None:
        super().on_start()
        created = self.call("POST", "/api/v1/cart", "/api/v1/cart [create]", expect=201)
        self.headers = {"X-Cart-Token": created["token"]} if created else {}
        self.lines: list[str] = []

    @task(4)
    def add(self) -> None:
        if len(self.lines) >= 5:
            self.remove()
            return
        variant = random.choice(self.product()["variants"])
        body = {"variantId": variant, "quantity": random.randint(1, 2)}
        # the same variant again adds to its line: the cart holds one line per variant
        added = self.call("POST", "/api/v1/cart/lines", "/api/v1/cart/lines", json=body) is not None
        if added and variant not in self.lines:
            self.lines.append(variant)

    @task(2)
    def change(self) -> None:
        if self.lines:
            variant = random.choice(self.lines)
            self.call(
                "PATCH",
                f"/api/v1/cart/lines/{variant}",
                "/api/v1/cart/lines/[variant]",
                json={"quantity": random.randint(1, 3)},
            )

    @task(1)
    def remove(self) -> None:
        if self.lines:
            variant = self.lines.pop(random.randrange(len(self.lines)))
            self.call("DELETE", f"/api/v1/cart/lines/{variant}", "/api/v1/cart/lines/[variant] [remove]")

    @task(2)
    def view(self) -> None:
        self.call("GET", "/api/v1/cart", "/api/v1/cart")


class BuyUser(CitadelUser):
    """A signed-in customer who buys: a line or two, the address, checkout with an idempotency
    key and the total it was shown, then the order."""

    _customers = iter(range(CUSTOMER_OFFSET + 1, 1_000_000))

    def on_start(self) -> None:
        super().on_start()
        # one buyer per customer account (a shared account would share its cart): a process has
        # at most as many buyers as there are customers
        self.customer = next(BuyUser._customers)
        if self.customer > CUSTOMERS:
            raise RuntimeError(f"more buyers than the {CUSTOMERS} seeded customers: seed more (--customers)")
        self.sign_in(f"customer{self.customer}@citadel.test")

    @task
    def buy(self) -> None:
        for product in random.sample(Catalog.products, k=random.choice((1, 2))):
            body = {"variantId": random.choice(product["variants"]), "quantity": 1}
            if self.call("POST", "/api/v1/cart/lines", "/api/v1/cart/lines", json=body) is None:
                return
        cart = self.call("PATCH", "/api/v1/cart", "/api/v1/cart [address]", json={"shippingAddress": ADDRESS})
        if cart is None:
            return
        body = {
            "expectedTotal": cart["totals"]["totalAmount"],
            "payment": {"provider": "test", "testCard": TEST_CARD},
        }
        order = self.call(
            "POST", "/api/v1/checkout", "/api/v1/checkout", expect=201, json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )  # fmt: skip
        if order is not None:
            self.call("GET", f"/api/v1/orders/{order['id']}", "/api/v1/orders/[id]")

    @task
    def my_orders(self) -> None:
        self.call("GET", "/api/v1/orders?limit=10", "/api/v1/orders [mine]")


class VendorUser(CitadelUser):
    """A vendor's integration: small bulk upserts of its own SKUs (prices move each time), and a
    look at its fulfilments and numbers."""

    def on_start(self) -> None:
        super().on_start()
        seeded = ["vendor@citadel.test", "vendor2@citadel.test"] + [
            f"vendor{n}@citadel.test" for n in range(3, 13)
        ]
        self.sign_in(seeded[self.number % len(seeded)])
        self.round = 0

    @task(3)
    def bulk_upsert(self) -> None:
        self.round += 1
        rows = [
            {
                "sku": f"LOAD-{self.number}-{n}", "name": f"Load item {self.number}-{n}", "currency": "USD",
                "priceAmount": 1_000 + 10 * (self.round % 7) + n, "status": "active",
            }
            for n in range(DATA["bulk_rows"])
        ]  # fmt: skip
        answer = self.call("POST", "/api/v1/vendor/bulk/products", "/api/v1/vendor/bulk/products", json=rows)
        if answer is not None and answer["summary"]["errors"]:
            raise AssertionError(f"bulk rows failed: {answer['results'][:3]}")

    @task(1)
    def fulfilments(self) -> None:
        self.call("GET", "/api/v1/vendor/fulfilments?limit=20", "/api/v1/vendor/fulfilments")

    @task(1)
    def analytics(self) -> None:
        self.call("GET", "/api/v1/vendor/analytics", "/api/v1/vendor/analytics")


class AdminUser(CitadelUser):
    """The back office: order lists (all, by status, searched), vendors, search analytics."""

    def on_start(self) -> None:
        super().on_start()
        self.sign_in("admin@citadel.test")

    @task(4)
    def orders(self) -> None:
        self.call("GET", "/api/v1/orders?limit=20", "/api/v1/orders [all]")

    @task(2)
    def orders_by_status(self) -> None:
        status = random.choice(("pending", "paid", "processing"))
        self.call("GET", f"/api/v1/orders?limit=20&status={status}", "/api/v1/orders [status]")

    @task(1)
    def vendors(self) -> None:
        self.call("GET", "/api/v1/vendors?limit=20", "/api/v1/vendors")

    @task(1)
    def search_analytics(self) -> None:
        self.call("GET", "/api/v1/admin/search/analytics", "/api/v1/admin/search/analytics")


USERS: dict[str, type[CitadelUser]] = {
    cls.__name__: cls for cls in (BrowseUser, ShopUser, BuyUser, VendorUser, AdminUser)
}


def _apply_profile(name: str) -> None:
    """The profile's users with their weights and think times; the others sit out."""
    profiles = CONFIG["profiles"]
    if name not in profiles:
        raise SystemExit(f"unknown load profile {name!r}; profiles: {', '.join(profiles)}")
    weights = profiles[name]["users"]
    unknown = set(weights) - set(USERS)
    if unknown:
        raise SystemExit(f"profile {name!r} names unknown users: {', '.join(sorted(unknown))}")
    for user_name, cls in USERS.items():
        cls.abstract = user_name not in weights
        cls.weight = weights.get(user_name, 1)
        least, most = CONFIG["think"][user_name]
        cls.wait_time = between(least, most)


_apply_profile(PROFILE)

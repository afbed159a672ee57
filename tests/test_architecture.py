"""The shape of the code, checked: domain layout, SQL in .sql files, import boundaries, guarded routes."""

import ast
import re
from pathlib import Path

from litestar.routes import HTTPRoute

import citadel
from citadel.app import create_app
from citadel.settings import Settings

ROOT = Path(citadel.__file__).parent
DOMAINS = sorted(
    p.name
    for p in ROOT.iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and p.name not in {"kit", "_fast", "migrations"}
)
# "service" is a service.py grown into a package that re-exports its public functions
DOMAIN_FILES = {
    "__init__.py",
    "routes.py",
    "models.py",
    "queries.sql",
    "service.py",
    "service",
    "consumers.py",
}
EXTRA_FILES = {"auth": {"guards.py"}}  # the guards every other domain's routes use
PUBLIC_ROUTES = {
    "GET /healthz", "GET /readyz", "GET /metrics", "GET /api/v1/info",
    "POST /api/v1/auth/register", "POST /api/v1/auth/login", "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/password/forgot", "POST /api/v1/auth/password/reset", "POST /api/v1/auth/email/verify",
    "GET /api/v1/categories", "GET /api/v1/categories/{ref:str}", "GET /api/v1/categories/{ref:str}/products",
    "GET /api/v1/products", "GET /api/v1/products/{ref:str}",
    "GET /api/v1/search", "GET /api/v1/search/suggest",
}  # fmt: skip
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.IGNORECASE | re.DOTALL
)
SQL_ALLOWED = {
    "kit/listing.py",
    "kit/services.py",
}  # the whitelisting list builder; the embedded server's bootstrap


def _python_files() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_domains_hold_the_same_few_files() -> None:
    for domain in DOMAINS:
        files = {p.name for p in (ROOT / domain).iterdir() if p.name != "__pycache__"}
        assert files <= DOMAIN_FILES | EXTRA_FILES.get(domain, set()), (domain, files - DOMAIN_FILES)
        for service in [ROOT / domain / "service.py", *(ROOT / domain / "service").glob("*.py")]:
            if service.exists():
                assert len(service.read_text().splitlines()) < 500, f"{service}: split it"


def test_sql_lives_in_sql_files() -> None:
    for path in _python_files():
        relative = str(path.relative_to(ROOT))
        if relative in SQL_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                raise AssertionError(f"{relative}:{node.lineno} holds SQL; put it in queries.sql")


def test_domains_talk_through_services_and_models() -> None:
    for path in _python_files():
        relative = path.relative_to(ROOT)
        owner = relative.parts[0] if len(relative.parts) > 1 else None
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) < 3 or parts[0] != "citadel" or parts[1] not in DOMAINS or parts[1] == owner:
                continue
            layer = parts[2]
            allowed = {"models", "service"} | ({"guards"} if parts[1] == "auth" else set())
            if relative.name in {"app.py", "worker.py"}:  # the composition roots
                allowed |= {"routes", "consumers"}
            assert layer in allowed, f"{relative} imports {module}"


def test_kit_knows_no_domain_but_through_the_event_table() -> None:
    for path in (ROOT / "kit").rglob("*.py"):
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) > 2 and parts[0] == "citadel" and parts[1] in DOMAINS:
                assert path.name == "events.py" and parts[2] == "models", f"kit/{path.name} imports {module}"


def test_every_route_has_an_operation_id_tags_and_a_guard_unless_public(settings: Settings) -> None:
    app = create_app(settings)
    seen: set[str] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if route.path.startswith("/api/docs") or handler.http_methods == {"OPTIONS"}:
                continue  # the documentation, and the OPTIONS answers Litestar adds to every path
            assert handler.operation_id, route.path
            assert handler.operation_id not in seen, handler.operation_id
            seen.add(str(handler.operation_id))
            assert handler.resolve_tags(), route.path
            guards = handler.resolve_guards()
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                name = f"{method} {route.path}"
                if name in PUBLIC_ROUTES:
                    assert not guards, f"{name} is public but guarded"
                else:
                    assert any(hasattr(g, "citadel_roles") for g in guards), f"{name} has no auth guard"

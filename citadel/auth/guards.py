"""Who is calling: access-token authentication, CSRF for cookie sessions, role guards.

Every non-public route carries a guard from ``requires``; the guard authenticates (Bearer
header first, then the access cookie), checks the user's current state from the per-worker
principal cache (role, status, tokens-valid-after, revoked sessions), enforces CSRF on unsafe
methods of cookie-authenticated requests, checks the role, and leaves the ``Principal`` in the
scope for the ``principal`` dependency. Role and status come from that cache, never from the
token, so a role change or a deactivation takes effect on the next request.
"""

import math
import uuid
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from citadel.auth import service
from citadel.auth.models import Principal, PrincipalState
from citadel.kit.errors import Forbidden, NotFound, Unauthorized
from citadel.kit.runtime import Runtime
from citadel.kit.security import TokenError
from citadel.users.models import Role
from citadel.vendors.service import keys as api_keys

ACCESS_COOKIE = "citadel_access"
REFRESH_COOKIE = "citadel_refresh"
CSRF_COOKIE = "citadel_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL_KEY = "citadel.principal"


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Access token not valid"


class TokenExpired(Unauthorized):
    code = "token_expired"
    title = "Access token expired"


class TokenRevoked(Unauthorized):
    code = "token_revoked"
    title = "Access token revoked"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "CSRF token missing or wrong"


class RoleRequired(Forbidden):
    code = "role_required"
    title = "Not allowed for your role"


class ScopeRequired(Forbidden):
    code = "scope_required"
    title = "Not allowed for this API key"


def _runtime(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def _credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, bool] | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Use the header 'Authorization: Bearer <access token>'.")
        return token.strip(), False
    cookie = connection.cookies.get(ACCESS_COOKIE)
    return (cookie, True) if cookie else None


def has_credentials(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the request carries an access token at all (a public route may then look closer)."""
    return "authorization" in connection.headers or ACCESS_COOKIE in connection.cookies


def check_csrf(
    runtime: Runtime, connection: ASGIConnection[Any, Any, Any, Any], session_id: uuid.UUID
) -> None:
    """Cookie sessions must echo their CSRF token in a header on every unsafe request."""
    sent = connection.headers.get(CSRF_HEADER, "")
    if not sent or not runtime.csrf.matches(session_id.bytes, sent):
        raise CsrfFailed(f"Send the {CSRF_COOKIE} cookie's value in the X-CSRF-Token header.")


def csrf_token(runtime: Runtime, session_id: uuid.UUID) -> str:
    return runtime.csrf.signature(session_id.bytes)


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    runtime = _runtime(connection)
    found = _credentials(connection)
    if found is None:
        raise Unauthorized("Sign in first: send an access token.")
    token, via_cookie = found
    if not via_cookie and api_keys.is_api_key(token):
        return await api_keys.authenticate(runtime.db, token)
    principal, _ = await verify_access(runtime, token, via_cookie=via_cookie)
    if via_cookie and connection.scope.get("method", "GET") not in SAFE_METHODS:
        check_csrf(runtime, connection, principal.session_id)
    return principal


async def verify_access(runtime: Runtime, token: str, *, via_cookie: bool) -> tuple[Principal, int]:
    """The principal of a valid, unrevoked access token, and the token's expiry (Unix seconds)."""
    try:
        claims = runtime.tokens.verify(token)
    except TokenError as exc:
        raise (TokenExpired if exc.code == "token_expired" else InvalidToken)(exc.detail) from None

    async def load(user_id: uuid.UUID) -> PrincipalState | None:
        async with runtime.db.connection() as conn:
            return await service.principal_state(conn, user_id, runtime.settings.access_token_ttl_s + 60)

    state: PrincipalState | None = await runtime.principals.get(claims.user_id, load)
    if state is None:
        raise InvalidToken("The account of this token no longer exists.")
    if state.status != "active":
        raise TokenRevoked("This account is deactivated.")
    if (
        math.floor(claims.issued_at * 1000) < state.valid_after_ms
        or claims.session_id in state.revoked_sessions
    ):
        raise TokenRevoked("This session has ended; sign in again.")
    principal = Principal(
        user_id=claims.user_id, role=state.role, session_id=claims.session_id, via_cookie=via_cookie
    )
    return principal, claims.expires_at


def requires(*roles: Role, scope: str | tuple[str, ...] | None = None) -> Guard:
    """A guard admitting any signed-in user, or only the given roles. A vendor's API key is
    admitted only where a ``scope`` is named, and only if the key has it (one of them, for a
    tuple: the handler then checks the one its request needs)."""
    allowed = frozenset(roles)
    scopes = (scope,) if isinstance(scope, str) else scope

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if allowed and principal.role not in allowed:
            raise RoleRequired(f"This needs the role: {' or '.join(sorted(allowed))}.")
        if principal.via_api_key:
            if scopes is None:
                raise ScopeRequired("API keys are not accepted here; sign in instead.")
            if not any(principal.may(s) for s in scopes):
                raise ScopeRequired(f"This needs an API key with the scope {' or '.join(scopes)}.")
        connection.scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]

    guard.citadel_roles = allowed  # type: ignore[attr-defined]
    guard.citadel_scope = scope  # type: ignore[attr-defined]
    return guard


def signed_in_or_guest() -> Guard:
    """A guard admitting guests too: a request with credentials must carry valid ones (and is
    then a principal); one without any is a guest (``principal_or_guest`` gives None)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if has_credentials(connection):
            principal = await authenticate(connection)
            if principal.via_api_key:
                raise ScopeRequired("API keys are not accepted here; sign in instead.")
            connection.scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]

    guard.citadel_roles = frozenset()  # type: ignore[attr-defined]
    return guard


def principal_or_guest(request: Request[Any, Any, Any]) -> Principal | None:
    """The principal a ``signed_in_or_guest`` guard admitted, or None for a guest."""
    return cast(Principal | None, request.scope.get(PRINCIPAL_KEY))


async def provide_principal_or_guest(request: Request[Any, Any, Any]) -> Principal | None:
    return principal_or_guest(request)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = cast(Principal | None, request.scope.get(PRINCIPAL_KEY))
    if principal is None:  # a handler without a guard asked for a principal: a wiring bug
        raise RuntimeError(f"{request.scope.get('path_template')} asks for a principal but has no guard")
    return principal


def ensure_owner(principal: Principal, owner_id: uuid.UUID, *, admin_may: bool = True) -> None:
    """Refuse access to another user's resource as if it did not exist (no existence leak)."""
    if principal.user_id == owner_id or (admin_may and principal.role == "admin"):
        return
    raise NotFound()


CurrentPrincipal = NamedDependency[Principal]
PrincipalOrGuest = NamedDependency[Principal | None]  # as ``shopper``

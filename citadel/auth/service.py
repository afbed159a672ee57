"""Authentication: registration, login with lockout, rotating refresh tokens with reuse detection,
password reset and change, e-mail verification, and the state every request checks.

Sessions are refresh-token families. Each refresh consumes the presented token and issues the
next one in the same family; presenting a consumed token again means it was copied, so the whole
family is revoked (and the error that says so commits that revocation). A user's
``tokens_valid_after`` voids every access token issued, and every family created, before it:
logout-everywhere, password change or reset and deactivation each just move it forward.
"""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from citadel.auth.models import (
    EmailVerificationRequested,
    FamilyRow,
    IssuedSession,
    PasswordChanged,
    PasswordResetRequested,
    PrincipalState,
)
from citadel.kit.cache import PRINCIPALS_TOPIC
from citadel.kit.db import Connection, from_row, load_queries
from citadel.kit.errors import Conflict, FieldError, Forbidden, RateLimited, Unauthorized, ValidationFailed
from citadel.kit.events import emit
from citadel.kit.ids import uuid7
from citadel.kit.runtime import Runtime
from citadel.kit.security import new_opaque_token, token_digest
from citadel.settings import Settings
from citadel.users import service as users
from citadel.users.models import User, UserRow

Q = load_queries(__file__)


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "Wrong e-mail address or password"
    keeps_changes = True  # the failed attempt counts towards the lockout


class LoginLocked(Unauthorized):
    status_code = 423
    code = "account_locked"
    title = "Account temporarily locked"


class AccountDeactivated(Forbidden):
    code = "account_deactivated"
    title = "Account deactivated"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    title = "Refresh token not valid"


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    title = "Refresh token already used"
    keeps_changes = True  # the family's revocation must stand


class SessionRevoked(Unauthorized):
    code = "session_revoked"
    title = "Session ended"


class InvalidAccountToken(ValidationFailed):
    code = "invalid_token"
    title = "Link not valid"


class WrongCurrentPassword(ValidationFailed):
    code = "wrong_current_password"
    title = "Current password is wrong"


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"
    title = "E-mail address already verified"


# --- policy ------------------------------------------------------------------------------------


def password_errors(password: str, field: str) -> list[FieldError]:
    """The password policy: 8 to 128 characters, a letter and a digit, printable characters only."""
    errors: list[FieldError] = []
    if len(password) < 8:
        errors.append(FieldError(field=field, message="Use at least 8 characters", code="password_too_short"))
    if len(password) > 128:
        errors.append(FieldError(field=field, message="Use at most 128 characters", code="password_too_long"))
    if not any(ch.isalpha() for ch in password):
        errors.append(
            FieldError(field=field, message="Include at least one letter", code="password_needs_letter")
        )
    if not any(ch.isdigit() for ch in password):
        errors.append(
            FieldError(field=field, message="Include at least one digit", code="password_needs_digit")
        )
    if not password.isprintable():
        errors.append(
            FieldError(field=field, message="Use printable characters only", code="password_not_printable")
        )
    return errors


def _check(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed("Some fields are not valid.", errors=errors)


def _field_errors(check: Callable[[], object]) -> list[FieldError]:
    """The field errors a normaliser raises, as a list (empty when the value is fine)."""
    try:
        check()
    except ValidationFailed as exc:
        return exc.errors or []
    return []


# --- sessions --------------------------------------------------------------------------------------


async def start_session(
    conn: Connection,
    rt: Runtime,
    user_id: uuid.UUID,
    *,
    ip: str | None,
    user_agent: str | None,
    issued_at: float | None = None,
) -> IssuedSession:
    """A new refresh-token family and the first token pair of it."""
    family_id = uuid7()
    await conn.execute(Q.insert_family, family_id, user_id, (user_agent or "")[:300] or None, _inet(ip))
    return await _issue_pair(conn, rt, user_id, family_id, issued_at=issued_at)


async def _issue_pair(
    conn: Connection, rt: Runtime, user_id: uuid.UUID, family_id: uuid.UUID, *, issued_at: float | None = None
) -> IssuedSession:
    refresh, digest = new_opaque_token()
    refresh_expires = await conn.fetchval(
        Q.insert_refresh_token, digest, family_id, rt.settings.refresh_token_ttl_s
    )
    access, access_expires = rt.tokens.issue(user_id, family_id, now=issued_at)
    return IssuedSession(
        user_id=user_id,
        session_id=family_id,
        access_token=access,
        access_expires_at=access_expires,
        refresh_token=refresh,
        refresh_expires_at=refresh_expires,
    )


def _inet(ip: str | None) -> str | None:
    if not ip or ip in {"unknown", "testclient"}:
        return None
    return ip


async def principal_state(conn: Connection, user_id: uuid.UUID, lookback_s: int) -> PrincipalState | None:
    row = await conn.fetchrow(Q.principal_state, user_id, float(lookback_s))
    if row is None:
        return None
    return PrincipalState(
        role=row["role"],
        status=row["status"],
        valid_after_ms=row["valid_after_ms"],
        revoked_sessions=frozenset(row["revoked_sessions"]),
    )


# --- flows -------------------------------------------------------------------------------------------


async def register(
    conn: Connection,
    rt: Runtime,
    *,
    email: str,
    password: str,
    name: str,
    ip: str | None,
    user_agent: str | None,
) -> tuple[User, IssuedSession]:
    errors = _field_errors(lambda: users.normalize_email(email))
    errors += _field_errors(lambda: users.normalize_name(name))
    errors += password_errors(password, "password")
    _check(errors)
    password_hash = await rt.passwords.hash(password)
    user = await users.create_user(
        conn, email=users.normalize_email(email), password_hash=password_hash, name=users.normalize_name(name)
    )
    await _send_verification(conn, rt, user)
    session = await start_session(conn, rt, user.id, ip=ip, user_agent=user_agent)
    return User.of(user), session


async def login(
    conn: Connection, rt: Runtime, *, email: str, password: str, ip: str | None, user_agent: str | None
) -> tuple[User, IssuedSession]:
    settings = rt.settings
    email = users.normalize_email(email)
    locked_until = await conn.fetchval(Q.get_login_lock, email)
    now = datetime.now(UTC)
    if locked_until is not None and locked_until > now:
        wait = int((locked_until - now).total_seconds()) + 1
        raise LoginLocked(
            "Too many failed sign-ins; try again later or reset your password.",
            headers={"Retry-After": str(wait)},
        )
    credentials = await users.find_credentials(conn, email)
    if not await rt.passwords.verify(credentials.password_hash if credentials else None, password):
        failures = await conn.fetchval(Q.record_login_failure, email, float(settings.lockout_window_s))
        if failures >= settings.lockout_threshold:
            await conn.execute(Q.lock_login, email, float(settings.lockout_duration_s))
        raise InvalidCredentials()
    assert credentials is not None
    await conn.execute(Q.clear_login_throttle, email)
    if credentials.status != "active":
        raise AccountDeactivated("This account is deactivated.")
    if rt.passwords.needs_rehash(credentials.password_hash):
        await users.set_password_hash(
            conn, credentials.id, await rt.passwords.hash(password), revoke_tokens=False
        )
    session = await start_session(conn, rt, credentials.id, ip=ip, user_agent=user_agent)
    return User.of(await users.get_user(conn, credentials.id)), session


async def refresh(
    conn: Connection, rt: Runtime, *, token: str, verify_session: Callable[[uuid.UUID], None] | None = None
) -> tuple[User, IssuedSession]:
    """Rotate a refresh token. A token presented twice revokes its whole family.

    ``verify_session`` (the CSRF check of cookie sessions) runs once the token's session is known.
    """
    if not token:
        raise InvalidRefreshToken("Send the refresh token in the body or in its cookie.")
    digest = token_digest(token)
    claimed = await conn.fetchrow(Q.use_refresh_token, digest)
    if claimed is None:
        known = await conn.fetchrow(Q.find_refresh_token, digest)
        if known is None:
            raise InvalidRefreshToken("This refresh token is not valid.")
        user_id = await conn.fetchval(Q.revoke_family, known["family_id"], "refresh_token_reused")
        if user_id is not None:
            conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))
        raise RefreshTokenReused("This refresh token was already used; the session has been ended.")
    if verify_session is not None:
        verify_session(claimed["family_id"])
    family = from_row(FamilyRow, await conn.fetchrow(Q.get_family_for_update, claimed["family_id"]))
    if claimed["expires_at"] <= datetime.now(UTC):
        raise SessionRevoked("The refresh token has expired; sign in again.")
    if family.revoked_at is not None or family.created_at < family.tokens_valid_after:
        raise SessionRevoked("This session has ended; sign in again.")
    if family.status != "active":
        raise AccountDeactivated("This account is deactivated.")
    await conn.execute(Q.touch_family, family.id)
    session = await _issue_pair(conn, rt, family.user_id, family.id)
    return User.of(await users.get_user(conn, family.user_id)), session


async def logout(conn: Connection, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End one session: its refresh tokens and its access tokens stop working at once."""
    await conn.execute(Q.revoke_family, session_id, "logout")
    conn.invalidate_after_commit(PRINCIPALS_TOPIC, str(user_id))


async def logout_everywhere(conn: Connection, *, user_id: uuid.UUID) -> None:
    await users.revoke_tokens(conn, user_id)
    await conn.execute(Q.revoke_user_families, user_id, "logout_everywhere", None)


async def change_password(
    conn: Connection,
    rt: Runtime,
    *,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    ip: str | None,
    user_agent: str | None,
) -> tuple[User, IssuedSession]:
    """New password; every other session ends, the caller gets a fresh one."""
    _check(password_errors(new_password, "newPassword"))
    if not await rt.passwords.verify(await users.password_hash_of(conn, user_id), current_password):
        raise WrongCurrentPassword(
            "The current password is wrong.",
            errors=[
                FieldError(field="currentPassword", message="Wrong password", code="wrong_current_password")
            ],
        )
    valid_after = await users.set_password_hash(
        conn, user_id, await rt.passwords.hash(new_password), revoke_tokens=True
    )
    await conn.execute(Q.revoke_user_families, user_id, "password_changed", None)
    await emit(conn, PasswordChanged(user_id=user_id, reason="changed"), aggregate_id=user_id)
    # Issue no earlier than the cut-off, whatever the clocks of this host and the database say.
    session = await start_session(
        conn, rt, user_id, ip=ip, user_agent=user_agent, issued_at=max(time.time(), valid_after + 0.001)
    )
    return User.of(await users.get_user(conn, user_id)), session


async def request_password_reset(conn: Connection, rt: Runtime, *, email: str) -> None:
    """Send a reset link if the address has an active account; answer the same either way."""
    email = users.normalize_email(email)
    credentials = await users.find_credentials(conn, email)
    if credentials is None or credentials.status != "active":
        return
    user = await users.get_user(conn, credentials.id)
    await conn.execute(Q.void_account_tokens, user.id, "password_reset")
    token, digest = new_opaque_token()
    expires_at = await conn.fetchval(
        Q.insert_account_token,
        digest,
        user.id,
        "password_reset",
        user.email,
        float(rt.settings.password_reset_ttl_s),
    )
    await emit(
        conn,
        PasswordResetRequested(
            user_id=user.id, email=user.email, name=user.name, token=token, expires_at=expires_at
        ),
        aggregate_id=user.id,
    )


async def reset_password(conn: Connection, rt: Runtime, *, token: str, new_password: str) -> None:
    """Set a new password from a reset link (single use, 1 h); every session of the user ends."""
    _check(password_errors(new_password, "newPassword"))
    row = await conn.fetchrow(Q.use_account_token, token_digest(token), "password_reset")
    if row is None:
        raise InvalidAccountToken(
            "This reset link is not valid or has expired; ask for a new one.",
            errors=[FieldError(field="token", message="Invalid or expired", code="invalid_token")],
        )
    user_id: uuid.UUID = row["user_id"]
    await users.set_password_hash(conn, user_id, await rt.passwords.hash(new_password), revoke_tokens=True)
    await conn.execute(Q.revoke_user_families, user_id, "password_reset", None)
    await conn.execute(Q.clear_login_throttle, row["email"])
    await emit(conn, PasswordChanged(user_id=user_id, reason="reset"), aggregate_id=user_id)


async def _send_verification(conn: Connection, rt: Runtime, user: UserRow) -> None:
    await conn.execute(Q.void_account_tokens, user.id, "email_verification")
    token, digest = new_opaque_token()
    expires_at = await conn.fetchval(
        Q.insert_account_token,
        digest,
        user.id,
        "email_verification",
        user.email,
        float(rt.settings.email_verification_ttl_s),
    )
    await emit(
        conn,
        EmailVerificationRequested(
            user_id=user.id, email=user.email, name=user.name, token=token, expires_at=expires_at
        ),
        aggregate_id=user.id,
    )


async def resend_verification(conn: Connection, rt: Runtime, *, user_id: uuid.UUID) -> None:
    user = await users.get_user(conn, user_id)
    if user.email_verified_at is not None:
        raise EmailAlreadyVerified("This e-mail address is already verified.")
    last = await conn.fetchval(Q.last_account_token_at, user_id, "email_verification")
    if last is not None:
        elapsed = (datetime.now(UTC) - last).total_seconds()
        if elapsed < rt.settings.email_verification_resend_s:
            raise RateLimited(
                int(rt.settings.email_verification_resend_s - elapsed) + 1,
                "A verification e-mail was sent moments ago; check your inbox.",
            )
    await _send_verification(conn, rt, user)


async def verify_email(conn: Connection, *, token: str) -> User:
    row = await conn.fetchrow(Q.use_account_token, token_digest(token), "email_verification")
    user = await users.mark_email_verified(conn, row["user_id"], row["email"]) if row else None
    if user is None:
        raise InvalidAccountToken(
            "This verification link is not valid or has expired.",
            errors=[FieldError(field="token", message="Invalid or expired", code="invalid_token")],
        )
    return User.of(user)


async def purge_expired(conn: Connection, settings: Settings) -> None:
    """Housekeeping run by the worker: drop tokens and throttles that can no longer matter."""
    await conn.execute(Q.purge_refresh_tokens)
    await conn.execute(Q.purge_refresh_families, float(settings.refresh_token_ttl_s))
    await conn.execute(Q.purge_account_tokens)
    await conn.execute(Q.purge_login_throttle, float(settings.lockout_window_s))

"""Authentication: credentials in, sessions out, and the events that become e-mails."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from citadel.kit.structs import Event, Input, Model, Row
from citadel.users.models import Role, User

TokenTransport = Literal["bearer", "cookie"]
EmailText = Annotated[str, msgspec.Meta(max_length=320)]
PasswordText = Annotated[str, msgspec.Meta(max_length=1024)]
TokenText = Annotated[str, msgspec.Meta(max_length=256)]


class RegisterInput(Input):
    email: EmailText
    password: PasswordText
    name: Annotated[str, msgspec.Meta(max_length=200)]
    token_transport: TokenTransport = "bearer"


class LoginInput(Input):
    email: EmailText
    password: PasswordText
    token_transport: TokenTransport = "bearer"


class RefreshInput(Input):
    """In cookie mode the refresh token comes from its cookie and the body may be empty."""

    refresh_token: TokenText | None = None


class ForgotPasswordInput(Input):
    email: EmailText


class ResetPasswordInput(Input):
    token: TokenText
    new_password: PasswordText


class VerifyEmailInput(Input):
    token: TokenText


class ChangePasswordInput(Input):
    current_password: PasswordText
    new_password: PasswordText
    token_transport: TokenTransport = "bearer"


class Session(Model):
    """A signed-in session. In cookie mode the tokens travel only as httpOnly cookies."""

    user: User
    expires_in: int
    refresh_expires_in: int
    token_type: str = "Bearer"
    access_token: str | None = None
    refresh_token: str | None = None
    csrf_token: str | None = None


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller of a request."""

    user_id: uuid.UUID
    role: Role
    session_id: uuid.UUID  # an API key's id when the caller is a vendor's machine
    via_cookie: bool
    scopes: frozenset[str] | None = None  # an API key's scopes; None: a session, which may do all

    @property
    def via_api_key(self) -> bool:
        return self.scopes is not None

    def may(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


class PrincipalState(Row, frozen=True):
    """What every authenticated request checks about its user; cached per worker."""

    role: Role
    status: str
    valid_after_ms: int
    revoked_sessions: frozenset[uuid.UUID]


class IssuedSession(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    session_id: uuid.UUID
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: datetime


class FamilyRow(Row, frozen=True):
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None
    status: str
    tokens_valid_after: datetime


# --- events ------------------------------------------------------------------------------------


class PasswordResetRequested(Event, frozen=True):
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


class EmailVerificationRequested(Event, frozen=True):
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


class PasswordChanged(Event, frozen=True):
    user_id: uuid.UUID
    reason: Literal["changed", "reset"]

"""Security primitives: argon2id password hashes, JWT access tokens, opaque tokens, HMAC signatures.

- Hashing and verifying run in a thread (argon2 releases the GIL), so a login never stalls the
  event loop for the tens of milliseconds a hash costs.
- Access tokens are HS256 JWTs with ``typ: "access"``; only HS256 is accepted, so a token with
  ``alg: none`` or any other algorithm is refused before its claims are read. ``iat`` carries
  milliseconds so that a revocation and the tokens issued right after it are told apart.
- Refresh, password-reset and verification tokens are opaque random strings; the database keeps
  only their SHA-256.
"""

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid

import argon2
import jwt
import msgspec

ISSUER = "citadel"


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=argon2.Type.ID
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash (unknown user) it spends the same time."""
        if password_hash is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            password_hash = self._dummy
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class TokenError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AccessClaims(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    session_id: uuid.UUID
    issued_at: float  # seconds, with milliseconds
    expires_at: int


class TokenCodec:
    """Issue and verify access tokens."""

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = secret.encode()
        self.ttl_s = ttl_s

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID, now: float | None = None) -> tuple[str, int]:
        """A signed access token and its expiry (Unix seconds)."""
        issued = round(time.time() if now is None else now, 3)
        expires = int(issued) + self.ttl_s
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": str(session_id),
            "typ": "access",
            "iat": issued,
            "exp": expires,
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), expires

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ", "iss"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token_expired", "The access token has expired; refresh it.") from None
        except jwt.PyJWTError:
            raise TokenError("invalid_token", "The access token is not valid.") from None
        if claims.get("typ") != "access":
            raise TokenError("invalid_token", "This token is not an access token.")
        try:
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                issued_at=float(claims["iat"]),
                expires_at=int(claims["exp"]),
            )
        except (ValueError, TypeError):
            raise TokenError("invalid_token", "The access token is not valid.") from None


def new_opaque_token() -> tuple[str, bytes]:
    """A random token to hand out and the digest to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Signer:
    """HMAC-SHA256 signatures for values handed to clients (CSRF tokens, list cursors)."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def signature(self, value: bytes) -> str:
        digest = hmac.new(self._key, value, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).rstrip(b"=").decode()

    def sign(self, value: bytes) -> str:
        """``base64url(value).signature``"""
        body = base64.urlsafe_b64encode(value).rstrip(b"=").decode()
        return f"{body}.{self.signature(value)}"

    def unsign(self, signed: str) -> bytes | None:
        """The value of a ``sign`` result, or None if it was not signed here."""
        body, _, signature = signed.partition(".")
        try:
            value = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError):
            return None
        return value if hmac.compare_digest(signature, self.signature(value)) else None

    def matches(self, value: bytes, signature: str) -> bool:
        return hmac.compare_digest(signature, self.signature(value))

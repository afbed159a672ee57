"""Time-ordered identifiers (UUID version 7, RFC 9562), generated in the application.

PostgreSQL 15 has no ``uuidv7()``; generating them here keeps the server floor and gives
keyset pagination ids that sort by creation time. They are made as asyncpg's own UUID type (a
``uuid.UUID``, built in C from the 16 bytes, as every UUID read from the database already is):
a bulk call makes tens of thousands, and ``uuid.UUID``'s constructor cost more than the rest.
"""

import os
import time
import uuid
from typing import cast

from asyncpg.pgproto.pgproto import UUID as _UUID

_MASK_48 = (1 << 48) - 1
_MASK_62 = (1 << 62) - 1
_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


def _stamped(millis: int, rand: int) -> uuid.UUID:
    """48 bits of ``millis``, version 7, 12 bits of ``rand``, variant 0b10, 62 more bits of it."""
    high = ((millis & _MASK_48) << 80) | _VERSION | ((rand >> 62 & 0xFFF) << 64)
    value = high | _VARIANT | (rand & _MASK_62)
    return cast(uuid.UUID, _UUID(value.to_bytes(16, "big")))


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48 bits of Unix milliseconds, then 74 random bits."""
    return _stamped(time.time_ns() // 1_000_000, int.from_bytes(os.urandom(10), "big"))


def uuid7s(count: int) -> list[uuid.UUID]:
    """``count`` new UUIDv7s of this millisecond, their random bits read from the system at once."""
    millis = time.time_ns() // 1_000_000
    random = os.urandom(10 * count)
    return [_stamped(millis, int.from_bytes(random[i : i + 10], "big")) for i in range(0, 10 * count, 10)]

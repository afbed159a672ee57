"""Time-ordered identifiers (UUID version 7, RFC 9562), generated in the application.

PostgreSQL 15 has no ``uuidv7()``; generating them here keeps the server floor and gives
keyset pagination ids that sort by creation time.
"""

import os
import time
import uuid

_MASK_48 = (1 << 48) - 1


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48 bits of Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = ((millis & _MASK_48) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)

"""UUIDv7s: their layout (RFC 9562), their order in time, and what the rest of the code takes them for."""

import time
import uuid

import msgspec

from citadel.kit.ids import uuid7, uuid7s


def _millis(value: uuid.UUID) -> int:
    return value.int >> 80


def test_layout_version_and_variant() -> None:
    for value in [uuid7(), *uuid7s(200)]:
        assert isinstance(value, uuid.UUID)
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert uuid.UUID(str(value)) == value
        assert hash(uuid.UUID(str(value))) == hash(value)


def test_time_ordered_and_unique() -> None:
    before = time.time_ns() // 1_000_000
    first = uuid7()
    time.sleep(0.002)
    batch = uuid7s(1_000)
    time.sleep(0.002)
    last = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= _millis(first) < _millis(batch[0]) <= _millis(batch[-1]) < _millis(last) <= after
    assert first < batch[0] and max(batch) < last
    assert len({first, last, *batch}) == 1_002
    assert uuid7s(0) == []


def test_random_bits_vary() -> None:
    """74 random bits: across a batch of one millisecond every one of them takes both values."""
    batch = uuid7s(500)
    random_mask = ((1 << 12) - 1) << 64 | ((1 << 62) - 1)
    ones = 0
    zeros = 0
    for value in batch:
        ones |= value.int & random_mask
        zeros |= ~value.int & random_mask
    assert ones == zeros == random_mask


def test_encoded_and_decoded_as_uuids() -> None:
    class Row(msgspec.Struct):
        id: uuid.UUID

    value = uuid7()
    encoded = msgspec.json.encode(Row(value))
    assert encoded == f'{{"id":"{value}"}}'.encode()
    assert msgspec.json.decode(encoded, type=Row).id == value

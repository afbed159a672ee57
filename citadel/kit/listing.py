"""Lists: whitelisted filters and sorts, keyset pagination and signed, opaque cursors.

A domain declares a ``ListSpec``: the SQL of its source (a named query, used as a subquery) and
the filters and sorts a client may use, by name. ``fetch_page`` composes only fixed fragments
from those declarations (identifiers checked when the spec is made); every value a client sends
travels as a ``$n`` parameter. Pages are cut by keyset (``(sort value, id) < ($a, $b)``), never by
OFFSET, and the cursor is signed and bound to the sort and filters it was made for.
"""

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from citadel.kit.errors import FieldError, ValidationFailed
from citadel.kit.security import Signer

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# eq, in, gte, lte: comparisons; contains, prefix: case-insensitive text; has_all: an array column
# holds every given element; matches_all: a jsonb column contains, for every group given, one of
# the group's documents (groups AND-ed, documents in a group OR-ed).
FilterOp = Literal["eq", "in", "gte", "lte", "contains", "prefix", "has_all", "matches_all"]
SortKind = Literal["text", "int", "timestamp", "uuid"]


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'src."{name}"'


class Filter(msgspec.Struct, frozen=True):
    column: str
    op: FilterOp = "eq"

    def __post_init__(self) -> None:
        _ident(self.column)


class Sort(msgspec.Struct, frozen=True):
    column: str
    kind: SortKind
    descending: bool = False

    def __post_init__(self) -> None:
        _ident(self.column)


class ListSpec(msgspec.Struct, frozen=True):
    source: str  # SQL of a named query returning the listed rows
    filters: Mapping[str, Filter]
    sorts: Mapping[str, Sort]
    default_sort: str
    key: str = "id"  # unique uuid column breaking ties

    def __post_init__(self) -> None:
        _ident(self.key)
        if self.default_sort not in self.sorts:
            raise ValueError("default_sort must be one of sorts")


def _like_pattern(value: str, *, prefix_only: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix_only else f"%{escaped}%"


def _fingerprint(sort: str, filters: Mapping[str, Any]) -> str:
    canonical = msgspec.json.encode([sort, sorted((k, str(v)) for k, v in filters.items() if v is not None)])
    return hashlib.sha256(canonical).hexdigest()[:16]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode_value(kind: SortKind, value: Any) -> Any:
    if kind == "timestamp":
        return datetime.fromisoformat(value)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "int":
        return int(value)
    return str(value)


def _bad_cursor(detail: str) -> ValidationFailed:
    return ValidationFailed(
        detail, errors=[FieldError(field="cursor", message=detail, code="invalid_cursor", source="query")]
    )


def _conditions(flt: Filter, value: Any, param: Callable[[Any], str]) -> list[str]:
    """The SQL conditions of one filter: fixed fragments, the value only as ``$n`` parameters."""
    column = _ident(flt.column)
    if flt.op == "eq":
        return [f"{column} = {param(value)}"]
    if flt.op == "in":
        return [f"{column} = ANY({param(list(value))})"]
    if flt.op == "gte":
        return [f"{column} >= {param(value)}"]
    if flt.op == "lte":
        return [f"{column} <= {param(value)}"]
    if flt.op == "has_all":
        return [f"{column} @> {param(list(value))}"]
    if flt.op == "matches_all":
        return [f"{column} @> ANY({param(list(group))}::jsonb[])" for group in value]
    pattern = _like_pattern(str(value).lower(), prefix_only=flt.op == "prefix")
    return [f"{column} ILIKE {param(pattern)}"]


class Page(msgspec.Struct, frozen=True):
    rows: list[asyncpg.Record]
    next_cursor: str | None


async def fetch_page(
    conn: asyncpg.Connection,
    spec: ListSpec,
    signer: Signer,
    *,
    filters: Mapping[str, Any],
    sort: str | None,
    cursor: str | None,
    limit: int,
) -> Page:
    sort_name = sort or spec.default_sort
    if sort_name not in spec.sorts:
        allowed = ", ".join(sorted(spec.sorts))
        raise ValidationFailed(
            f"Unknown sort {sort_name!r}; use one of: {allowed}.",
            errors=[
                FieldError(field="sort", message=f"Use one of: {allowed}", code="invalid", source="query")
            ],
        )
    order = spec.sorts[sort_name]
    args: list[Any] = []
    conditions: list[str] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    active = {name: value for name, value in filters.items() if value is not None}
    for name, value in active.items():
        conditions.extend(_conditions(spec.filters[name], value, param))

    fingerprint = _fingerprint(sort_name, active)
    sort_column, key_column = _ident(order.column), _ident(spec.key)
    if cursor:
        raw = signer.unsign(cursor)
        if raw is None:
            raise _bad_cursor("The cursor is not one this API issued.")
        try:
            cursor_sort, cursor_fingerprint, last_value, last_key = msgspec.json.decode(raw)
            if cursor_sort != sort_name or cursor_fingerprint != fingerprint:
                raise _bad_cursor("The cursor belongs to a list with other filters or another sort.")
            after = (_decode_value(order.kind, last_value), uuid.UUID(last_key))
        except (ValueError, TypeError, msgspec.DecodeError):
            raise _bad_cursor("The cursor is malformed.") from None
        comparison = "<" if order.descending else ">"
        conditions.append(
            f"({sort_column}, {key_column}) {comparison} ({param(after[0])}, {param(after[1])})"
        )

    direction = "DESC" if order.descending else "ASC"
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    sql = (
        f"SELECT * FROM ({spec.source}) AS src{where} "  # noqa: S608 - fixed fragments, values are $n
        f"ORDER BY {sort_column} {direction}, {key_column} {direction} LIMIT {param(limit + 1)}"
    )
    rows = await conn.fetch(sql, *args)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = signer.sign(
            msgspec.json.encode(
                [sort_name, fingerprint, _encode_value(last[order.column]), str(last[spec.key])]
            )
        )
    return Page(rows=rows, next_cursor=next_cursor)

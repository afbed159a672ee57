"""The few msgspec Struct bases every boundary is built on.

- ``Model``: API output, camelCase on the wire.
- ``Input``: API input; unknown fields are an error, so a client can never set what it may not.
- ``Row``: a database row, frozen, snake_case like its columns.
- ``Event``: the data of a domain event, frozen, camelCase like the API.
"""

import msgspec


class Model(msgspec.Struct, rename="camel", kw_only=True):
    """A response body or a nested value of one."""


class Input(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """A request body: decoded strictly, unknown fields rejected."""


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """A row read from PostgreSQL (field names are column names)."""


class Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The ``data`` of an event envelope."""

"""Errors as data: one ``CitadelError`` tree and one renderer for RFC 9457 problem+json.

Every error a client can cause leaves as ``application/problem+json`` with a stable ``code``,
per-field ``errors`` where fields are at fault, and the request id. Domain errors subclass
``CitadelError`` at the top of their ``service.py``; framework and driver errors are mapped here,
in one place.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ExceptionHandlersMap
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

from citadel._fast.common import AmountOverflow
from citadel.kit.observability import current_request_id
from citadel.kit.structs import Model

logger = logging.getLogger("citadel.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:citadel:problem:"


class FieldError(Model):
    """One field at fault: where it is (camelCase, as sent), what is wrong, and a stable code."""

    field: str
    message: str
    code: str
    source: str = "body"


class Problem(Model, omit_defaults=True):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str = ""
    errors: list[FieldError] | None = None


class CitadelError(Exception):
    """Base of every error a client can cause; subclasses set status, code and title."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    # When true, the request's transaction commits before the error is answered: the error
    # reports a fact that must be kept (a failed login counted, a reused token's family revoked).
    keeps_changes: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class BadRequest(CitadelError):
    status_code = 400
    code = "bad_request"
    title = "Bad request"


class MalformedJson(CitadelError):
    status_code = 400
    code = "malformed_json"
    title = "Malformed JSON"


class Unauthorized(CitadelError):
    status_code = 401
    code = "not_authenticated"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="citadel"'})
        super().__init__(detail, **kwargs)


class Forbidden(CitadelError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(CitadelError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(CitadelError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class ValidationFailed(CitadelError):
    status_code = 422
    code = "validation_failed"
    title = "Validation failed"


class RateLimited(CitadelError):
    status_code = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(CitadelError):
    status_code = 503
    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


_problem_encoder = msgspec.json.Encoder()


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
) -> bytes:
    """The encoded problem document, with the current request id."""
    return _problem_encoder.encode(
        Problem(
            type=PROBLEM_TYPE_PREFIX + code,
            title=title,
            status=status,
            detail=detail,
            code=code,
            request_id=current_request_id(),
            errors=errors or None,
        )
    )


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        content=problem_body(status, code, title, detail, errors),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


# --- per-field validation errors -------------------------------------------------------------

_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _code_for(message: str) -> str:
    if "missing required field" in message:
        return "required"
    if "unknown field" in message:
        return "unknown_field"
    if ", got `" in message:
        return "wrong_type"
    if "length" in message:
        return "invalid_length"
    if "matching regex" in message:
        return "invalid_format"
    if re.search(r"`(int|float)` [<>]=?", message):
        return "out_of_range"
    return "invalid"


def _join(prefix: str, suffix: str) -> str:
    if not suffix:
        return prefix
    if suffix.startswith("["):
        return prefix + suffix
    suffix = suffix.lstrip(".")
    return f"{prefix}.{suffix}" if prefix else suffix


def _from_msgspec(error: msgspec.ValidationError, prefix: str, source: str) -> FieldError:
    message = str(error)
    path = ""
    if match := _AT_PATH.search(message):
        path = match.group("path")
        message = message[: match.start()]
    field = _join(prefix, path)
    # A missing or unknown field names itself in the message: point at it, not at its parent.
    if named := re.search(r"(?:missing required|unknown) field `([^`]+)`", message):
        field = _join(field, named.group(1))
    return FieldError(field=field or "body", message=message, code=_code_for(message), source=source)


def collect_field_errors(struct_type: Any, raw: Any, prefix: str = "") -> list[FieldError]:
    """Every field error of ``raw`` against ``struct_type``, not only the first msgspec meets."""
    if not (isinstance(struct_type, type) and issubclass(struct_type, msgspec.Struct)):
        try:
            msgspec.convert(raw, type=struct_type)
        except msgspec.ValidationError as exc:
            return [_from_msgspec(exc, prefix, "body")]
        return []
    if not isinstance(raw, dict):
        return [
            FieldError(
                field=prefix or "body",
                message=f"Expected `object`, got `{type(raw).__name__}`",
                code="wrong_type",
            )
        ]
    fields = msgspec.structs.fields(struct_type)
    known = {f.encode_name for f in fields}
    errors: list[FieldError] = []
    if struct_type.__struct_config__.forbid_unknown_fields:
        errors.extend(
            FieldError(field=_join(prefix, key), message="Unknown field", code="unknown_field")
            for key in raw
            if key not in known
        )
    for f in fields:
        name = _join(prefix, f.encode_name)
        if f.encode_name not in raw:
            if f.required:
                errors.append(FieldError(field=name, message="This field is required", code="required"))
            continue
        try:
            msgspec.convert(raw[f.encode_name], type=f.type)
        except msgspec.ValidationError as exc:
            errors.append(_from_msgspec(exc, name, "body"))
    return errors


def _body_errors(request: Request[Any, Any, Any], exc: ValidationException) -> list[FieldError]:
    state = ScopeState.from_scope(request.scope)
    raw = value_or_default(state.json, None)
    data_field = request.route_handler.parsed_data_field
    if data_field is not None and raw is not None:
        errors = collect_field_errors(data_field.annotation, raw)
        if errors:
            return errors
    cause = exc.__cause__
    if isinstance(cause, msgspec.ValidationError):
        error = _from_msgspec(cause, "", "body")
        # Litestar validates the whole signature: strip its ``data`` level from the path.
        field = error.field.removeprefix("data.").removeprefix("data")
        return [FieldError(field=field or "body", message=error.message, code=error.code)]
    return [FieldError(field="body", message=str(exc.detail), code="invalid")]


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """A parameter as the client sent it (``minPrice``), not as the handler names it (``min_price``)."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    definition = getattr(parameter, "kwarg_definition", None)
    alias = getattr(definition, "name", None) or getattr(definition, "query", None)
    return str(alias) if alias else key


_MISSING_PARAMETER = re.compile(
    r"^Missing required (?P<source>query|header|cookie|path) parameter '(?P<key>[^']+)'"
)


def _validation_errors(request: Request[Any, Any, Any], exc: ValidationException) -> list[FieldError]:
    missing = _MISSING_PARAMETER.match(str(exc.detail))
    if missing:
        return [
            FieldError(
                field=_wire_name(request, missing["key"]),
                message="This parameter is required",
                code="required",
                source=missing["source"],
            )
        ]
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors: list[FieldError] = []
    body_failed = False
    for item in extra:
        if not isinstance(item, dict):
            continue
        raw_source = item.get("source") or "body"
        source = str(getattr(raw_source, "value", raw_source))
        if source == "body":
            body_failed = True
            continue
        errors.append(
            FieldError(
                field=_wire_name(request, str(item.get("key", ""))),
                message=str(item.get("message", "")),
                code="invalid",
                source=source,
            )
        )
    if body_failed or not errors:
        errors = _body_errors(request, exc) + errors
    return errors


# --- exception handlers -------------------------------------------------------------------------


def handle_citadel_error(request: Request[Any, Any, Any], exc: CitadelError) -> Response[bytes]:
    return problem_response(exc.status_code, exc.code, exc.title, exc.detail, exc.errors, exc.headers)


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    state = ScopeState.from_scope(request.scope)
    body = value_or_default(state.body, b"")
    if request.route_handler.parsed_data_field is not None and not body:
        return problem_response(
            400, "malformed_json", "Malformed JSON", "The request body is empty; a JSON object is expected."
        )
    return problem_response(
        422,
        "validation_failed",
        "Validation failed",
        "The request does not match the schema.",
        _validation_errors(request, exc),
    )


_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("not_authenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        reason = str(exc.detail).removeprefix("JSON is malformed: ")
        return problem_response(
            400, "malformed_json", "Malformed JSON", f"The body is not valid JSON: {reason}."
        )
    status = exc.status_code
    if status >= 500:
        return handle_unexpected(request, exc)
    code, title = _HTTP_CODES.get(status, (f"http_{status}", "Client error"))
    detail = exc.detail if exc.detail and exc.detail != title else title
    if isinstance(exc, NotFoundException):
        detail = "No resource at this address."
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed here."
    elif isinstance(exc, RequestEntityTooLarge):
        detail = "The request body is larger than this route accepts."
    return problem_response(status, code, title, detail, headers=dict(exc.headers or {}))


def handle_backend_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Driver errors: key conflicts are 409, lost races are retryable, unreachable servers 503."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return problem_response(409, "conflict", "Conflict", "A resource with the same key already exists.")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return problem_response(409, "conflict", "Conflict", "A referenced resource does not exist.")
    if isinstance(exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
        return problem_response(
            503,
            "retry",
            "Please retry",
            "A concurrent change won; retry the request.",
            headers={"Retry-After": "1"},
        )
    unreachable = (
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.QueryCanceledError,
        asyncpg.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        ConnectionError,
        TimeoutError,
    )
    if not isinstance(exc, unreachable):
        return handle_unexpected(request, exc)
    logger.warning("backing service unreachable: %s", type(exc).__name__)
    return problem_response(
        503,
        "service_unavailable",
        "Service unavailable",
        "A backing service is not reachable; retry shortly.",
        headers={"Retry-After": "1"},
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    logger.error(
        "unhandled error on %s %s", request.method, request.scope.get("path_template", "?"), exc_info=exc
    )
    return problem_response(
        500,
        "internal_error",
        "Internal error",
        "Something went wrong on our side; the request id helps us find it.",
    )


def handle_amount_overflow(request: Request[Any, Any, Any], exc: AmountOverflow) -> Response[bytes]:
    """An amount past what Citadel computes with (see ``citadel._fast.common``): the client's doing."""
    return problem_response(
        422, "amount_too_large", "Amount too large", f"An amount is past what Citadel handles: {exc}."
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AmountOverflow: handle_amount_overflow,
    CitadelError: handle_citadel_error,
    ValidationException: handle_validation,
    HTTPException: handle_http_exception,
    asyncpg.PostgresError: handle_backend_error,
    asyncpg.InterfaceError: handle_backend_error,
    redis.exceptions.RedisError: handle_backend_error,
    ConnectionError: handle_backend_error,
    TimeoutError: handle_backend_error,
    Exception: handle_unexpected,
}

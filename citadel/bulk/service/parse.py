"""Rows of a bulk request or file: JSON array, NDJSON or CSV, each row decoded on its own.

A row that is not valid JSON, or not a valid row, becomes that row's error; the others go on.
JSON rows are kept as their text and decoded straight into the row's Struct (several times
faster than decoding them to dicts and converting those); the dict is made only when a row's
error or its fields named are asked for.
CSV headers are the JSON field names (``sku``, ``priceAmount``, ...); ``tags`` holds tags
separated by ``|``; ``attributes.<key>`` columns hold attributes (``true``/``false`` and whole
numbers become booleans and integers); empty cells are absent fields. Nested fields (variants,
options, images) need JSON.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import msgspec

from citadel.bulk.models import MAX_LINE_BYTES, FieldProblem, RowResult
from citadel.kit.errors import MalformedJson, ValidationFailed

T = TypeVar("T", bound=msgspec.Struct)
_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
_decoder = msgspec.json.Decoder()
_raw_rows = msgspec.json.Decoder(list[msgspec.Raw])
_row_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


class Parsed(msgspec.Struct, frozen=True):
    row: int
    value: Any  # the row: its JSON text (msgspec.Raw) or a decoded value; None with the error below
    error: RowResult | None = None

    def fields(self) -> Any:
        """The row as a decoded value (a dict for a row that is an object)."""
        if isinstance(self.value, msgspec.Raw):
            return _decoder.decode(self.value)
        return self.value


def _row_decoder(struct: type[T]) -> "msgspec.json.Decoder[T]":
    decoder = _row_decoders.get(struct)
    if decoder is None:
        decoder = _row_decoders[struct] = msgspec.json.Decoder(struct, strict=False)
    return decoder


def row_error(row: int, key: str | None, field: str, message: str, code: str) -> RowResult:
    return RowResult(
        row=row, key=key, status="error", errors=[FieldProblem(field=field, message=message, code=code)]
    )


def _key_of(value: Any) -> str | None:
    if isinstance(value, dict):
        sku = value.get("sku")
        if isinstance(sku, str):
            warehouse = value.get("warehouse")
            return f"{sku}@{warehouse}" if isinstance(warehouse, str) else sku[:64]
    return None


def validate(parsed: Parsed, struct: type[T]) -> T | RowResult:
    """The row as ``struct``, or its error (the path of the first wrong field, msgspec's words)."""
    if parsed.error is not None:
        return parsed.error
    try:
        if isinstance(parsed.value, msgspec.Raw):
            return _row_decoder(struct).decode(parsed.value)
        return msgspec.convert(parsed.value, struct, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        field = match.group(1) if match else "row"
        message = _PATH.sub("", text)
        return row_error(parsed.row, _key_of(parsed.fields()), field or "row", message, "validation_failed")
    except msgspec.DecodeError as exc:  # a line of NDJSON that is not JSON
        return row_error(parsed.row, None, "row", f"Not valid JSON: {exc}", "malformed_json")


def json_rows(body: bytes) -> list[Parsed]:
    """A JSON array of rows (a body that is not one is the request's error, 400)."""
    try:
        rows = _raw_rows.decode(body)
    except msgspec.ValidationError:
        raise ValidationFailed("Send a JSON array of rows (or NDJSON, one row per line).") from None
    except msgspec.DecodeError as exc:
        raise MalformedJson(f"The body is not valid JSON: {exc}.") from None
    return [Parsed(row=i, value=v) for i, v in enumerate(rows, start=1)]


def ndjson_line(row: int, line: bytes | str) -> Parsed:
    if len(line) > MAX_LINE_BYTES:
        return Parsed(
            row, None, row_error(row, None, "row", f"Longer than {MAX_LINE_BYTES} bytes", "row_too_long")
        )
    return Parsed(row, msgspec.Raw(line))  # its JSON is checked as it is decoded (``validate``)


def ndjson_rows(body: bytes) -> list[Parsed]:
    return [ndjson_line(i, line) for i, line in enumerate(_lines(body), start=1)]


def _lines(body: bytes) -> Iterator[bytes]:
    for raw in body.split(b"\n"):
        line = raw.strip()
        if line:
            yield line


def _cell(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return int(value) if _INTEGER.match(value) else value


def csv_record(header: list[str], cells: list[str]) -> dict[str, Any]:
    """One CSV data row as the JSON row it stands for."""
    record: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, raw in zip(header, cells, strict=False):
        cell = raw.strip()
        if not cell:
            continue
        if name.startswith("attributes."):
            attributes[name.removeprefix("attributes.")] = _cell(cell)
        elif name == "tags":
            record["tags"] = [t.strip() for t in cell.split("|") if t.strip()]
        else:
            record[name] = cell
    if attributes:
        record["attributes"] = attributes
    return record


def csv_header(line: str) -> list[str]:
    header = next(csv.reader([line]), [])
    names = [h.strip() for h in header]
    if not names or "sku" not in names:
        raise ValidationFailed("The CSV file's first line names its columns, 'sku' among them.")
    return names


def csv_line(row: int, header: list[str], line: str) -> Parsed:
    if len(line) > MAX_LINE_BYTES:
        return Parsed(
            row, None, row_error(row, None, "row", f"Longer than {MAX_LINE_BYTES} bytes", "row_too_long")
        )
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error as exc:
        return Parsed(row, None, row_error(row, None, "row", f"Not a CSV row: {exc}", "malformed_csv"))
    if len(cells) > len(header):
        return Parsed(row, None, row_error(row, None, "row", "More cells than columns", "malformed_csv"))
    return Parsed(row, csv_record(header, cells))


def csv_rows(body: bytes) -> list[Parsed]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("A CSV file is UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    if "sku" not in header:
        raise ValidationFailed("The CSV file's first line names its columns, 'sku' among them.")
    out = []
    for i, cells in enumerate(reader, start=1):
        if len(cells) > len(header):
            out.append(Parsed(i, None, row_error(i, None, "row", "More cells than columns", "malformed_csv")))
        else:
            out.append(Parsed(i, csv_record(header, cells)))
    return out


def split_valid(parsed: Iterable[Parsed], struct: type[T]) -> tuple[list[tuple[int, T]], list[RowResult]]:
    good: list[tuple[int, T]] = []
    bad: list[RowResult] = []
    for p in parsed:
        checked = validate(p, struct)
        if isinstance(checked, RowResult):
            bad.append(checked)
        else:
            good.append((p.row, checked))
    return good, bad

"""The one validator of the event contract, shared by `sno ingest` and the stream worker.

It sits on the hot path (tens of thousands of events per second), so it does the cheap checks first
and only what it must: a size check on the raw bytes, one orjson parse, a byte search that proves most
lines carry no `bsn` field without walking them, and one pydantic-core validation with the validator
each model built when it was defined. It never raises: every failure, expected or not, comes back as a
`Rejected` with a reason code from `REASONS` (documented in schemas/README.md), because an invalid
input must never stop the worker (docs/events.md, "Invalid input").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import orjson
from pydantic import ValidationError

from schemas.events import EVENT_MODELS, INSTANT_PATTERN, KEY_FIELDS, NAIVE_INSTANT_PATTERN, TOPICS, EventBase

__all__ = [
    "BSN_HINT",
    "MAX_LINE_BYTES",
    "REASONS",
    "Accepted",
    "Rejected",
    "find_bsn",
    "validate",
]

#: A line (without its line terminator) longer than this is rejected before it is parsed.
MAX_LINE_BYTES: Final = 1024 * 1024

#: Every reason code a `Rejected` can carry, with what it means.
REASONS: Final[dict[str, str]] = {
    "too_large": "the line is longer than 1 MiB (not parsed)",
    "not_json": "the line is not valid JSON in UTF-8",
    "not_object": "the line is valid JSON but not an object",
    "bsn_forbidden": "a field named bsn (any letter case) occurs, at any depth",
    "missing_field": "a required field is absent (or conditionally required, as resolved_at)",
    "unknown_type": "`type` is not one of the event types of the contract",
    "invalid_field": "a field has the wrong JSON type, an unknown value, or is out of range",
    "naive_instant": "an instant has no UTC offset",
    "order_violation": "an instant is before the instant it must follow (completed_at < started_at …)",
    "internal_error": "the validator itself failed; a bug, reported rather than raised",
}

#: Matches wherever a `bsn` key could be spelled in raw JSON bytes: `"bsn"` in any case, or a \u escape
#: of one of its letters. No match proves there is none, so most lines are never walked.
BSN_HINT: Final = re.compile(rb'"[Bb][Ss][Nn]"|\\u00(?:[46][2Ee]|[57]3)')


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event: the model, the record the SNO core consumes, and where and how to publish it."""

    ok: ClassVar[bool] = True

    event: EventBase
    record: dict[str, Any]
    type: str
    topic: str
    key: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid input: a reason code from `REASONS` and one human sentence naming the field.

    The message never quotes field values: inputs may carry personal data, and the message is logged.
    """

    ok: ClassVar[bool] = False

    reason: str
    message: str
    field: str | None = None
    type: str | None = None


def validate(raw: bytes | bytearray | memoryview | str) -> Accepted | Rejected:
    """Validate one JSON Lines line against the event contract (docs/events.md).

    A trailing line terminator is allowed and not counted in the 1 MiB limit.
    """
    try:
        return _validate(raw)
    except Exception as exc:  # the contract: never raise, report
        return Rejected("internal_error", f"the validator failed with {type(exc).__name__}")


def _validate(raw: bytes | bytearray | memoryview | str) -> Accepted | Rejected:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    elif not isinstance(raw, bytes):
        raw = bytes(raw)
    size = len(raw)
    if size > MAX_LINE_BYTES:
        if raw.endswith(b"\r\n"):
            size -= 2
        elif raw.endswith(b"\n"):
            size -= 1
        if size > MAX_LINE_BYTES:
            return Rejected(
                "too_large", f"the line has {size} bytes, more than the limit of {MAX_LINE_BYTES}"
            )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("not_json", f"the line is not valid JSON: {exc.args[0] if exc.args else exc}")
    if type(obj) is not dict:
        return Rejected("not_object", f"the line is a JSON {_json_kind(obj)}, not an object")
    event_type = obj.get("type")
    known_type = event_type if type(event_type) is str and event_type in EVENT_MODELS else None
    if BSN_HINT.search(raw) is not None:
        path = find_bsn(obj)
        if path is not None:
            return Rejected(
                "bsn_forbidden", f"the field {path} is forbidden: no event may carry a BSN", path, known_type
            )
    if known_type is None:
        if event_type is None and "type" not in obj:
            return Rejected("missing_field", "the field type is missing", "type")
        return Rejected("unknown_type", f"the field type is not one of {', '.join(TOPICS)}", "type")
    try:
        event: EventBase = EVENT_MODELS[known_type].__pydantic_validator__.validate_python(obj)
    except ValidationError as exc:
        return _rejection(exc, known_type)
    return Accepted(
        event,
        event.model_dump(),
        known_type,
        TOPICS[known_type],
        obj[KEY_FIELDS[known_type]].encode("utf-8", "surrogatepass"),
    )


def find_bsn(value: Any) -> str | None:
    """The JSON path (`$.a[0].bsn`) of the first key named `bsn` in any letter case, or None.

    Iterative rather than recursive: orjson accepts nesting deeper than Python's recursion limit.
    """
    stack: list[tuple[Any, str]] = [(value, "$")]
    while stack:
        node, path = stack.pop()
        if type(node) is dict:
            for key, child in node.items():
                if len(key) == 3 and key.lower() == "bsn":
                    return f"{path}.{key}"
                if type(child) is dict or type(child) is list:
                    stack.append((child, f"{path}.{key}"))
        elif type(node) is list:
            for index, child in enumerate(node):
                if type(child) is dict or type(child) is list:
                    stack.append((child, f"{path}[{index}]"))
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _rejection(exc: ValidationError, event_type: str) -> Rejected:
    """Map pydantic's first error to a reason code and a sentence naming the field."""
    errors = exc.errors(include_url=False, include_input=True)
    error = errors[0]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = ".".join(str(part) for part in error["loc"]) or ctx.get("field")
    if kind == "missing":
        return Rejected("missing_field", f"the field {field} is missing", field, event_type)
    if kind in ("missing_field", "order_violation", "invalid_field"):
        return Rejected(kind, error["msg"], field, event_type)
    if kind == "timezone_aware" or (
        kind == "string_pattern_mismatch"
        and ctx.get("pattern") == INSTANT_PATTERN
        and isinstance(error.get("input"), str)
        and NAIVE_INSTANT_PATTERN.match(error["input"])
    ):
        return Rejected(
            "naive_instant",
            f"the field {field} is an instant without a UTC offset (write e.g. 2026-04-02T10:00:00+02:00)",
            field,
            event_type,
        )
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == INSTANT_PATTERN:
        return Rejected(
            "invalid_field",
            f"the field {field} is not an RFC 3339 instant with offset in the years 2000–2099",
            field,
            event_type,
        )
    return Rejected("invalid_field", f"the field {field} is invalid: {error['msg']}", field, event_type)

"""The one validator of the event contract, shared by `sno ingest` and the stream worker.

It sits on the hot path (tens of thousands of events per second), so it does the cheap checks first
and only what it must: byte counts on the raw line that prove most lines are neither too large, too
deep nor hold a repeated key, one orjson parse, a byte test that proves most lines carry no `bsn` field
without walking them, and one pydantic-core validation with the validator each model built when it was
defined. Whatever is slow (walking a tree, an exact duplicate-key parse, the UTC range) runs only for
the few lines that the cheap tests cannot clear.

It never raises and never recurses on the input: nesting is measured on the bytes before anything
parses them, so a line nested 100,000 deep is `too_deep` in milliseconds rather than a RecursionError
that would stop the worker at every start (docs/events.md, "Invalid input"). Every failure, expected or not,
comes back as a `Rejected` with a reason code from `REASONS` (documented in schemas/README.md).
"""

from __future__ import annotations

import json
import re
import unicodedata
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, ClassVar, Final

import orjson
from pydantic import ValidationError

from schemas.events import EVENT_MODELS, INSTANT_PATTERN, KEY_FIELDS, NAIVE_INSTANT_PATTERN, TOPICS, EventBase

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "REASONS",
    "Accepted",
    "Rejected",
    "find_bsn",
    "is_bsn_name",
    "may_name_bsn",
    "nesting_depth",
    "validate",
]

#: A line (without its line terminator) longer than this is rejected before it is parsed.
MAX_LINE_BYTES: Final = 1024 * 1024
#: Deepest nesting of objects and arrays admitted, the line's own object being level 1 (docs/events.md).
#: Events of the contract are flat; 64 leaves producers room for nested extras and keeps every later
#: step (orjson serialises at most ~254 levels, Python recursion ~1,000) far from its limit.
MAX_DEPTH: Final = 64
#: The years an instant may lie in, once converted to UTC (docs/events.md).
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2099

#: Every reason code a `Rejected` can carry, with what it means.
REASONS: Final[dict[str, str]] = {
    "too_large": "the line is longer than 1 MiB (not parsed)",
    "too_deep": f"objects and arrays nest deeper than {MAX_DEPTH} levels (not parsed)",
    "not_json": "the line is not valid JSON in UTF-8",
    "not_object": "the line is valid JSON but not an object",
    "bsn_forbidden": "a field named bsn (any case, escaped or in look-alike letters) occurs, at any depth",
    "duplicate_key": "a key occurs twice in one object (JSON parsers disagree on which one wins)",
    "missing_field": "a required field is absent (or conditionally required, as resolved_at)",
    "unknown_type": "`type` is not one of the event types of the contract",
    "wrong_topic": "the event arrived on another type's topic",
    "invalid_field": "a field has the wrong JSON type, an unknown value, or is out of range",
    "naive_instant": "an instant has no UTC offset",
    "order_violation": "an instant is before the instant it must follow (completed_at < started_at …)",
    "internal_error": "the validator itself failed; a bug, reported rather than raised",
}


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

    The message never quotes field values, nor keys that are not plain names: inputs may carry
    personal data, and the message is logged and stored.
    """

    ok: ClassVar[bool] = False

    reason: str
    message: str
    field: str | None = None
    type: str | None = None


def validate(raw: bytes | bytearray | memoryview | str, topic: str | None = None) -> Accepted | Rejected:
    """Validate one JSON Lines line against the event contract (docs/events.md).

    `topic` is where the line arrived, when it arrived on a topic: an event of another type there is
    `wrong_topic` (counted on its own topic only). A trailing line terminator is allowed and not
    counted in the 1 MiB limit.
    """
    try:
        return _validate(raw, topic)
    except Exception as exc:  # the contract: never raise, report
        return Rejected("internal_error", f"the validator failed with {type(exc).__name__}")


#: The only local dates whose instants can leave 2000–2099 in UTC (the pattern holds the year to 20xx).
_EDGE_DATES: Final = re.compile(rb"20(?:00-01-01|99-12-31)")


def _validate(raw: bytes | bytearray | memoryview | str, topic: str | None) -> Accepted | Rejected:
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
    objects = raw.count(b"{")
    if objects + raw.count(b"[") > MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
        return Rejected(
            "too_deep", f"objects and arrays nest deeper than the limit of {MAX_DEPTH} levels"
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("not_json", f"the line is not valid JSON: {exc.args[0] if exc.args else exc}")
    if type(obj) is not dict:
        return Rejected("not_object", f"the line is a JSON {_json_kind(obj)}, not an object")
    event_type = obj.get("type")
    known_type = event_type if type(event_type) is str and event_type in EVENT_MODELS else None
    escaped = raw.find(b"\\") >= 0
    if escaped or not raw.isascii() or _names_bsn_in_ascii(raw):
        path = find_bsn(obj)
        if path is not None:
            return Rejected(
                "bsn_forbidden", f"the field {path} is forbidden: no event may carry a BSN", path, known_type
            )
    # Duplicate keys: orjson keeps the last silently. Every key in the bytes is a string directly
    # followed by `:`, so when the bytes have as many `":` as the parsed objects have keys (and no
    # space between a string and what follows it), no key can have been repeated.
    keys = len(obj) if objects == 1 else _count_keys(obj)
    if (
        raw.count(b'":') != keys
        or (len(raw.translate(None, _WHITESPACE)) != len(raw) and _SPACED_QUOTE.search(raw) is not None)
    ) and len(_KEY_END.findall(raw)) != keys:
        repeated = _repeated_key(raw)
        if repeated is not None:
            name = _plain(repeated)
            return Rejected(
                "duplicate_key",
                f"the key {name} occurs twice in one object" if name else "a key occurs twice in one object",
                name,
                known_type,
            )
    if known_type is None:
        if event_type is None and "type" not in obj:
            return Rejected("missing_field", "the field type is missing", "type")
        return Rejected("unknown_type", f"the field type is not one of {', '.join(TOPICS)}", "type")
    expected_topic = TOPICS[known_type]
    if topic is not None and topic != expected_topic:
        return Rejected(
            "wrong_topic",
            f"a {known_type} event belongs on {expected_topic}, not on {_plain(topic) or 'this topic'}",
            "type",
            known_type,
        )
    try:
        event: EventBase = EVENT_MODELS[known_type].__pydantic_validator__.validate_python(obj)
    except ValidationError as exc:
        return _rejection(exc, known_type)
    record = event.model_dump()
    # Only an instant dated 2000-01-01 or 2099-12-31 (or spelled with escapes) can leave 2000–2099 once
    # converted to UTC; the pattern already holds the local year to 20xx. (`escaped`: any backslash.)
    if escaped or _EDGE_DATES.search(raw) is not None:
        outside = _outside_years(record)
        if outside is not None:
            return Rejected(
                "invalid_field",
                f"the field {outside} lies outside the years {FIRST_YEAR}–{LAST_YEAR} once converted to "
                "UTC",
                outside,
                known_type,
            )
    return Accepted(
        event,
        record,
        known_type,
        expected_topic,
        obj[KEY_FIELDS[known_type]].encode("utf-8", "surrogatepass"),
    )


# --- nesting -----------------------------------------------------------------------------------------

#: A JSON string, or an unterminated one running to the end of the bytes.
_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
#: `{`/`[` to 1 and `}`/`]` to -1 (as signed bytes), everything else deleted.
_BRACKET_TABLE: Final = bytes.maketrans(b"{[}]", b"\x01\x01\xff\xff")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"{[}]")


def nesting_depth(raw: bytes) -> int:
    """How deep objects and arrays nest in `raw`, the outermost being 1, without parsing it.

    Works on any bytes (brackets inside strings do not count; an unterminated string runs to the end),
    in C loops only: about 30 ms for a mebibyte of brackets, so a hostile line costs no more than that.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKET_TABLE, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(array("b", brackets))))


# --- duplicate keys ----------------------------------------------------------------------------------

_KEY_END: Final = re.compile(rb'"[ \t\r\n]*:')
_WHITESPACE: Final = b" \t\r\n"
_SPACED_QUOTE: Final = re.compile(rb'"[ \t\r\n]')


def _count_keys(value: Any) -> int:
    """Keys of every object in a parsed tree (iterative: the tree may be 64 deep)."""
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            count += len(node)
            stack.extend(v for v in node.values() if type(v) is dict or type(v) is list)
        else:
            stack.extend(v for v in node if type(v) is dict or type(v) is list)
    return count


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)
    return {}


def _repeated_key(raw: bytes) -> str | None:
    """The first key repeated within one object, parsed exactly (keys compared after unescaping).

    Only for the few lines the byte count cannot clear. The standard library's parser is the only one
    that shows every pair; orjson accepted the line already and it is at most 64 deep, so this parse
    cannot fail on depth, and numbers are not converted (no digit limit applies).
    """
    try:
        json.loads(raw, object_pairs_hook=_pairs, parse_int=len, parse_float=len, parse_constant=len)
    except _Repeated as repeated:
        return repeated.key
    return None


# --- BSN ---------------------------------------------------------------------------------------------

#: Bytes that continue a name: `bsn` next to one is part of a longer name (`bsn_count`, `abonnement-bsn-
#: lijst`), not a `bsn` field.
_NAME_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-")
#: Unicode categories that do not show (controls, formats such as zero-width spaces, combining marks,
#: private use, unassigned) and are ignored when a name is compared with `bsn`.
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"})


def may_name_bsn(raw: bytes) -> bool:
    """False only when no key of `raw` can be a `bsn` field, however spelled: no `bsn` word in ASCII
    letters of any case, no escape sequence, no byte outside ASCII. Most events pass in a few hundred
    nanoseconds (C searches only) and are never walked."""
    return not raw.isascii() or raw.find(b"\\") >= 0 or _names_bsn_in_ascii(raw)


def _names_bsn_in_ascii(raw: bytes) -> bool:
    """The `bsn` word (any case, not part of a longer name) occurs in the bytes."""
    low = raw.lower()
    at = low.find(b"bsn")
    while at >= 0:
        after = at + 3
        if (at == 0 or low[at - 1] not in _NAME_BYTES) and (
            after == len(low) or low[after] not in _NAME_BYTES
        ):
            return True
        at = low.find(b"bsn", after)
    return False


def is_bsn_name(name: str) -> bool:
    """Whether a key names a BSN: `bsn` in any case, also in look-alike letters that Unicode folds to
    it (fullwidth `ｂｓｎ`, `ſ`, mathematical letters) and with invisible characters mixed in."""
    if name.isascii():
        if len(name) == 3:
            return name.lower() == "bsn"
        if name.isprintable():
            return name.strip().lower() == "bsn"
    return _fold(name).strip() == "bsn"


def _fold(text: str, control: str = "") -> str:
    """Unicode compatibility folding and case folding; invisible characters removed, and control
    characters (newlines, tabs, NUL …) replaced by `control`."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if folded.isascii():
        return folded if folded.isprintable() else folded.translate(_CONTROLS[control])
    return "".join(
        control if category == "Cc" else c
        for c in folded
        if c != "\ufffd" and ((category := unicodedata.category(c)) == "Cc" or category not in _INVISIBLE)
    )


_CONTROLS: Final = {
    replacement: {code: replacement or None for code in (*range(32), 127)} for replacement in ("", " ")
}


def find_bsn(value: Any) -> str | None:
    """The JSON path (`$.a[0].bsn`) of the first key that names a BSN (`is_bsn_name`), or None.

    Iterative rather than recursive. Path segments that are not plain names (they could be anything,
    a BSN too) are written `*`.
    """
    stack: list[tuple[Any, str]] = [(value, "$")]
    while stack:
        node, path = stack.pop()
        if type(node) is dict:
            for key, child in node.items():
                if is_bsn_name(key):
                    return f"{path}.{key if key.isascii() and key.isalpha() else 'bsn'}"
                if type(child) is dict or type(child) is list:
                    stack.append((child, f"{path}.{_plain(key) or '*'}"))
        elif type(node) is list:
            for index, child in enumerate(node):
                if type(child) is dict or type(child) is list:
                    stack.append((child, f"{path}[{index}]"))
    return None


_PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


def _plain(name: str) -> str | None:
    """`name` if it is a plain name that can be quoted in a message (letters first, no digits-only
    runs that could be an identifier), else None."""
    if _PLAIN.fullmatch(name) is None or re.search(r"\d{5}", name):
        return None
    return name


# --- instants ----------------------------------------------------------------------------------------


def _outside_years(record: dict[str, Any]) -> str | None:
    for name, value in record.items():
        if isinstance(value, datetime) and not FIRST_YEAR <= value.astimezone(UTC).year <= LAST_YEAR:
            return name
    return None


_INSTANT_PARTS: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt](?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(\.\d+)?"
    r"(?:[Zz]|[+-](?P<offset_hour>\d{2}):(?P<offset_minute>\d{2}))$"
)


def _instant_problem(text: str) -> str | None:
    """A clear sentence for an RFC 3339 instant the datetime parser refused, where its own is unclear."""
    parts = _INSTANT_PARTS.match(text)
    if parts is None:
        return None
    if parts["second"] == "60":
        return (
            "is a leap second (second 60), which the contract does not admit: its instants count seconds "
            "00–59 as POSIX time does; give the instant as second 59 or as the next minute's second 00"
        )
    if parts["hour"] == "24":
        return "has hour 24: write 00:00 of the next day"
    if int(parts["hour"]) > 23 or int(parts["minute"]) > 59 or int(parts["second"]) > 60:
        return "has an hour, minute or second out of range"
    if parts["offset_hour"] is not None and (
        int(parts["offset_hour"]) > 23 or int(parts["offset_minute"]) > 59
    ):
        return "has a UTC offset out of range (at most ±23:59)"
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
    value = error.get("input")
    if kind == "timezone_aware" or (
        kind == "string_pattern_mismatch"
        and ctx.get("pattern") == INSTANT_PATTERN
        and isinstance(value, str)
        and NAIVE_INSTANT_PATTERN.match(value)
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
            f"the field {field} is not an RFC 3339 instant with offset in the years 2000–2099 "
            "(YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)",
            field,
            event_type,
        )
    if kind.startswith("datetime") and isinstance(value, str):
        problem = _instant_problem(value)
        if problem is not None:
            return Rejected("invalid_field", f"the field {field} {problem}", field, event_type)
    return Rejected("invalid_field", f"the field {field} is invalid: {error['msg']}", field, event_type)

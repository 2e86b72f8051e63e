"""Dead-letter records: what `sno.deadletter` holds for every rejected input (docs/events.md,
"Invalid input").

One builder serves `sno ingest` (source: file and line) and the stream worker (source: topic, partition
and offset), so that operators read one format whatever refused the input. The format is documented in
schemas/README.md.

Two deliberate departures from "the original bytes, verbatim":

- A BSN must not survive into the dead letters, or rejecting it would only move it (and base64 would
  hide it from a plain grep audit). Every value of a field that names a BSN (`schemas.validate.
  is_bsn_name`: any case, escapes, look-alike letters) is replaced by `"[redacted]"`. Parseable JSON is
  redacted on the parsed tree; anything else (broken JSON, the cut prefix of a long line, a tree too
  deep to serialise) on the bytes, whatever the value's shape (string, number, array, object, cut off
  by the end). Then a check that cannot be fooled by the redaction's own parsing looks at the result
  once more with every escape decoded and every look-alike folded: if a `bsn` word is left that is not
  a redacted field, the original is left out altogether (`original_omitted`). `original_redacted` is
  true only when a value was replaced and nothing was left.
- Kafka refuses messages over about 1 MB, and base64 adds a third: the original is cut to
  `MAX_ORIGINAL_BYTES` (`original_truncated`, with `original_size` the full size).

Nothing here recurses on the input or can raise on it: a redaction that fails for any reason leaves
the original out.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple, NotRequired, TypedDict

import orjson

from schemas.validate import MAX_DEPTH, Rejected, _fold, is_bsn_name, may_name_bsn, nesting_depth

__all__ = [
    "DEADLETTER_VERSION",
    "MAX_ORIGINAL_BYTES",
    "DeadLetter",
    "FileSource",
    "Redaction",
    "TopicSource",
    "build_deadletter",
    "deadletter_record",
    "original_bytes",
    "parse_deadletter",
    "redact_bsn",
]

#: Version of the dead-letter record format; bumped on any incompatible change (`original_omitted`
#: was added compatibly: a record without it left nothing out).
DEADLETTER_VERSION: Final = 1
#: The most of an original input kept in a record (256 KiB; about 342 KiB once base64-encoded).
MAX_ORIGINAL_BYTES: Final = 256 * 1024

REDACTED: Final = "[redacted]"
#: What a redacted field becomes in the bytes path, whatever its key's spelling was.
_REDACTED_PAIR: Final = b'"bsn":"[redacted]"'


@dataclass(frozen=True, slots=True)
class FileSource:
    """Where `sno ingest` read a rejected line: the file as given on the command line, line from 1."""

    file: str
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "file", "file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class TopicSource:
    """Where the stream worker consumed a rejected message."""

    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "topic", "topic": self.topic, "partition": self.partition, "offset": self.offset}


class DeadLetter(TypedDict):
    """One record of `sno.deadletter`, as JSON."""

    version: int
    reason: str
    message: str
    field: str | None
    type: str | None
    source: dict[str, Any]
    original: str
    original_size: int
    original_truncated: bool
    original_redacted: bool
    #: true when the original is left out (empty) because it could not be redacted with certainty
    original_omitted: NotRequired[bool]
    rejected_at: str


class Redaction(NamedTuple):
    """The bytes to keep of an original, and what was done to them.

    `redacted`: a value of a BSN field was replaced and nothing that could be one is left. `omitted`:
    the original could not be redacted with certainty, so `data` is empty.
    """

    data: bytes
    redacted: bool
    omitted: bool


class _Doubt(Exception):
    """The bytes path cannot tell with certainty where a BSN field's value ends."""


def redact_bsn(raw: bytes) -> Redaction:
    """Replace the value of every BSN field by "[redacted]", or leave the original out when in doubt.

    Lines in which no key can name a BSN (`may_name_bsn`) are returned as they are, so the common
    dead letters cost nothing. Never raises: any failure leaves the original out.
    """
    if not may_name_bsn(raw):
        return Redaction(raw, False, False)
    try:
        data, replaced = _redact(raw)
        if _bsn_left(data, replaced):
            return Redaction(b"", False, True)
        return Redaction(data, replaced, False)
    except Exception:  # _Doubt, or anything the input provoked: keep nothing rather than too much
        return Redaction(b"", False, True)


def _redact(raw: bytes) -> tuple[bytes, bool]:
    """Redact on the parsed tree when the bytes are JSON that can be serialised again, else on the bytes."""
    if nesting_depth(raw) <= MAX_DEPTH:
        try:
            tree = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if not _redact_tree(tree):
                return raw, False
            return orjson.dumps(tree), True
    return _redact_bytes(raw)


def _redact_tree(value: Any) -> bool:
    found = False
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                if is_bsn_name(key):
                    node[key] = REDACTED
                    found = True
                elif isinstance(node[key], dict | list):
                    stack.append(node[key])
        elif isinstance(node, list):
            stack.extend(child for child in node if isinstance(child, dict | list))
    return found


#: A token of JSON-like bytes: a double- or single-quoted string (unterminated: to the end), or a bare word.
_TOKEN: Final = re.compile(
    rb"""
      "(?:[^"\\]|\\.)*(?:"|\\?\Z)
    | '(?:[^'\\]|\\.)*(?:'|\\?\Z)
    | [^\s"',:;=\[\](){}]+
    """,
    re.VERBOSE | re.DOTALL,
)
#: Between a key and its value: `:` or `=`, perhaps after a stray quote the tokens did not pair.
_SEPARATOR: Final = re.compile(rb"""\s*["']?\s*[:=]\s*""")
_DQ_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_SQ_STRING: Final = re.compile(rb"'(?:[^'\\]|\\.)*(?:'|\\?\Z)", re.DOTALL)
_STRUCTURE: Final = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_SCALAR: Final = re.compile(rb"[^,}\]\r\n&;]*")
_AFTER_VALUE: Final = re.compile(rb"\s*(?:[,}\]]|\Z)")


def _redact_bytes(data: bytes) -> tuple[bytes, bool]:
    """Find every key that names a BSN in bytes that are not (whole) JSON, and replace it and its value,
    whatever the value's shape, by `"bsn":"[redacted]"`; a value cut off by the end runs to the end."""
    out: list[bytes] = []
    done = 0
    position = 0
    replaced = False
    while True:
        token = _TOKEN.search(data, position)
        if token is None:
            break
        position = token.end()
        text = token.group()
        if text.isascii() and b"\\" not in text and b"bsn" not in text.lower():
            continue
        if not is_bsn_name(_token_name(text)):
            continue
        separator = _SEPARATOR.match(data, position)
        if separator is None:
            continue  # a mention, not a key: the final check decides
        end = _value_end(data, separator.end())
        out += (data[done : token.start()], _REDACTED_PAIR)
        done = position = end
        replaced = True
    out.append(data[done:])
    return b"".join(out), replaced


def _value_end(data: bytes, start: int) -> int:
    """Where the value starting at `start` ends; raises `_Doubt` when that is not certain."""
    if start >= len(data):
        return start
    first = data[start : start + 1]
    if first in (b'"', b"'"):
        match = (_DQ_STRING if first == b'"' else _SQ_STRING).match(data, start)
        assert match is not None
        end = match.end()
    elif first in (b"[", b"{"):
        depth = 0
        end = len(data)
        for match in _STRUCTURE.finditer(data, start):
            piece = match.group()
            if piece in (b"[", b"{"):
                depth += 1
            elif piece in (b"]", b"}"):
                depth -= 1
                if depth == 0:
                    end = match.end()
                    break
    else:
        scalar = _SCALAR.match(data, start)
        assert scalar is not None
        return scalar.end()
    if end < len(data) and _AFTER_VALUE.match(data, end) is None:
        raise _Doubt  # the value's end is not followed by what follows a value: the bytes lie about it
    return end


_ESCAPE: Final = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", re.DOTALL)
_SIMPLE_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def _unescape(text: str) -> str:
    """JSON (and \\xNN) escapes decoded, leniently; surrogate pairs joined."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return chr(int(match.group(1), 16))
        if match.group(2) is not None:
            return chr(int(match.group(2), 16))
        char = match.group(3)
        return _SIMPLE_ESCAPES.get(char, char)

    decoded = _ESCAPE.sub(one, text)
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _token_name(token: bytes) -> str:
    """The name a token spells: quotes taken off, escapes decoded."""
    text = token.decode("utf-8", "replace")
    if text[:1] in ('"', "'"):
        text = text[1:-1] if len(text) > 1 and text[-1] == text[0] else text[1:]
    return _unescape(text)


#: Any key followed by a redacted value: what the redaction wrote, in the tree path or the bytes path.
_REDACTED_FIELD: Final = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:\s*"\[redacted\]"')
_BSN_WORD: Final = re.compile(r"(?<![a-z0-9_\-])bsn(?![a-z0-9_\-])")
#: Nine digits (or eight: a leading zero dropped), perhaps grouped by spaces, dots or dashes.
_NUMBER: Final = re.compile(r"(?<![0-9])[0-9](?:[ .\-]?[0-9]){7,8}(?![0-9])")


def _bsn_left(data: bytes, replaced: bool) -> bool:
    """Whether the bytes still name a BSN field or, after a redaction, still hold a BSN-shaped number.

    Independent of how the redaction parsed them: every redacted field is taken out, then every escape
    is decoded (several rounds, for JSON held in a string), every look-alike letter folded and control
    characters made spaces; what is left may not contain the word `bsn`. After a redaction, neither
    may it contain a number that passes the BSN check digit test (the elfproef), in case the bytes hid
    the value's true end.
    """
    text = _REDACTED_FIELD.sub(b" ", data).decode("utf-8", "replace")
    for _ in range(6):
        decoded = _unescape(text)
        if decoded == text:
            break
        text = decoded
    else:
        return True  # escapes nested ever deeper: no certainty
    folded = _fold(text, " ")
    if _BSN_WORD.search(folded) is not None:
        return True
    if replaced:
        for match in _NUMBER.finditer(folded):
            if _elfproef(re.sub(r"[^0-9]", "", match.group())):
                return True
    return False


def _elfproef(digits: str) -> bool:
    """The BSN check: weights 9…2 and −1 over nine digits give a multiple of 11 (and not 0)."""
    digits = digits.zfill(9)
    if len(digits) != 9 or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1), strict=True))
    return total % 11 == 0


def deadletter_record(
    rejected: Rejected,
    original: bytes,
    source: FileSource | TopicSource,
    *,
    original_size: int | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    """The dead-letter record of one rejected input (docs/events.md, "Invalid input").

    `original_size` is the full size when the caller kept only a prefix of an over-long line (ingest
    does not hold a line of a gigabyte in memory just to cut it here).
    """
    size = len(original) if original_size is None else original_size
    kept = original[:MAX_ORIGINAL_BYTES]
    truncated = len(kept) < size
    redaction = redact_bsn(kept)
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": DEADLETTER_VERSION,
        "reason": rejected.reason,
        "message": rejected.message,
        "field": rejected.field,
        "type": rejected.type,
        "source": source.as_dict(),
        "original": base64.b64encode(redaction.data).decode("ascii"),
        "original_size": size,
        "original_truncated": truncated,
        "original_redacted": redaction.redacted,
        "original_omitted": redaction.omitted,
        "rejected_at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def build_deadletter(
    rejected: Rejected,
    original: bytes,
    source: FileSource | TopicSource,
    *,
    original_size: int | None = None,
    now: datetime | None = None,
) -> bytes:
    """The dead-letter record as the JSON bytes published to `sno.deadletter`."""
    return orjson.dumps(deadletter_record(rejected, original, source, original_size=original_size, now=now))


def parse_deadletter(data: bytes) -> DeadLetter:
    """Read a record back (for tools and tests); raises ValueError when it is not one."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError("not a dead-letter record: not JSON") from exc
    required = DeadLetter.__required_keys__
    missing = set(required) - set(record) if isinstance(record, dict) else {"*"}
    if missing:
        raise ValueError(f"not a dead-letter record: missing {', '.join(sorted(missing))}")
    record.setdefault("original_omitted", False)
    return record  # type: ignore[no-any-return]


def original_bytes(record: DeadLetter) -> bytes:
    """The (possibly cut and redacted) original input of a record; empty when it was left out."""
    return base64.b64decode(record["original"])

"""Dead-letter records: what `sno.deadletter` holds for every rejected input (docs/events.md,
"Invalid input").

One builder serves `sno ingest` (source: file and line) and the stream worker (source: topic, partition
and offset), so that operators read one format whatever refused the input. The format is documented in
schemas/README.md.

Two deliberate departures from "the original bytes, verbatim":

- A BSN must not survive into the dead-letter topic, or rejecting it would only move it. The value of
  every field named `bsn` (any letter case) is replaced by `"[redacted]"` and `original_redacted` says
  so. Parseable JSON is redacted exactly; a line that is not JSON is redacted by pattern, best effort.
- Kafka refuses messages over about 1 MB, and base64 adds a third: the original is cut to
  `MAX_ORIGINAL_BYTES` (`original_truncated`, with `original_size` the full size).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

import orjson

from schemas.validate import BSN_HINT, Rejected

__all__ = [
    "DEADLETTER_VERSION",
    "MAX_ORIGINAL_BYTES",
    "DeadLetter",
    "FileSource",
    "TopicSource",
    "build_deadletter",
    "deadletter_record",
    "original_bytes",
    "parse_deadletter",
    "redact_bsn",
]

#: Version of the dead-letter record format; bumped on any incompatible change.
DEADLETTER_VERSION: Final = 1
#: The most of an original input kept in a record (256 KiB; about 342 KiB once base64-encoded).
MAX_ORIGINAL_BYTES: Final = 256 * 1024

REDACTED: Final = "[redacted]"
# `"bsn": <a string, or any run of scalar characters>` in bytes that could not be parsed.
_BSN_PAIR: Final = re.compile(rb'("[Bb][Ss][Nn]"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]*)')


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
    rejected_at: str


def redact_bsn(raw: bytes) -> tuple[bytes, bool]:
    """Replace the value of every `bsn` field by "[redacted]"; returns the bytes and whether any was.

    Lines without a `bsn` hint are returned as they are, so the common dead letters cost nothing.
    """
    if BSN_HINT.search(raw) is None:
        return raw, False
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        redacted, count = _BSN_PAIR.subn(lambda m: m.group(1) + b'"' + REDACTED.encode() + b'"', raw)
        return redacted, count > 0
    if not _redact_tree(parsed):
        return raw, False
    return orjson.dumps(parsed), True


def _redact_tree(value: Any) -> bool:
    found = False
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                if len(key) == 3 and key.lower() == "bsn":
                    node[key] = REDACTED
                    found = True
                elif isinstance(node[key], dict | list):
                    stack.append(node[key])
        elif isinstance(node, list):
            stack.extend(child for child in node if isinstance(child, dict | list))
    return found


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
    kept, redacted = redact_bsn(kept)
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": DEADLETTER_VERSION,
        "reason": rejected.reason,
        "message": rejected.message,
        "field": rejected.field,
        "type": rejected.type,
        "source": source.as_dict(),
        "original": base64.b64encode(kept).decode("ascii"),
        "original_size": size,
        "original_truncated": truncated,
        "original_redacted": redacted,
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
    missing = set(DeadLetter.__annotations__) - set(record) if isinstance(record, dict) else {"*"}
    if missing:
        raise ValueError(f"not a dead-letter record: missing {', '.join(sorted(missing))}")
    return record  # type: ignore[no-any-return]


def original_bytes(record: DeadLetter) -> bytes:
    """The (possibly cut and redacted) original input of a record."""
    return base64.b64decode(record["original"])

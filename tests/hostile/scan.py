"""The BSN audit: look for the corpus's BSNs everywhere the pipeline writes, after decoding.

A plain grep is not enough: dead-letter originals are base64 (in the topic and in `sno_deadletter`),
ClickHouse compresses its column files, and JSON may spell a digit as `\\u0031` or in fullwidth. So every
blob is searched in two views: its bytes, and its text with base64 dead-letter originals decoded,
JSON escapes decoded and Unicode compatibility-folded (NFKC). Written independently of the code under
test (schemas/deadletter.py).
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass
class Hits:
    """Where a needle was found: (place, needle) pairs, and how much was looked at."""

    found: list[tuple[str, bytes]] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0
    deadletters_decoded: int = 0

    def __bool__(self) -> bool:
        return bool(self.found)


def _views(blob: bytes) -> list[bytes]:
    text = blob.decode("utf-8", "replace")
    for _ in range(4):
        decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        decoded = decoded.replace('\\"', '"').replace("\\\\", "\\")
        if decoded == text:
            break
        text = decoded
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    folded = unicodedata.normalize("NFKC", text)
    return [blob, folded.encode("utf-8", "replace")]


def scan(blobs: Iterable[tuple[str, bytes]], needles: set[bytes], hits: Hits | None = None) -> Hits:
    """Search every (place, blob) in both views for every needle."""
    hits = hits if hits is not None else Hits()
    for place, blob in blobs:
        hits.blobs += 1
        hits.bytes += len(blob)
        for view in _views(blob):
            for needle in needles:
                if needle in view:
                    hits.found.append((place, needle))
    return hits


def deadletter_blobs(place: str, value: bytes, hits: Hits) -> list[tuple[str, bytes]]:
    """A `sno.deadletter` record and its decoded original."""
    out = [(place, value)]
    try:
        record = json.loads(value)
        original = base64.b64decode(record["original"])
    except Exception:
        return out
    hits.deadletters_decoded += 1
    out.append((f"{place} (original decoded)", original))
    return out


def file_blobs(root: Path) -> list[tuple[str, bytes]]:
    """Every file under `root` (store folders, logs), as it lies on disk."""
    return [(str(path), path.read_bytes()) for path in sorted(root.rglob("*")) if path.is_file()]


def table_blobs(store: Any, hits: Hits) -> list[tuple[str, bytes]]:
    """Every row of every table of a store as text, with `sno_deadletter.original` decoded."""
    out: list[tuple[str, bytes]] = []
    # the parameterized views (sql/migrations/0009) hold no rows of their own: their tables are read
    tables = "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine != 'View'"
    for (table,) in store.query(tables):
        rows = store.query(f"SELECT * FROM `{table}`")
        out.append((f"table {table}", "\n".join(map(repr, rows)).encode("utf-8", "surrogatepass")))
    for (original,) in store.query("SELECT original FROM sno_deadletter"):
        hits.deadletters_decoded += 1
        out.append(("sno_deadletter.original (decoded)", base64.b64decode(original)))
    return out

"""Validate lines and hand each to the publisher: a valid event to its topic, a rejected line's dead-letter
record to `sno.deadletter`; and the run's `IngestSummary` of what was sent and refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from schemas.deadletter import DeadLetter, FileSource, deadletter_record
from schemas.validate import MAX_LINE_BYTES, Accepted, Rejected, validate
from sno.core.topics import DEADLETTER_TOPIC, TOPICS
from sno.ingest.publisher import BatchPublisher

__all__ = ["UNKNOWN_TYPE", "IngestSummary", "publish_lines"]

#: How a summary counts rejected lines whose `type` is missing or not in the contract.
UNKNOWN_TYPE: Final = "(unknown)"


@dataclass
class IngestSummary:
    """What an ingest run did: events sent per type, lines rejected per reason and per type.

    `lines` counts the lines that were events or rejections; blank lines are counted apart.
    """

    files: list[str] = field(default_factory=list)
    lines: int = 0
    blank_lines: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_by_type: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def sent_total(self) -> int:
        return sum(self.sent.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "lines": self.lines,
            "blank_lines": self.blank_lines,
            "sent": dict(self.sent),
            "rejected": dict(self.rejected),
            "rejected_by_type": dict(self.rejected_by_type),
            "seconds": round(self.seconds, 3),
        }

    def render(self) -> str:
        """The summary printed at the end of `sno ingest`: per type sent and rejected, then reasons."""
        out = [
            f"sent {self.sent_total:,} events, rejected {self.rejected_total:,} lines "
            f"({self.lines:,} lines in {self.seconds:.2f} s, {self.lines_per_second:,.0f} lines/s)"
        ]
        types = [t for t in (*TOPICS, UNKNOWN_TYPE) if self.sent[t] or self.rejected_by_type[t]]
        if types:
            out.append(f"  {'type':<18}{'sent':>12}{'rejected':>12}")
            for event_type in types:
                out.append(
                    f"  {event_type:<18}{self.sent[event_type]:>12,}{self.rejected_by_type[event_type]:>12,}"
                )
        if self.rejected:
            out.append(f"rejected lines, by reason (sent to {DEADLETTER_TOPIC}):")
            for reason, count in self.rejected.most_common():
                out.append(f"  {reason:<18}{count:>12,}")
        return "\n".join(out)



def publish_lines(
    lines: Sequence[bytes],
    first_line: int,
    source: str,
    publisher: BatchPublisher,
    summary: IngestSummary,
    oversize: dict[int, int] | None = None,
    *,
    position: int = 0,
    on_deadletter: Callable[[DeadLetter], None] | None = None,
    publish_deadletters: bool = True,
) -> None:
    """Validate lines and add each to its topic, or its dead-letter record to `sno.deadletter`.

    `first_line` is the line number of `lines[0]` (from 1) and `position` its place in the run (for
    `BatchPublisher.unpublished_from`). Blank lines are skipped and not counted as events. Dead-letter
    records also go to `on_deadletter` when given (`sno replay` keeps them in the store), and to the
    topic unless `publish_deadletters` is off. Synchronous: the caller decides when batches go out.
    """
    sent = summary.sent
    rejected = summary.rejected
    blank = 0
    for index, line in enumerate(lines):
        if not line or line.isspace():
            blank += 1
            continue
        size = oversize.get(index) if oversize else None
        result: Accepted | Rejected
        if size is None:
            result = validate(line)
        else:
            result = Rejected(
                "too_large", f"the line has {size} bytes, more than the limit of {MAX_LINE_BYTES}"
            )
        if type(result) is Accepted:
            publisher.add(result.topic, result.key, line, position + index)
            sent[result.type] += 1
        else:
            assert isinstance(result, Rejected)
            where = FileSource(source, first_line + index)
            record = deadletter_record(result, line, where, original_size=size)
            if on_deadletter is not None:
                on_deadletter(record)
            if publish_deadletters:
                key = f"{source}:{where.line}".encode()
                publisher.add(DEADLETTER_TOPIC, key, orjson.dumps(record), position + index)
            rejected[result.reason] += 1
            summary.rejected_by_type[result.type or UNKNOWN_TYPE] += 1
    summary.lines += len(lines) - blank
    summary.blank_lines += blank


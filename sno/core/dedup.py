"""Duplicate detection (docs/events.md): the same ``event_id`` of the same type within 24 hours of event time
counts once.

Producers retry, so the stream sees some events twice; counting them twice would inflate volumes and
peaks. Memory is bounded by forgetting what lies more than the window behind the newest event time seen,
and the state is plain data so the pipeline can persist it with its offsets and survive a restart.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sno.core.calendar import TZ
from sno.core.intervals import instant_key

__all__ = ["EVENT_TIME_FIELDS", "Deduplicator", "event_time"]

#: type -> the field holding its primary instant
EVENT_TIME_FIELDS: dict[str, str] = {
    "authentication": "started_at",
    "transaction": "started_at",
    "message": "received_at",
    "notification": "queued_at",
    "api_request": "received_at",
    "support_contact": "received_at",
    "incident": "updated_at",
    "outage": "updated_at",
    "maintenance": "updated_at",
}


def event_time(event: Mapping[str, Any]) -> datetime:
    """The primary instant of an event: what windows, buckets and duplicates go by (R1, R2).

    A forecast has no instant of its own; its time is local midnight starting its month.
    """
    kind = event["type"]
    field = EVENT_TIME_FIELDS.get(kind)
    if field is not None:
        return event[field]
    if kind == "forecast":
        year, month = str(event["month"]).split("-")
        return datetime(int(year), int(month), 1, tzinfo=TZ)
    raise ValueError(f"unknown event type {kind!r}")


class Deduplicator:
    """Says whether an event repeats one already counted within ``window`` of its event time."""

    def __init__(self, window: timedelta = timedelta(hours=24)) -> None:
        self.window = window
        self._window_us = window // timedelta(microseconds=1)
        #: (type, event_id) -> event times (µs since epoch) of the copies that were counted
        self._seen: dict[tuple[str, str], list[int]] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._newest: int | None = None

    def is_duplicate(self, event: Mapping[str, Any]) -> bool:
        """True when the same type and ``event_id`` was counted within the window of this event's time;
        otherwise the event is remembered as counted and False is returned."""
        t = instant_key(event_time(event))
        key = (str(event["type"]), str(event["event_id"]))
        times = self._seen.get(key)
        if times is not None and any(abs(t - s) <= self._window_us for s in times):
            return True
        if times is None:
            self._seen[key] = [t]
        else:
            times.append(t)
        heapq.heappush(self._heap, (t, key[0], key[1]))
        if self._newest is None or t > self._newest:
            self._newest = t
            self._forget()
        return False

    def _forget(self) -> None:
        assert self._newest is not None
        horizon = self._newest - self._window_us
        heap = self._heap
        while heap and heap[0][0] < horizon:
            t, kind, event_id = heapq.heappop(heap)
            key = (kind, event_id)
            times = self._seen.get(key)
            if times is None:
                continue
            with contextlib.suppress(ValueError):
                times.remove(t)
            if not times:
                del self._seen[key]

    def __len__(self) -> int:
        return sum(len(v) for v in self._seen.values())

    def snapshot(self) -> dict[str, Any]:
        """The state as plain JSON-able data (instants as µs since the Unix epoch)."""
        return {
            "window_seconds": self.window.total_seconds(),
            "newest": self._newest,
            "seen": [[kind, event_id, list(times)] for (kind, event_id), times in self._seen.items()],
        }

    def restore(self, state: Mapping[str, Any]) -> Deduplicator:
        """Replace this object's state by :meth:`snapshot` output and return it, so both
        ``Deduplicator().restore(state)`` and ``dedup.restore(state)`` continue where the state left off."""
        self.window = timedelta(seconds=float(state["window_seconds"]))
        self._window_us = self.window // timedelta(microseconds=1)
        self._newest = state.get("newest")
        self._seen = {}
        self._heap = []
        for kind, event_id, times in state["seen"]:
            self._seen[(kind, event_id)] = [int(t) for t in times]
            for t in times:
                self._heap.append((int(t), kind, event_id))
        heapq.heapify(self._heap)
        return self


def utc_from_key(key_us: int) -> datetime:
    """The aware UTC instant of a µs-since-epoch key (for reading a snapshot back)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key_us)

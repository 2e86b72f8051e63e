"""Duplicate detection (docs/events.md): the same ``event_id`` of the same type whose event time lies within
24 hours of a counted copy's counts once, whatever the order and the delay in which the copies arrive.

Producers retry and re-send whole batches hours or days later, so the stream sees some events twice,
in any order; counting them twice would inflate volumes, peaks and shares. Two pieces decide:

- :class:`Deduplicator` keeps, per owner of a set of ids (the pipeline: per partition, one owner per
  ``event_id``), the counted ids of the recent past in memory. It forgets a copy only once the copy lies
  ``window + lateness`` behind the newest event time it has seen *and* the copy is confirmed stored, so
  for any event no more than ``lateness`` behind the newest its answer is complete on its own.
- An older event cannot be decided from memory alone (its counted copy may have been forgotten): the
  caller asks its store, which holds every counted id with its event time, and passes what it found as
  ``known`` (:meth:`Deduplicator.needs_lookup` says when). The pipeline asks once per batch.

The counted copy is the first to arrive. Re-deliveries are byte-for-byte copies (same event time), and
for them the result is the same in every arrival order. (Copies of one id with *different* event times
within 24 h of each other are ambiguous in the contract when there are three or more of them spread over
more than a day; the first to arrive wins, see docs in streams/README.md.)

Memory is bounded: keys are 128-bit digests of (type, event_id) (a collision within one day is about
10^-26 likely) grouped by the hour of their event time, so whole hours are dropped at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sno.core.calendar import TZ
from sno.core.intervals import instant_key

__all__ = ["EVENT_TIME_FIELDS", "Deduplicator", "event_time", "id_digest"]

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

_HOUR_US = 3_600_000_000


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


def id_digest(kind: str, event_id: str) -> int:
    """The memory key of (type, event_id): 128 bits of BLAKE2b (an id string costs twice the memory)."""
    data = f"{kind}\x00{event_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "big")


class Deduplicator:
    """Says whether an event repeats a copy counted within ``window`` of its event time.

    ``lateness`` is how far behind the newest event time an event may be and still be decided from
    memory alone; older ones need :meth:`needs_lookup` and the store's copies passed as ``known``.
    Every counted copy carries the sequence number of the batch that counted it; :meth:`confirm` says
    which batches are stored, and only stored copies are ever forgotten.
    """

    def __init__(self, window: timedelta = timedelta(hours=24),
                 lateness: timedelta = timedelta(hours=1)) -> None:
        self.window = window
        self.lateness = lateness
        self._window_us = window // timedelta(microseconds=1)
        self._lateness_us = lateness // timedelta(microseconds=1)
        #: digest -> event time (µs) of the counted copy, or a list when several copies were counted
        self._times: dict[int, int | list[int]] = {}
        #: hour of event time -> [highest batch sequence in it, digests counted in it]
        self._hours: dict[int, list[Any]] = {}
        self._newest: int | None = None
        self._confirmed = -1
        self._size = 0

    # -- reading ---------------------------------------------------------------------------------

    @property
    def newest(self) -> int | None:
        """The newest event time (µs since the Unix epoch) counted or restored, or None."""
        return self._newest

    def horizon(self, newest: int | None = None) -> int | None:
        """Event times at or after this (µs) are decided from memory alone, given ``newest``."""
        newest = self._newest if newest is None else newest
        return None if newest is None else newest - self._lateness_us

    def needs_lookup(self, t: int, newest: int | None = None) -> bool:
        """True when an event at ``t`` (µs) may have a counted copy that memory has forgotten."""
        horizon = self.horizon(newest)
        return horizon is not None and t < horizon

    def seen_within(self, digest: int, t: int, known: Iterable[int] = ()) -> bool:
        """A counted copy in memory, or in ``known`` (the store's copies), lies within the window of t."""
        w = self._window_us
        times = self._times.get(digest)
        if times is not None:
            if type(times) is int:
                if abs(t - times) <= w:
                    return True
            elif any(abs(t - s) <= w for s in times):  # type: ignore[union-attr]
                return True
        return any(abs(t - s) <= w for s in known)

    # -- changing --------------------------------------------------------------------------------

    def count(self, digest: int, t: int, seq: int = 0) -> None:
        """Remember a copy as counted by batch ``seq``."""
        times = self._times.get(digest)
        if times is None:
            self._times[digest] = t
        elif type(times) is int:
            self._times[digest] = [times, t]
        else:
            times.append(t)  # type: ignore[union-attr]
        hour = t // _HOUR_US
        slot = self._hours.get(hour)
        if slot is None:
            self._hours[hour] = [seq, [digest]]
        else:
            if seq > slot[0]:
                slot[0] = seq
            slot[1].append(digest)
        self._size += 1
        if self._newest is None or t > self._newest:
            moved = self._newest is None or t // _HOUR_US != self._newest // _HOUR_US
            self._newest = t
            if moved:
                self.forget_old()

    def check(self, digest: int, t: int, seq: int = 0, known: Iterable[int] = ()) -> bool:
        """True for a duplicate; otherwise the copy is counted (by batch ``seq``) and False returned."""
        if self.seen_within(digest, t, known):
            return True
        self.count(digest, t, seq)
        return False

    def is_duplicate(self, event: Mapping[str, Any]) -> bool:
        """:meth:`check` for one event dict, for callers that take events in event-time order (the
        reference evaluation), where memory alone is always complete."""
        return self.check(id_digest(str(event["type"]), str(event["event_id"])),
                          instant_key(event_time(event)), seq=-1)

    def confirm(self, seq: int) -> None:
        """Batches up to ``seq`` are stored: their copies may be forgotten once old enough."""
        if seq > self._confirmed:
            self._confirmed = seq
        self.forget_old()

    def forget_old(self) -> None:
        """Drop whole hours that lie ``window + lateness`` behind the newest and are confirmed stored."""
        if self._newest is None:
            return
        limit = self._newest - self._window_us - self._lateness_us
        confirmed = self._confirmed
        old = [h for h, slot in self._hours.items() if (h + 1) * _HOUR_US <= limit and slot[0] <= confirmed]
        for hour in old:
            _, digests = self._hours.pop(hour)
            low, high = hour * _HOUR_US, (hour + 1) * _HOUR_US
            for digest in digests:
                times = self._times.get(digest)
                if times is None:
                    continue
                if type(times) is int:
                    if low <= times < high:
                        del self._times[digest]
                        self._size -= 1
                    continue
                kept = [s for s in times if not low <= s < high]  # type: ignore[union-attr]
                self._size -= len(times) - len(kept)  # type: ignore[arg-type]
                if not kept:
                    del self._times[digest]
                else:
                    self._times[digest] = kept[0] if len(kept) == 1 else kept

    def __len__(self) -> int:
        return self._size

    def restore(self, rows: Iterable[tuple[str, str, int]]) -> Deduplicator:
        """Rebuild from stored copies (type, event_id, event time µs), all confirmed, and return self."""
        self._times, self._hours, self._newest, self._size = {}, {}, None, 0
        for kind, event_id, t in rows:
            self.count(id_digest(kind, event_id), int(t), -1)
        return self


def utc_from_key(key_us: int) -> datetime:
    """The aware UTC instant of a µs-since-epoch key (for reading a snapshot back)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key_us)

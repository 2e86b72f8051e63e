"""The engine's event time: a watermark over its input sources, as Flink, Beam and Kafka Streams define it.

Each source (topic, partition) has its newest event time, and its mark: the oldest of its last few
arrivals, so that one record far ahead does not move it. A watermark over a set of sources is the
minimum of the marks of the ones that are *active*, so one fast partition cannot make another's events late;
a source that has delivered nothing for ``idle`` (wall clock of arrival) stops holding it back, and a
source that was revoked (``release``) no longer counts. Two horizons follow, per set of topics:

- ``close``: the watermark minus the allowed lateness. A counting rule closes a unit of time when the
  close horizon of *its own* topics passes the unit's end (capacity: authentications; R18: messages …),
  so neither a fast nor a slow other topic decides it; an event later than that is dropped from alerts.
- ``time``: the watermark itself over *all* sources, how far event time has demonstrably passed; an open
  incident's clock fires when it passes the crossing instant.

A source that delivers an event more than the lateness behind its own newest (a shuffled or re-sent
stream) holds the horizons of its topics until it has delivered no such event for ``idle``: units stay
open and are judged once it has settled, instead of on a partial count. When every source of a set is
idle, nothing more is coming from it: its horizons reach the newest event time any source has shown.
Horizons only move forward.
Snapshot topics count for ``time`` like any other but, being out of order by nature (the latest
``updated_at`` wins), never hold it; the entity rules wait for their topic to be ``quiet`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sno.core.topics import SNAPSHOT_TOPICS

__all__ = ["ALL", "EventClock", "Source"]

Source = tuple[str, int]
#: the topic set of the global ``time`` horizon
ALL: frozenset[str] = frozenset()


#: a source's watermark is the oldest of its last this many arrivals: one record far ahead (a retried one,
#: a shuffled file) does not move it, as a bounded-disorder watermark would not either
RECENT = 8


@dataclass
class _Seen:
    newest: int  # the newest event time seen: what later events are late against
    wall: int  # wall clock (µs) of the last arrival
    late_wall: int | None = None  # wall clock of the last arrival beyond the lateness
    recent: list[int] = field(default_factory=list)  # the last RECENT event times (a ring)
    at: int = 0

    def mark(self) -> int:
        """How far this source has demonstrably come: the oldest of its last arrivals."""
        return min(self.recent) if self.recent else self.newest


class EventClock:
    """Per-source newest event time and arrival; close and time horizons per topic set (all in µs)."""

    def __init__(self, lateness_us: int, idle_us: int) -> None:
        self.lateness_us = lateness_us
        self.idle_us = idle_us
        self.sources: dict[Source, _Seen] = {}
        self.wall: int = 0
        #: topic set -> (close, time); ALL is every source
        self._horizons: dict[frozenset[str], tuple[int | None, int | None]] = {ALL: (None, None)}
        #: events that arrived later than the lateness behind their own source
        self.late_events = 0
        #: the last advance was at the end of a drained stream: every source counts as quiet
        self.drained = False

    def observe(self, source: Source, t: int, wall: int) -> None:
        seen = self.sources.get(source)
        if seen is None:  # a partition that joins behind its topic's close is as late as a late event
            behind = source[0] not in SNAPSHOT_TOPICS and any(
                close is not None and t < close
                for topics, (close, _) in self._horizons.items()
                if source[0] in topics
            )
            self.sources[source] = _Seen(t, wall, wall if behind else None, [t], 1)
            self.late_events += behind
            return
        if t < seen.newest - self.lateness_us and source[0] not in SNAPSHOT_TOPICS:
            seen.late_wall = wall
            self.late_events += 1
        if t > seen.newest:
            seen.newest = t
        seen.wall = wall
        if len(seen.recent) < RECENT:
            seen.recent.append(t)
        else:
            seen.recent[seen.at % RECENT] = t
        seen.at += 1

    def release(self, source: Source) -> None:
        self.sources.pop(source, None)

    def knows(self, topics: Iterable[str]) -> bool:
        wanted = set(topics)
        return any(src[0] in wanted for src in self.sources)

    def quiet(self, topics: Iterable[str] = ALL) -> bool:
        """Every known source of these topics (all, for ALL) has been idle for the timeout (or the stream
        is drained)."""
        if self.drained:
            return True
        wanted = set(topics)
        return all(
            self.wall - s.wall >= self.idle_us
            for src, s in self.sources.items()
            if not wanted or src[0] in wanted
        )

    def track(self, topics: Iterable[str]) -> None:
        self._horizons.setdefault(frozenset(topics), (None, None))

    def close_of(self, topics: Iterable[str]) -> int | None:
        return self._horizons.get(frozenset(topics), (None, None))[0]

    @property
    def time(self) -> int | None:
        return self._horizons[ALL][1]

    @property
    def close(self) -> int | None:
        return self._horizons[ALL][0]

    def advance(self, wall: int, drained: bool = False) -> None:
        """Recompute every tracked horizon at wall clock ``wall``. ``drained``: every source has delivered
        all it holds (a drained stream, the end of a replay), so none is active, whatever its wall clock."""
        self.wall = max(self.wall, wall)
        self.drained = drained
        newest = max((s.newest for s in self.sources.values()), default=None)
        for topics, (close, time) in list(self._horizons.items()):
            seen = [s for src, s in self.sources.items() if not topics or src[0] in topics]
            if not seen or newest is None:
                continue
            active = [] if drained else [s for s in seen if self.wall - s.wall < self.idle_us]
            if not active:  # nothing more is coming from these: what any source shows of time passing counts
                cand_close, cand_time = newest, newest
            elif any(s.late_wall is not None and self.wall - s.late_wall < self.idle_us for s in active):
                continue  # an unsettled source: hold where they are
            else:
                low = min(s.mark() for s in active)
                cand_close, cand_time = low - self.lateness_us, low
            self._horizons[topics] = (
                cand_close if close is None else max(close, cand_close),
                cand_time if time is None else max(time, cand_time),
            )

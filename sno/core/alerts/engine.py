"""The alert engine: one event-time clock, one module per rule, and a dispatcher between them.

The stream calls, per counted event and per snapshot, ``observe(record, source)`` with ``source`` the
(topic, partition) it was read from; once per batch ``advance(now)`` with the wall clock; on a revoked
partition ``release(source)``; at start ``restore(alert_rows, snapshot_rows, counts)``. Every rule has the
same small interface: observe a record, advance to the watermark, restore (sno/core/ALERTS.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sno.core.alerts.availability import AvailabilityBudget
from sno.core.alerts.burn import BurnRate
from sno.core.alerts.capacity import AuthMinutes, Capacity
from sno.core.alerts.clock import EventClock, Source
from sno.core.alerts.emit import Emitter, wall_clock
from sno.core.alerts.entity import TimelineRule
from sno.core.alerts.incident_clock import IncidentClock
from sno.core.alerts.maintenance import MaintenanceValidity
from sno.core.alerts.mijnoverheid import MijnOverheidLimits
from sno.core.alerts.model import Alert, aware
from sno.core.alerts.p1_notice import P1Notice
from sno.core.alerts.settings import AlertRules, load_alert_rules
from sno.core.catalogue import Catalogue
from sno.core.dedup import event_time
from sno.core.intervals import instant_key
from sno.core.topics import TOPICS

__all__ = ["AlertEngine"]

_US = 1_000_000
#: the topic of each event type that can raise an alert (docs/events.md), for callers that do not name a
#: source; forecasts carry no instant of their own and raise nothing
TOPIC_OF = {kind: topic for kind, topic in TOPICS.items() if kind != "forecast"}
_AUTH = frozenset({"authentication", "transaction"})
_MO = frozenset({"message", "notification", "api_request"})
#: the topics whose own close horizon closes the units of a counting rule
_COUNTED = tuple(topic for kind, topic in TOPICS.items() if kind in _AUTH | _MO)
_DAY_US = 86_400 * _US


def _order(alert: Alert) -> tuple[Any, ...]:
    return (alert.event_key, alert.state != "firing", alert.rule, alert.alert_id)


class AlertEngine:
    """Turns validated, counted events and snapshots into alert state changes, by event time."""

    def __init__(
        self,
        catalogue: Catalogue,
        rules: AlertRules | None = None,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.catalogue = catalogue
        self.rules = rules or load_alert_rules()
        self.clock = clock
        eng = self.rules.engine
        self.events = EventClock(
            round(eng.allowed_lateness_seconds * _US), round(eng.idle_source_seconds * _US)
        )
        for topic in _COUNTED:
            self.events.track((topic,))
        self.emitter = Emitter(clock, round(eng.replayed_after_seconds * _US))
        forget_us = round(eng.forget_resolved_after_hours * 3600 * _US)
        self.minutes = AuthMinutes(catalogue)
        self.capacity = Capacity(self.rules, self.emitter, self.minutes)
        self.burn = BurnRate(catalogue, self.rules, self.emitter, self.minutes)
        self.mijnoverheid = MijnOverheidLimits(catalogue, self.rules, self.emitter)
        args = (catalogue, self.rules, self.emitter, forget_us)
        self.entities: list[TimelineRule] = [
            IncidentClock(*args),
            P1Notice(*args),
            MaintenanceValidity(*args),
            AvailabilityBudget(*args, minutes=self.minutes),
        ]

    def _arrival(self) -> int:
        """The wall clock of an arrival (µs): the system clock directly on the hot path, unless a clock was
        given (tests, replays)."""
        if self.clock is wall_clock:
            return time.time_ns() // 1000
        return int(self.clock().timestamp() * _US)

    # ---- the interface ------------------------------------------------------------------------------

    def observe(self, record: Mapping[str, Any], source: Source | None = None, *, t: int | None = None,
                rows: list[Any] | None = None) -> list[Alert]:
        """Fold in one validated, counted event or snapshot read from ``source`` (topic, partition);
        the alerts it decides at once (a count passing a limit, a breach its snapshot proves).

        ``t`` (its event time's key) and ``rows`` (its bucket contributions) may be given by a caller
        that has them already, the fold: computed once per event, not twice."""
        kind = record.get("type")
        topic = TOPIC_OF.get(kind or "")
        if topic is None:
            return []  # forecasts carry no instant of their own and raise nothing
        src = source or (topic, 0)
        if t is None:
            t = instant_key(event_time(record))
        self.events.observe(src, t, self._arrival())
        if kind in _AUTH:
            hit = self.minutes.add(record, t, src[0], self.events.close_of((src[0],)), self.burn.keep_us,
                                   rows)
            return self.capacity.counted(*hit) if hit is not None else []
        if kind in _MO:
            return self.mijnoverheid.observe(record, self.events.close_of((src[0],)))
        out: list[Alert] = []
        for rule in self.entities:
            out += rule.observe(record, self.events)
        return sorted(out, key=_order)

    def advance(self, now: datetime | None = None, drained: bool = False) -> list[Alert]:
        """A batch is done at wall clock ``now``: move the watermark and decide what it decides. Also
        called with no batch, so that what waits for a quiet source is decided once the idle timeout has
        passed; ``drained`` at the end of a drained stream: nothing more is coming, no source is waited
        for (a replay raises what history raised)."""
        self.events.advance(int((now if now is not None else self.clock()).timestamp() * _US), drained)

        def close_of(topic: str) -> int | None:
            return self.events.close_of((topic,))

        out = (
            self.capacity.advance(close_of)
            + self.burn.advance(close_of)
            + self.mijnoverheid.advance(close_of)
        )
        for rule in self.entities:
            out += rule.advance(self.events)
        self.minutes.forget(close_of, self.burn.keep_us + self.events.lateness_us)
        self.mijnoverheid.forget(close_of, 2 * _DAY_US)
        return sorted(out, key=_order)

    def release(self, source: Source) -> None:
        """A partition was revoked: it no longer holds the watermark back."""
        self.events.release(source)

    def restore(
        self,
        alert_rows: Iterable[Mapping[str, Any]] = (),
        snapshot_rows: Iterable[Mapping[str, Any]] = (),
        counts: Iterable[tuple[str, tuple[Any, ...], tuple[int, ...]]] = (),
        counts_since: datetime | None = None,
    ) -> None:
        """Take over after a restart: what was sent (`sno_alerts` rows or ``to_json`` objects), every
        version of the entities concerned (`sno_snapshots`, as records) and, optionally, the counts
        already folded into units still open (rollup rows as ``contributions`` gives them), complete
        from ``counts_since`` (None: from the first event ever)."""
        final: dict[str, dict[str, Any]] = {}
        for row in alert_rows:
            aid = str(row["alert_id"])
            if final.get(aid, {}).get("state") == "resolved":
                continue
            final[aid] = {**row, **{k: aware(row.get(k)) for k in ("event_time", "emitted_at", "fired_at")}}
        rows = list(final.values())
        snapshots = list(snapshot_rows)
        counted = list(counts)
        first: dict[tuple[str, str], int] = {}
        if counts_since is not None:  # windows reaching back before it are incomplete: their starts not sent
            since = instant_key(counts_since)
            for family, key, _values in counted:
                if family == "auth_minute":
                    first[(key[0], key[1])] = since
        self.minutes.restore(counted)
        self.capacity.restore(rows)
        self.burn.restore(rows, first)
        self.mijnoverheid.restore(rows, counted)
        for rule in self.entities:
            rule.restore(rows, snapshots)

    # ---- for tests and operators ------------------------------------------------------------------------

    def size(self) -> int:
        """How many things the engine holds, to check that memory stays bounded."""
        return (
            self.minutes.size()
            + self.capacity.size()
            + self.burn.size()
            + self.mijnoverheid.size()
            + sum(rule.size() for rule in self.entities)
        )

    def stats(self) -> dict[str, int | None]:
        return {
            "sources": len(self.events.sources),
            "late_events": self.events.late_events,
            "dropped_events": self.minutes.dropped + self.mijnoverheid.dropped,
            "close": self.events.close,
            "time": self.events.time,
        }

"""``capacity_exceeded`` (R15, R16), and the authentication minutes it shares with the burn rate and the
availability budget.

:class:`AuthMinutes` folds each authentication or transaction into its calendar minute with the core's
own ``contributions`` (the ``auth_minute`` row the rollups get: count, and within the processing limit of
its SNO version, R14). A minute whose count passes the capacity of its SNO version is over capacity: it
fires at once, since more events can only add to it, with the minute's start as event time (the breach
is the minute: R16 leaves the whole minute out), and resolves at the minute's end once the watermark
has closed it. Events for a minute already closed are dropped from alerts (late beyond the lateness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sno.core.alerts.emit import NAMES, Emitter
from sno.core.alerts.model import Alert, MinuteSubject, alert_id, at_key, subject_of
from sno.core.alerts.series import Series
from sno.core.buckets import contributions
from sno.core.calendar import Month
from sno.core.catalogue import Catalogue
from sno.core.intervals import instant_key
from sno.core.topics import AUTH_TOPIC_OF_SERVICE, TOPICS

__all__ = ["AuthMinutes", "Capacity"]

MINUTE_US = 60_000_000
_HOUR_US = 3_600_000_000


class AuthMinutes:
    """Authentications / transactions per (service, environment) and minute: count and within (R14–R16)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.series: dict[tuple[str, str], Series] = {}
        #: the topic each (service, environment) is read from: its close horizon closes its minutes
        self.topic: dict[tuple[str, str], str] = {}
        #: minutes over capacity (start, µs) per (service, environment): out of R14, out of U (R16)
        self.over: dict[tuple[str, str], set[int]] = {}
        #: (service, environment, "YYYY-MM") whose over-capacity minutes grew since last looked at
        self.changed: set[tuple[str, str, str]] = set()
        self._caps: dict[tuple[str, int], int | None] = {}
        self.dropped = 0

    def capacity(self, service: str, minute_us: int) -> int | None:
        """The capacity per minute of the SNO version of the minute's local month (R5, R15)."""
        hour = minute_us // _HOUR_US  # a UTC hour lies in one local month (whole-hour offsets, R1)
        key = (service, hour)
        if key not in self._caps:
            local = at_key(minute_us)
            norms = self.catalogue.norms_for(service, local.year, local.month)
            self._caps[key] = norms.performance.capacity_per_minute if norms and norms.performance else None
            if len(self._caps) > 4096:  # a bounded cache
                self._caps.clear()
        return self._caps[key]

    def add(
        self, record: Mapping[str, Any], t: int, topic: str, close: int | None, keep_us: int,
        rows: list[Any] | None = None,
    ) -> tuple[str, str, int, int, bool] | None:
        """Fold one event (started at ``t``, µs) in: (service, environment, minute, its count, whether the
        minute was already closed), or None when the minute is no longer held.

        An event for a closed minute that is still held (a partition that joined late, a forwarded
        record) still counts towards the minute's capacity, kept apart so that the burn rate's windows,
        already judged, stay as they were."""
        if rows is None:  # the fold passes the event's contributions; computed here otherwise
            rows = contributions(record, self.catalogue)
        if not rows:
            return None
        _family, key, values = rows[0]
        service, env, minute = key[0], key[1], t - t % MINUTE_US  # key[3] is this minute (UTC)
        if (service, env) not in self.topic:
            self.topic[(service, env)] = topic
        closed = close is not None and minute + MINUTE_US <= close
        if closed:
            assert close is not None
            if minute < close - keep_us:
                self.dropped += 1
                return None
            return (*self._count(service, env, minute, (0, 0, values[0])), True)
        return (*self._count(service, env, minute, (values[0], values[1], 0)), False)

    def _count(
        self, service: str, env: str, minute: int, values: tuple[int, int, int]
    ) -> tuple[str, str, int, int]:
        series = self.series.get((service, env))
        if series is None:
            series = self.series[(service, env)] = Series(MINUTE_US, 3)  # count, within, counted late
        count = series.add(minute // MINUTE_US, values, total=(0, 2))
        cap = self.capacity(service, minute)
        if cap is not None and count > cap:
            over = self.over.setdefault((service, env), set())
            if minute not in over:
                over.add(minute)
                self.changed.add((service, env, str(Month.of(at_key(minute)))))
        return service, env, minute, count

    def count(self, service: str, env: str, minute: int) -> int | None:
        series = self.series.get((service, env))
        slot = minute // MINUTE_US
        return series.get(slot) + series.get(slot, 2) if series is not None else None

    def restore(self, rows: Iterable[tuple[str, tuple[Any, ...], tuple[int, ...]]]) -> int | None:
        """Counts already folded before a restart (``auth_minute`` rows); returns the first minute held."""
        first: int | None = None
        for family, key, values in rows:
            if family != "auth_minute":
                continue
            minute = instant_key(key[3])
            topic = AUTH_TOPIC_OF_SERVICE.get(key[0], TOPICS["authentication"])
            self.topic.setdefault((key[0], key[1]), topic)
            self._count(key[0], key[1], minute, (int(values[0]), int(values[1]), 0))
            first = minute if first is None else min(first, minute)
        return first

    def excluded(self, service: str, env: str, minute: int) -> bool:
        return minute in self.over.get((service, env), ())

    def forget(self, close_of: Callable[[str], int | None], keep_us: int) -> None:
        """Drop minutes ``keep_us`` behind their close horizon, and minutes over capacity of months before
        the previous one (the availability budget of a month may still need them until then)."""
        for pair, series in self.series.items():
            close = close_of(self.topic.get(pair, ""))
            if close is None:
                continue
            series.drop_before((close - keep_us) // MINUTE_US)
            month_start = instant_key(Month.of(at_key(close)).prev().start)
            over = self.over.get(pair, set())
            for m in [m for m in over if m < month_start]:
                over.discard(m)

    def size(self) -> int:
        return sum(len(s) for s in self.series.values()) + sum(len(o) for o in self.over.values())


class Capacity:
    name = "capacity_exceeded"

    def __init__(self, rules: Any, emitter: Emitter, minutes: AuthMinutes) -> None:
        self.rule = rules.capacity_exceeded
        self.emitter = emitter
        self.minutes = minutes
        #: alert id -> (service, environment, minute) of a firing minute; ids sent, with their minute
        self.firing: dict[str, tuple[str, str, int]] = {}
        self.sent: dict[str, tuple[int, str]] = {}  # alert id -> (minute, state sent)
        self._over_sent: set[tuple[str, str, int]] = set()  # minutes whose breach was decided (hot path)

    def counted(self, service: str, env: str, minute: int, count: int, closed: bool) -> list[Alert]:
        """A minute's count grew: it fires the moment it passes the capacity; a minute already closed (its
        event counted late) fires and resolves at once, with the same event times."""
        cap = self.minutes.capacity(service, minute)
        if cap is None or count <= cap or env not in self.rule.environments:
            return []
        if (service, env, minute) in self._over_sent:
            return []  # the minute's breach is sent; the events after it change nothing until its end
        self._over_sent.add((service, env, minute))
        subject = MinuteSubject(minute)
        alert = self.emitter.alert(
            self.name,
            self.rule.severity,
            "firing",
            service,
            env,
            subject,
            count,
            cap,
            minute,
            self._summary(service, env, minute, cap),
        )
        if alert.alert_id in self.sent:
            return []
        self.sent[alert.alert_id] = (minute, "firing")
        if closed:
            return [alert, self._resolved(service, env, minute)]
        self.firing[alert.alert_id] = (service, env, minute)
        return [alert]

    def _summary(self, service: str, env: str, minute: int, cap: int) -> str:
        what = "authentications" if service == "digid" else "transactions"
        return (
            f"{NAMES.get(service, service)} {env} passed its capacity of {cap:,} {what} in the minute from "
            f"{at_key(minute):%Y-%m-%d %H:%M}; in that minute the SNO does not apply (R15, R16)."
        )

    def advance(self, close_of: Callable[[str], int | None]) -> list[Alert]:
        out: list[Alert] = []
        for aid, (service, env, minute) in sorted(self.firing.items(), key=lambda kv: kv[1][2]):
            close = close_of(self.minutes.topic.get((service, env), ""))
            if close is None or minute + MINUTE_US > close:
                continue
            del self.firing[aid]
            out.append(self._resolved(service, env, minute))
        closes = [c for c in (close_of(t) for t in set(self.minutes.topic.values())) if c is not None]
        if closes:
            low = min(closes)
            keep = low - 8 * 3600 * 1_000_000  # longer than any minute is held (the burn windows)
            for aid in [a for a, (m, _) in self.sent.items() if m < keep and a not in self.firing]:
                del self.sent[aid]
            self._over_sent = {k for k in self._over_sent if k[2] >= keep}
        return out

    def _resolved(self, service: str, env: str, minute: int) -> Alert:
        self.sent[alert_id(self.name, service, env, MinuteSubject(minute).text)] = (minute, "resolved")
        count, cap, end = (
            self.minutes.count(service, env, minute),
            self.minutes.capacity(service, minute),
            minute + MINUTE_US,
        )
        return self.emitter.alert(
            self.name,
            self.rule.severity,
            "resolved",
            service,
            env,
            MinuteSubject(minute),
            count,
            cap,
            end,
            f"The minute from {at_key(minute):%Y-%m-%d %H:%M} ended with {count or 0:,} against a "
            f"capacity of {cap or 0:,} for {NAMES.get(service, service)} {env} (R15).",
            fired_us=minute,
        )

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            if row.get("rule") != self.name:
                continue
            subject = subject_of(row)
            if isinstance(subject, MinuteSubject):
                minute = subject.at
            else:  # a row from before subjects were typed: its event time lies in the minute
                minute = instant_key(row.get("fired_at") or row["event_time"]) // MINUTE_US * MINUTE_US
            aid = str(row["alert_id"])
            self.sent[aid] = (minute, str(row["state"]))
            if row["state"] == "firing":
                self.firing[aid] = (str(row["service"]), str(row["environment"]), minute)
            else:
                self.firing.pop(aid, None)

    def size(self) -> int:
        return len(self.sent)

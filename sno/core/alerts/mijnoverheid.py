"""``mijnoverheid_limit`` (R18): MijnOverheid production over a capacity limit of its SNO version.

Messages are counted per second of ``received_at`` (all statuses), notifications per minute of
``queued_at`` and Validatieservice queries per minute of ``received_at``, as the core's buckets do. A
second over its limit fires at once (more events can only add to it), with the second's start as event
time. An hour or calendar day (local, R1) is judged as the watermark closes its seconds or minutes, in
order: it fires at the start of the second (messages) or minute (the others) in which its running count
passed the limit, the same instant whatever order the events came in. Every unit resolves at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sno.core.alerts.emit import Emitter
from sno.core.alerts.model import Alert, UnitSubject, alert_id, at_key, subject_of
from sno.core.alerts.series import Series
from sno.core.alerts.settings import MO_MEASURES
from sno.core.calendar import TZ
from sno.core.catalogue import Catalogue
from sno.core.intervals import instant_key
from sno.core.topics import TOPICS

__all__ = ["MijnOverheidLimits"]

_US = 1_000_000
_HOUR_US = 3600 * _US
_TIME_FIELD = {"message": "received_at", "notification": "queued_at", "api_request": "received_at"}
#: the topic each series is read from: its close horizon closes the series' slots
TOPIC = {"message": TOPICS["message"], "notification": TOPICS["notification"],
         "validatieservice": TOPICS["api_request"]}
_WORDS = {
    "messages_per_second": ("messages", "second"),
    "messages_per_hour": ("messages", "hour"),
    "messages_per_day": ("messages", "day"),
    "notifications_per_hour": ("notifications", "hour"),
    "notifications_per_day": ("notifications", "day"),
    "validatieservice_per_hour": ("Validatieservice queries", "hour"),
}


def unit_bounds(t_us: int, unit: str) -> tuple[int, int]:
    if unit == "second":
        s = t_us - t_us % _US
        return s, s + _US
    if unit == "hour":  # a UTC hour is a local clock hour: Europe/Amsterdam offsets are whole hours (R1)
        s = t_us - t_us % _HOUR_US
        return s, s + _HOUR_US
    day = at_key(t_us).date()
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    nxt = day + timedelta(days=1)
    return instant_key(start), instant_key(datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ))


@dataclass
class _Scan:
    """How far one hourly or daily measure has been judged."""

    cursor: int  # next slot to judge
    unit: tuple[int, int] | None = None  # the unit being judged (µs)
    count: int = 0
    fired: UnitSubject | None = None


class MijnOverheidLimits:
    name = "mijnoverheid_limit"

    def __init__(self, catalogue: Catalogue, rules: Any, emitter: Emitter) -> None:
        self.catalogue = catalogue
        self.rule = rules.mijnoverheid_limit
        self.emitter = emitter
        self.series: dict[tuple[str, str], Series] = {}  # (series name, environment)
        self.scans: dict[tuple[str, str], _Scan] = {}  # (measure, environment)
        self.firing: dict[str, tuple[str, str, int]] = {}  # per-second alerts: id -> (measure, env, second)
        self.sent: dict[str, tuple[int, str]] = {}  # alert id -> (unit start, state sent)
        self._crossed: dict[tuple[str, str, int], int] = {}  # (measure, env, unit start) -> crossing instant
        self.dropped = 0

    def _limit(self, measure: str, t_us: int) -> int | None:
        local = at_key(t_us)
        norms = self.catalogue.norms_for("mijnoverheid", local.year, local.month)
        if norms is None or norms.mijnoverheid is None:
            return None
        return int(getattr(norms.mijnoverheid, MO_MEASURES[measure][2]))

    @staticmethod
    def _series_name(kind: str, api: str | None) -> str | None:
        if kind == "message":
            return "message"
        if kind == "notification":
            return "notification"
        return "validatieservice" if api == "validatieservice" else None

    def observe(self, record: Mapping[str, Any], close: int | None) -> list[Alert]:
        env = record.get("environment") or "production"
        kind = record["type"]
        if (
            record["service"] != "mijnoverheid"
            or env not in self.rule.environments
            or kind not in _TIME_FIELD
        ):
            return []
        name = self._series_name(kind, record.get("api"))
        if name is None:
            return []
        t = instant_key(record[_TIME_FIELD[kind]])
        step = _US if name == "message" else 60 * _US
        series = self.series.get((name, env))
        if series is None:
            series = self.series[(name, env)] = Series(step, 2 if name == "message" else 1)
        slot = series.slot(t)
        if close is not None and (slot + 1) * step <= close:
            # A closed slot: an hour or day judged already ignores it; a second still held counts for its
            # own limit (it fires and resolves at once), as the capacity minutes do.
            if name != "message" or slot * step < close - 2 * 86_400 * _US:
                self.dropped += 1
                return []
            series.add(slot, (0, 1))
            limit = self._limit("messages_per_second", t)
            count = series.get(slot) + series.get(slot, 1)
            if "messages_per_second" not in self.rule.measures or limit is None or count <= limit:
                return []
            fired = self._fire("messages_per_second", env, slot * _US, count, limit, slot * _US)
            return fired + self._resolve(
                "messages_per_second", env, slot * _US, (slot + 1) * _US, count, slot * _US
            )
        count = series.add(slot) + (series.get(slot, 1) if name == "message" else 0)
        self._scan_from(name, env, t, step)
        out: list[Alert] = []
        if name == "message" and "messages_per_second" in self.rule.measures:
            limit = self._limit("messages_per_second", t)
            if limit is not None and count > limit:
                fired = self._fire("messages_per_second", env, slot * _US, count, limit, slot * _US)
                if fired:
                    self.firing[fired[0].alert_id] = ("messages_per_second", env, slot * _US)
                out += fired
        return out

    def _fire(self, measure: str, env: str, start: int, count: int, limit: int, at: int) -> list[Alert]:
        subject = UnitSubject(measure, start)
        noun, unit = _WORDS[measure]
        alert = self.emitter.alert(
            self.name,
            self.rule.severity,
            "firing",
            "mijnoverheid",
            env,
            subject,
            count,
            limit,
            at,
            f"MijnOverheid received more than its limit of {limit:,} {noun} per "
            f"{unit} in the {unit} from {at_key(start):%Y-%m-%d %H:%M:%S} (R18).",
        )
        if alert.alert_id in self.sent:
            return []
        self.sent[alert.alert_id] = (start, "firing")
        return [alert]

    def _resolve(
        self, measure: str, env: str, start: int, end: int, count: int | None, fired: int
    ) -> list[Alert]:
        subject = UnitSubject(measure, start)
        aid = alert_id(self.name, "mijnoverheid", env, subject.text)
        if self.sent.get(aid, (0, ""))[1] != "firing":
            return []  # never sent firing here, or resolved already (before a restart)
        self.sent[aid] = (start, "resolved")
        noun, unit = _WORDS[measure]
        limit = self._limit(measure, start)
        return [
            self.emitter.alert(
                self.name,
                self.rule.severity,
                "resolved",
                "mijnoverheid",
                env,
                UnitSubject(measure, start),
                count,
                limit,
                end,
                f"The {unit} from {at_key(start):%Y-%m-%d %H:%M:%S} ended with {count or 0:,} "
                f"{noun} against the MijnOverheid limit of {limit or 0:,} per {unit} (R18).",
                fired_us=fired,
            )
        ]

    def advance(self, close_of: Callable[[str], int | None]) -> list[Alert]:
        out: list[Alert] = []
        messages = close_of(TOPIC["message"])
        for aid, (measure, env, second) in sorted(self.firing.items(), key=lambda kv: kv[1][2]):
            if messages is not None and second + _US <= messages:
                del self.firing[aid]
                series = self.series.get(("message", env))
                count = (
                    series.get(second // _US) + series.get(second // _US, 1) if series is not None else None
                )
                out += self._resolve(measure, env, second, second + _US, count, second)
        for (measure, env), scan in sorted(self.scans.items()):
            close = close_of(TOPIC[self._series_name(MO_MEASURES[measure][0], MO_MEASURES[measure][1]) or ""])
            if close is not None:
                out += self._judge(measure, env, scan, close)
        if messages is not None:
            for aid in [
                a
                for a, (t, _) in self.sent.items()
                if t + 3 * 86_400 * _US < messages and a not in self.firing
            ]:
                del self.sent[aid]
        return out

    def _judge(self, measure: str, env: str, scan: _Scan, close: int) -> list[Alert]:
        """Judge the closed slots of an hourly or daily measure in order (R18)."""
        out: list[Alert] = []
        series = self.series.get(
            (self._series_name(MO_MEASURES[measure][0], MO_MEASURES[measure][1]) or "", env)
        )
        if series is None:
            return out
        step, target = series.step_us, close // series.step_us
        unit_word = MO_MEASURES[measure][3]
        while scan.cursor < target:
            if scan.unit is None:
                if series.next_slot(scan.cursor) is None:
                    scan.cursor = target  # nothing held ahead: every closed slot is empty
                    break
                scan.unit, scan.count, scan.fired = unit_bounds(scan.cursor * step, unit_word), 0, None
            end_slot = scan.unit[1] // step
            b = min(target, end_slot)
            part = series.total(scan.cursor, b)
            limit = self._limit(measure, scan.unit[0])
            if scan.fired is None and limit is not None and scan.count + part > limit:
                running, slot = scan.count, scan.cursor
                while running + series.get(slot) <= limit:
                    running += series.get(slot)
                    slot += 1
                # the second (messages) or minute in which the running count passed the limit
                out += self._fire(measure, env, scan.unit[0], scan.count + part, limit, slot * step)
                scan.fired = UnitSubject(measure, scan.unit[0])
                self._crossed[(measure, env, scan.unit[0])] = slot * step
            scan.count += part
            scan.cursor = b
            if b == end_slot:
                if scan.fired is not None:
                    crossed = self._crossed.pop((measure, env, scan.unit[0]), scan.unit[0])
                    out += self._resolve(measure, env, scan.unit[0], scan.unit[1], scan.count, crossed)
                scan.unit = None
        return out

    def restore(
        self,
        rows: Iterable[Mapping[str, Any]],
        counts: Iterable[tuple[str, tuple[Any, ...], tuple[int, ...]]],
    ) -> None:
        for row in rows:
            if row.get("rule") != self.name:
                continue
            subject = subject_of(row)
            if not isinstance(subject, UnitSubject):
                continue
            aid = str(row["alert_id"])
            self.sent[aid] = (subject.at, str(row["state"]))
            if row["state"] == "firing" and MO_MEASURES[subject.measure][3] == "second":
                self.firing[aid] = (subject.measure, str(row["environment"]), subject.at)
            elif (
                row["state"] == "firing"
            ):  # an hour or day firing: resolved when its unit is judged to its end
                step = _US if MO_MEASURES[subject.measure][4] == 1 else 60 * _US
                unit = unit_bounds(subject.at, MO_MEASURES[subject.measure][3])
                self.scans[(subject.measure, str(row["environment"]))] = _Scan(
                    unit[0] // step, unit, 0, subject
                )
                fired = row.get("fired_at") or row["event_time"]
                self._crossed[(subject.measure, str(row["environment"]), subject.at)] = instant_key(fired)
            else:
                self.firing.pop(aid, None)
        for family, key, values in counts:
            name = {"message_second": "message", "notification_minute": "notification"}.get(family)
            if family == "api_minute" and key[4] == "validatieservice":
                name = "validatieservice"
            if name is None or key[0] != "mijnoverheid" or key[1] not in self.rule.environments:
                continue
            step = _US if name == "message" else 60 * _US
            series = self.series.setdefault((name, key[1]), Series(step, 2 if name == "message" else 1))
            t = instant_key(key[3])
            series.add(series.slot(t), (int(values[0]),))
            self._scan_from(name, key[1], t, step)

    def _scan_from(self, name: str, env: str, t: int, step: int) -> None:
        """Hourly and daily measures of this series are judged from the unit of ``t`` on (or from an
        earlier unit, while nothing has been judged yet)."""
        for measure in self.rule.measures:
            kind, api, _attr, unit, _step = MO_MEASURES[measure]
            if unit == "second" or self._series_name(kind, api) != name:
                continue
            start = unit_bounds(t, unit)[0]
            scan = self.scans.get((measure, env))
            if scan is None or (scan.unit is None and start // step < scan.cursor):
                self.scans[(measure, env)] = _Scan(start // step)

    def forget(self, close_of: Callable[[str], int | None], keep_us: int) -> None:
        for (name, _env), series in self.series.items():
            close = close_of(TOPIC[name])
            if close is not None:
                series.drop_before(series.slot(close - keep_us))

    def size(self) -> int:
        return sum(len(s) for s in self.series.values()) + len(self.sent)

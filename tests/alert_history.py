"""Histories for the alert engine's tests: event and snapshot builders, a settable wall clock, and a feed
that reads a history the way the stream does (records per topic partition, ``advance`` per batch)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sno.core.alerts import Alert, AlertEngine
from sno.core.catalogue import load_catalogue
from sno.core.topics import TOPICS

CATALOGUE = load_catalogue()
#: wall-clock seconds that make every source idle (alerts.toml: idle_source_seconds = 30)
IDLE_SECONDS = 31


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Clock:
    """A settable wall clock, so `replayed` and idle sources can be checked against known instants."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Idle:
    """A step of a history: nothing arrives for longer than the idle timeout (the wall clock moves on)."""


IDLE = Idle()


def engine(now: str = "2026-04-02T10:00:00+02:00") -> AlertEngine:
    return AlertEngine(CATALOGUE, clock=Clock(at(now)))


def source(record: Mapping[str, Any], partitions: int = 1) -> tuple[str, int]:
    return (TOPICS[record["type"]], zlib.crc32(str(record.get("event_id")).encode()) % partitions)


def feed(e: AlertEngine, steps: Iterable[Any], batch: int = 500) -> list[Alert]:
    """Records go to ``observe`` (from their topic's partition); every ``batch`` records and at each
    instant step (an ISO string or datetime: a support contact at that instant, which moves event time
    and nothing else) the batch ends with ``advance``; ``IDLE`` lets the idle timeout pass."""
    out: list[Alert] = []
    pending = 0
    clock = e.clock
    for step in steps:
        if isinstance(step, Idle):
            assert isinstance(clock, Clock)
            clock.now += timedelta(seconds=IDLE_SECONDS)
            out += e.advance(clock.now)
            pending = 0
            continue
        if isinstance(step, str | datetime):
            step = tick(at(step) if isinstance(step, str) else step)
            out += e.observe(step, source(step))
            out += e.advance(clock())
            pending = 0
            continue
        out += e.observe(step, source(step))
        pending += 1
        if pending >= batch:
            out += e.advance(clock())
            pending = 0
    if pending:
        out += e.advance(clock())
    return out


def settle(e: AlertEngine, steps: Iterable[Any]) -> list[Alert]:
    """A history fed, then everything left quiet: what it decides in the end."""
    return feed(e, [*steps, IDLE])


def only(alerts: list[Alert], rule: str, state: str | None = None) -> list[Alert]:
    return [a for a in alerts if a.rule == rule and (state is None or a.state == state)]


def summary(alerts: Iterable[Alert]) -> set[tuple[str, str, datetime]]:
    return {(a.alert_id, a.state, a.event_time) for a in alerts}


def still_firing(alerts: Iterable[Alert]) -> set[str]:
    state: dict[str, str] = {}
    for a in alerts:
        if state.get(a.alert_id) != "resolved":
            state[a.alert_id] = a.state
    return {aid for aid, s in state.items() if s == "firing"}


# ---- builders ----------------------------------------------------------------------------------------


def tick(instant: datetime) -> dict[str, Any]:
    """A support contact: it moves event time and raises nothing (no alert rule counts them)."""
    return {
        "type": "support_contact",
        "event_id": f"tick-{instant.isoformat()}",
        "service": "digid",
        "environment": "production",
        "afnemer_id": None,
        "channel": "phone",
        "received_at": instant,
        "answered_at": instant,
        "abandoned": False,
        "kind": "question",
    }


def auths(
    service: str, minute: datetime, n: int, slow: int = 0, env: str = "production", seconds: float = 1.0
) -> Iterator[dict[str, Any]]:
    """``n`` authentications (or transactions) started in one minute, ``slow`` of them taking 5 s."""
    kind = "authentication" if service == "digid" else "transaction"
    step = 59_000_000 // max(n, 1)
    for i in range(n):
        started = minute + timedelta(microseconds=i * step)
        took = timedelta(seconds=5 if i < slow else seconds)
        yield {
            "type": kind,
            "event_id": f"{service}-{env}-{minute.isoformat()}-{i}",
            "service": service,
            "environment": env,
            "afnemer_id": None,
            "started_at": started,
            "completed_at": started + took,
        }


def messages(second: datetime, n: int, env: str = "production") -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "type": "message",
            "event_id": f"m{second.isoformat()}-{i}",
            "service": "mijnoverheid",
            "environment": env,
            "afnemer_id": "00000001234567890000",
            "received_at": second + timedelta(microseconds=i * 1000),
            "processed_at": None,
            "status": "accepted",
            "attachment_count": 0,
            "attachment_bytes": 0,
        }


def api_request(t: datetime, api: str, n: int = 0) -> dict[str, Any]:
    return {
        "type": "api_request",
        "event_id": f"{api}-{t.isoformat()}-{n}",
        "service": "mijnoverheid",
        "environment": "production",
        "afnemer_id": None,
        "api": api,
        "received_at": t,
        "completed_at": t + timedelta(seconds=1),
        "status_code": 200,
        "bsn_count": 250,
    }


def incident(
    iid: str,
    updated: str,
    detected: str,
    *,
    impact: str = "hoog",
    urgency: str = "hoog",
    status: str = "open",
    resolved: str | None = None,
    notified: str | None = None,
    service: str = "digid",
    env: str = "production",
    cause: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "incident",
        "event_id": f"{iid}-{updated}",
        "service": service,
        "environment": env,
        "afnemer_id": None,
        "incident_id": iid,
        "updated_at": at(updated),
        "status": status,
        "impact": impact,
        "urgency": urgency,
        "detected_at": at(detected),
        "notified_at": at(notified) if notified else None,
        "resolved_at": at(resolved) if resolved else None,
        "cause": cause,
        "title": None,
    }


def outage(
    oid: str,
    updated: str,
    started: str,
    ended: str | None = None,
    cause: str | None = None,
    service: str = "digid",
) -> dict[str, Any]:
    return {
        "type": "outage",
        "event_id": f"{oid}-{updated}",
        "service": service,
        "environment": "production",
        "afnemer_id": None,
        "outage_id": oid,
        "updated_at": at(updated),
        "started_at": at(started),
        "ended_at": at(ended) if ended else None,
        "cause": cause,
        "function": None,
        "title": None,
    }


def maintenance(
    mid: str,
    updated: str,
    starts: str,
    ends: str,
    announced: str | None = None,
    status: str = "scheduled",
    kind: str = "planned",
) -> dict[str, Any]:
    return {
        "type": "maintenance",
        "event_id": f"{mid}-{updated}",
        "service": "digid",
        "environment": "production",
        "afnemer_id": None,
        "maintenance_id": mid,
        "updated_at": at(updated),
        "kind": kind,
        "status": status,
        "announced_at": at(announced or updated),
        "starts_at": at(starts),
        "ends_at": at(ends),
        "component": None,
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]

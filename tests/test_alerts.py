"""The alert engine (sno/core/alerts.py): each rule fires at the right event time, stays quiet when the
norm is kept, resolves, marks replays, and fires nothing twice after a restart (docs/interfaces.md
"Alerts")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sno.core.alerts import RULES, Alert, AlertEngine, alert_id, load_alert_rules
from sno.core.catalogue import load_catalogue

TZ = ZoneInfo("Europe/Amsterdam")
CATALOGUE = load_catalogue()
KEYS = {
    "alert_id",
    "rule",
    "severity",
    "state",
    "service",
    "environment",
    "afnemer_id",
    "subject",
    "value",
    "norm",
    "event_time",
    "emitted_at",
    "replayed",
    "summary",
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Clock:
    """A settable wall clock, so `replayed` can be checked against a known emission time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def engine(now: str = "2026-04-02T10:00:00+02:00", **kw: Any) -> AlertEngine:
    return AlertEngine(CATALOGUE, clock=Clock(at(now)), **kw)


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
            "event_id": f"{minute.isoformat()}-{i}",
            "service": service,
            "environment": env,
            "afnemer_id": None,
            "started_at": started,
            "completed_at": started + took,
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


def feed(e: AlertEngine, steps: Iterable[Mapping[str, Any] | datetime | str]) -> list[Alert]:
    """Records go to observe; instants (or ISO strings) advance event time, as the stream does per batch."""
    out: list[Alert] = []
    for step in steps:
        if isinstance(step, str):
            out += e.advance(at(step))
        elif isinstance(step, datetime):
            out += e.advance(step)
        else:
            out += e.observe(step)
    return out


def only(alerts: list[Alert], rule: str, state: str | None = None) -> list[Alert]:
    return [a for a in alerts if a.rule == rule and (state is None or a.state == state)]


# ---- the alert itself -------------------------------------------------------------------------------


def test_an_alert_carries_exactly_the_keys_of_the_interface_contract() -> None:
    """docs/interfaces.md "Alerts" lists the keys; the stream publishes as_json() as is."""
    minute = at("2026-04-02T10:00:00+02:00")
    out = feed(engine(), auths("digid-machtigen", minute, 1001))
    assert len(out) == 1
    doc = out[0].as_json()
    assert set(doc) == KEYS
    assert doc["rule"] in RULES
    assert doc["event_time"].endswith("+02:00")
    assert doc["alert_id"] == alert_id("capacity_exceeded", "digid-machtigen", "production", doc["subject"])


def test_the_alert_id_depends_on_rule_service_environment_and_subject_only() -> None:
    base = alert_id("incident_clock", "digid", "production", "I1 50%")
    assert base == alert_id("incident_clock", "digid", "production", "I1 50%")
    others = {
        alert_id("p1_not_notified", "digid", "production", "I1 50%"),
        alert_id("incident_clock", "mijnoverheid", "production", "I1 50%"),
        alert_id("incident_clock", "digid", "preproduction", "I1 50%"),
        alert_id("incident_clock", "digid", "production", "I1 80%"),
    }
    assert base not in others and len(others) == 4


def test_the_shipped_alert_rules_load_and_state_the_replay_threshold() -> None:
    rules = load_alert_rules()
    assert rules.engine.replayed_after_seconds == 3600
    assert [t.percent for t in rules.incident_clock.thresholds] == [50, 80, 100]
    assert {w.severity for w in rules.processing_time_burn.windows} == {"page", "ticket"}


# ---- R15/R16 capacity_exceeded ------------------------------------------------------------------------


def test_a_digid_minute_over_ten_thousand_fires_at_the_event_that_passes_the_limit() -> None:
    """R15: strictly more than 10,000 authentications in a calendar minute; the 10,001st event fires."""
    minute = at("2026-04-02T10:00:00+02:00")
    events = list(auths("digid", minute, 10_001))
    out = feed(engine(), events)
    assert [(a.rule, a.state) for a in out] == [("capacity_exceeded", "firing")]
    passing = max(events, key=lambda ev: ev["started_at"])
    assert out[0].event_time == passing["started_at"]
    assert (out[0].value, out[0].norm, out[0].subject) == (10_001, 10_000, "2026-04-02T10:00:00+02:00")


def test_a_minute_at_exactly_the_capacity_raises_nothing() -> None:
    """R15: the limit itself is allowed ("maximaal 1.000 transacties per minuut")."""
    minute = at("2026-04-02T10:00:00+02:00")
    out = feed(engine(), [*auths("digid-machtigen", minute, 1000), "2026-04-02T10:05:00+02:00"])
    assert out == []


def test_a_capacity_alert_resolves_when_its_minute_has_ended() -> None:
    """R15/R16 (as documented): the breach is the minute; it resolves at the minute's end."""
    minute = at("2026-04-02T10:00:00+02:00")
    e = engine()
    fired = feed(e, auths("digid-machtigen", minute, 1003))
    assert feed(e, ["2026-04-02T10:00:59+02:00"]) == []
    resolved = feed(e, ["2026-04-02T10:01:00.5+02:00"])
    assert [a.state for a in resolved] == ["resolved"]
    assert resolved[0].alert_id == fired[0].alert_id
    assert resolved[0].event_time == at("2026-04-02T10:01:00+02:00")
    assert resolved[0].value == 1003


def test_minutes_long_gone_are_forgotten_so_memory_stays_bounded() -> None:
    """Bounded memory: a day of busy minutes leaves only the last few hours of counters behind."""
    e = engine()
    start = at("2026-04-02T00:00:00+02:00")
    sizes = []
    for m in range(24 * 60):
        minute = start + timedelta(minutes=m)
        feed(e, [*auths("digid-machtigen", minute, 3), minute + timedelta(minutes=1)])
        sizes.append(e.size())
    assert max(sizes[-60:]) <= max(sizes[400:460]) + 5
    assert e.size() < 400


# ---- R18 mijnoverheid_limit ---------------------------------------------------------------------------


def messages(second: datetime, n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "type": "message",
            "event_id": f"m{second.isoformat()}-{i}",
            "service": "mijnoverheid",
            "environment": "production",
            "afnemer_id": "00000001234567890000",
            "received_at": second + timedelta(microseconds=i * 1000),
            "processed_at": None,
            "status": "accepted",
            "attachment_count": 0,
            "attachment_bytes": 0,
        }


def test_the_46th_message_in_one_second_fires_the_mijnoverheid_limit() -> None:
    """R18: at most 45 messages per second."""
    second = at("2026-04-02T10:00:07+02:00")
    out = feed(engine(), messages(second, 46))
    assert [(a.rule, a.state, a.value, a.norm) for a in out] == [("mijnoverheid_limit", "firing", 46, 45)]
    assert out[0].event_time == second + timedelta(microseconds=45_000)
    assert out[0].subject == "messages_per_second 2026-04-02T10:00:07+02:00"
    assert out[0].severity == "ticket"


def test_forty_five_messages_a_second_raise_nothing_and_the_breach_resolves_after_its_second() -> None:
    """R18: 45 is allowed; a breached second resolves once it has passed."""
    e = engine()
    s1, s2 = at("2026-04-02T10:00:07+02:00"), at("2026-04-02T10:00:08+02:00")
    assert feed(e, [*messages(s1, 45), "2026-04-02T10:00:07.9+02:00"]) == []
    fired = feed(e, messages(s2, 50))
    resolved = feed(e, ["2026-04-02T10:00:09+02:00"])
    assert [a.state for a in fired] == ["firing"] and [a.state for a in resolved] == ["resolved"]
    assert resolved[0].event_time == at("2026-04-02T10:00:09+02:00") and resolved[0].value == 50


def test_validatieservice_queries_over_a_thousand_in_a_clock_hour_fire() -> None:
    """R18: Validatieservice at most 1,000 queries per hour; other apis do not count."""
    hour = at("2026-04-02T10:00:00+02:00")

    def req(i: int, api: str) -> dict[str, Any]:
        t = hour + timedelta(seconds=i * 3)
        return {
            "type": "api_request",
            "event_id": f"{api}{i}",
            "service": "mijnoverheid",
            "environment": "production",
            "afnemer_id": None,
            "api": api,
            "received_at": t,
            "completed_at": t + timedelta(seconds=1),
            "status_code": 200,
            "bsn_count": 250,
        }

    e = engine()
    assert feed(e, [req(i, "berichtpresentatie") for i in range(1001)]) == []
    out = feed(e, [req(i, "validatieservice") for i in range(1001)])
    assert [(a.subject, a.value, a.norm) for a in out] == [
        ("validatieservice_per_hour 2026-04-02T10:00:00+02:00", 1001, 1000)
    ]
    assert out[0].event_time == hour + timedelta(seconds=3000)


# ---- R14 processing_time_burn -------------------------------------------------------------------------


def burn_stream(start: datetime, minutes: int, slow_per_minute: int, n: int = 100) -> list[Any]:
    steps: list[Any] = []
    for m in range(minutes):
        minute = start + timedelta(minutes=m)
        steps += [*auths("digid", minute, n, slow=slow_per_minute), minute + timedelta(minutes=1)]
    return steps


def test_ten_percent_slow_burns_the_budget_twenty_times_too_fast_and_pages_at_the_first_minute_end() -> None:
    """R14 and the multi-window rule: 10 % over 4 s against a 0.5 % budget is a burn rate of 20, above
    14.4 (page, 1 h and 5 min) and 6 (ticket, 6 h and 30 min), judged when the first minute closes."""
    start = at("2026-04-02T10:00:00+02:00")
    out = feed(engine(), burn_stream(start, 3, slow_per_minute=10))
    fired = only(out, "processing_time_burn", "firing")
    assert sorted(a.severity for a in fired) == ["page", "ticket"]
    page = next(a for a in fired if a.severity == "page")
    assert page.event_time == start + timedelta(minutes=1)
    assert page.value == pytest.approx(20.0) and page.norm == 14.4


def test_the_page_resolves_when_the_short_window_cools_down_while_the_long_one_still_burns() -> None:
    """Multi-window: both windows must exceed the factor; 5 clean minutes after an hour of 10 % slow
    bring the 5-minute window to 6 % (12×) at 11:02, below 14.4, while the hour is still hot."""
    start = at("2026-04-02T10:00:00+02:00")
    e = engine()
    feed(e, burn_stream(start, 60, slow_per_minute=10))
    out = feed(e, burn_stream(start + timedelta(hours=1), 5, slow_per_minute=0))
    resolved = only(out, "processing_time_burn", "resolved")
    assert [(a.severity, a.event_time) for a in resolved] == [("page", at("2026-04-02T11:02:00+02:00"))]


def test_one_percent_slow_stays_below_every_burn_factor() -> None:
    """R14: 1 % slow burns at 2×, under both 6× and 14.4×."""
    out = feed(engine(), burn_stream(at("2026-04-02T10:00:00+02:00"), 30, slow_per_minute=1))
    assert only(out, "processing_time_burn") == []


def test_a_few_slow_requests_at_night_do_not_page_below_the_minimum_traffic() -> None:
    """min_events in alerts.toml: 10 requests, all slow, are not a burn worth waking anyone for."""
    out = feed(engine(), burn_stream(at("2026-04-02T03:00:00+02:00"), 4, slow_per_minute=2, n=2))
    assert only(out, "processing_time_burn") == []


def test_machtigen_counts_exactly_four_seconds_as_slow_where_digid_does_not() -> None:
    """R14: DigiD within ≤ 4 s, Machtigen strictly < 4 s; the burn rule follows the version file."""
    start = at("2026-04-02T10:00:00+02:00")
    steps_m = [*auths("digid-machtigen", start, 100, seconds=4.0), start + timedelta(minutes=1)]
    steps_d = [*auths("digid", start, 100, seconds=4.0), start + timedelta(minutes=1)]
    assert only(feed(engine(), steps_m), "processing_time_burn", "firing")
    assert only(feed(engine(), steps_d), "processing_time_burn") == []


def test_a_minute_over_capacity_is_left_out_of_the_processing_time_budget() -> None:
    """R16: events started in a minute above the limit leave the processing-time KPI, so they burn nothing."""
    start = at("2026-04-02T10:00:00+02:00")
    steps = [*auths("digid-machtigen", start, 1001, slow=500), start + timedelta(minutes=1)]
    out = feed(engine(), steps)
    assert only(out, "processing_time_burn") == []
    assert only(out, "capacity_exceeded", "firing")


# ---- R6–R9 availability_budget -----------------------------------------------------------------------


def test_an_ongoing_counted_outage_pages_and_resolves_when_it_ends() -> None:
    """R6/R8: an outage without ended_at counts as unavailable while it lasts; April 2026 has 720 h, so
    the 99.5 % norm allows 216 minutes; after one hour 156 remain."""
    e = engine()
    out = feed(
        e,
        [
            outage("O1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"),
            "2026-04-02T10:00:30+02:00",
            "2026-04-02T10:30:00+02:00",
        ],
    )
    fired = [a for a in only(out, "availability_budget", "firing") if a.subject.startswith("outage")]
    assert [(a.subject, a.severity, a.event_time) for a in fired] == [
        ("outage O1", "page", at("2026-04-02T10:00:00+02:00"))
    ]
    assert fired[0].norm == 216.0
    out = feed(
        e,
        [
            outage(
                "O1", "2026-04-02T11:00:00+02:00", "2026-04-02T10:00:00+02:00", "2026-04-02T11:00:00+02:00"
            ),
            "2026-04-02T11:00:01+02:00",
        ],
    )
    resolved = [a for a in only(out, "availability_budget", "resolved") if a.subject.startswith("outage")]
    assert [(a.subject, a.event_time, a.value) for a in resolved] == [
        ("outage O1", at("2026-04-02T11:00:00+02:00"), 156.0)
    ]


def test_an_outage_caused_by_the_afnemer_raises_no_budget_alert() -> None:
    """R8: cause afnemer is excluded from U."""
    e = engine()
    out = feed(
        e,
        [
            outage("O2", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", cause="afnemer"),
            "2026-04-02T10:01:00+02:00",
            "2026-04-02T16:00:00+02:00",
        ],
    )
    assert only(out, "availability_budget") == []


def test_an_outage_longer_than_the_budget_exhausts_the_month_and_the_alert_ends_with_the_month() -> None:
    """R6: more than 216 minutes unavailable in April 2026 breaches 99.5 % for the month."""
    e = engine()
    out = feed(
        e,
        [
            outage("O3", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"),
            "2026-04-02T10:01:00+02:00",
            "2026-04-02T14:00:00+02:00",
        ],
    )
    exhausted = [a for a in out if a.subject == "2026-04 budget"]
    assert [(a.state, a.severity, a.event_time, a.value) for a in exhausted] == [
        ("firing", "page", at("2026-04-02T14:00:00+02:00"), -24.0)
    ]
    out = feed(
        e,
        [
            outage(
                "O3", "2026-04-02T14:10:00+02:00", "2026-04-02T10:00:00+02:00", "2026-04-02T14:10:00+02:00"
            ),
            "2026-05-01T00:00:05+02:00",
        ],
    )
    ended = [a for a in out if a.subject == "2026-04 budget"]
    assert [(a.state, a.event_time) for a in ended] == [("resolved", at("2026-05-01T00:00:00+02:00"))]


def test_unavailability_at_a_rate_that_would_breach_the_month_raises_a_projection_ticket() -> None:
    """R6 at the current rate: 200 minutes in the first 37.5 hours of April project to 3,840 in a 720-hour
    month, over the 216 allowed; by the 29th the same 200 minutes project to 214 and the ticket resolves."""
    e = engine()
    out = feed(
        e,
        [
            outage(
                "O4", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", "2026-04-02T13:20:00+02:00"
            ),
            "2026-04-02T13:30:00+02:00",
            "2026-04-03T00:00:00+02:00",
        ],
    )
    proj = [a for a in out if a.subject == "2026-04 projection"]
    assert [(a.state, a.severity, a.event_time, a.value) for a in proj] == [
        ("firing", "ticket", at("2026-04-02T13:30:00+02:00"), 16.0)
    ]
    out = feed(e, ["2026-04-20T00:00:00+02:00", "2026-04-29T00:00:00+02:00"])
    proj = [a for a in out if a.subject == "2026-04 projection"]
    assert [(a.state, a.event_time) for a in proj] == [("resolved", at("2026-04-29T00:00:00+02:00"))]


# ---- R11 incident_clock ------------------------------------------------------------------------------


def test_an_open_p1_alerts_at_half_four_fifths_and_all_of_its_six_clock_hours() -> None:
    """R11: P1 has 6 clock hours; each threshold is its own alert at its own event time."""
    e = engine()
    feed(
        e,
        [
            incident(
                "I1",
                "2026-04-02T10:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                notified="2026-04-02T10:10:00+02:00",
            )
        ],
    )
    out = only(feed(e, ["2026-04-02T16:30:00+02:00"]), "incident_clock")
    assert [(a.subject, a.severity, a.event_time) for a in out] == [
        ("I1 50%", "ticket", at("2026-04-02T13:00:00+02:00")),
        ("I1 80%", "ticket", at("2026-04-02T14:48:00+02:00")),
        ("I1 100%", "page", at("2026-04-02T16:00:00+02:00")),
    ]
    assert len({a.alert_id for a in out}) == 3
    out = feed(
        e,
        [
            incident(
                "I1",
                "2026-04-02T17:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                status="resolved",
                resolved="2026-04-02T17:00:00+02:00",
                notified="2026-04-02T10:10:00+02:00",
            ),
            "2026-04-02T17:00:00+02:00",
        ],
    )
    assert {(a.subject, a.state, a.event_time) for a in out} == {
        (s, "resolved", at("2026-04-02T17:00:00+02:00")) for s in ("I1 50%", "I1 80%", "I1 100%")
    }


def test_a_p2_clock_runs_in_office_hours_only_and_skips_good_friday_and_easter_monday() -> None:
    """R4/R11/R3: DigiD 3.0 P2 has 10 office hours (workdays 08:00–17:00). Detected Thursday 2 April 2026
    at 15:00: 2 hours that day; 3 April (Goede Vrijdag), the weekend and 6 April (Tweede Paasdag) do not
    count; half the target (5 h) is reached on Tuesday 7 April at 11:00."""
    e = engine()
    feed(e, [incident("I2", "2026-04-02T15:00:00+02:00", "2026-04-02T15:00:00+02:00", urgency="midden")])
    assert only(feed(e, ["2026-04-07T10:59:00+02:00"]), "incident_clock") == []
    out = only(feed(e, ["2026-04-07T11:00:00+02:00"]), "incident_clock")
    assert [(a.subject, a.event_time, a.value, a.norm) for a in out] == [
        ("I2 50%", at("2026-04-07T11:00:00+02:00"), 5.0, 10.0)
    ]


def test_an_incident_resolved_within_half_its_target_raises_no_clock_alert() -> None:
    e = engine()
    out = feed(
        e,
        [
            incident(
                "I3",
                "2026-04-02T10:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                notified="2026-04-02T10:05:00+02:00",
            ),
            "2026-04-02T11:00:00+02:00",
            incident(
                "I3",
                "2026-04-02T12:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                status="resolved",
                resolved="2026-04-02T12:00:00+02:00",
                notified="2026-04-02T10:05:00+02:00",
            ),
            "2026-04-03T12:00:00+02:00",
        ],
    )
    assert out == []


def test_an_incident_with_an_excluded_cause_has_no_clock() -> None:
    """R12: incidents whose cause is excluded (R8) count nowhere."""
    e = engine()
    out = feed(
        e,
        [
            incident("I4", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", cause="internet"),
            "2026-04-03T10:00:00+02:00",
        ],
    )
    assert out == []


# ---- R13 p1_not_notified -----------------------------------------------------------------------------


def test_a_p1_without_notice_fires_thirty_minutes_after_detection_and_resolves_when_notified() -> None:
    """R13: afnemers are informed within 30 minutes of detection."""
    e = engine()
    feed(e, [incident("P1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00")])
    assert only(feed(e, ["2026-04-02T10:29:59+02:00"]), "p1_not_notified") == []
    out = only(feed(e, ["2026-04-02T10:30:00+02:00"]), "p1_not_notified")
    assert [(a.state, a.event_time, a.severity) for a in out] == [
        ("firing", at("2026-04-02T10:30:00+02:00"), "page")
    ]
    out = feed(
        e,
        [
            incident(
                "P1",
                "2026-04-02T10:40:00+02:00",
                "2026-04-02T10:00:00+02:00",
                notified="2026-04-02T10:40:00+02:00",
            ),
            "2026-04-02T10:40:00+02:00",
        ],
    )
    out = only(out, "p1_not_notified")
    assert [(a.state, a.event_time, a.value) for a in out] == [
        ("resolved", at("2026-04-02T10:40:00+02:00"), 40.0)
    ]


def test_a_p1_notified_in_time_a_p2_and_a_preproduction_p1_raise_no_notice_alert() -> None:
    """R13 applies to production P1s (pre-production P1 is N.v.t., R11)."""
    e = engine()
    out = feed(
        e,
        [
            incident(
                "A",
                "2026-04-02T10:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                notified="2026-04-02T10:30:00+02:00",
            ),
            incident("B", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", urgency="midden"),
            incident("C", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", env="preproduction"),
            "2026-04-02T11:00:00+02:00",
        ],
    )
    assert only(out, "p1_not_notified") == []


def test_mijnoverheid_has_no_p1_notice_rule() -> None:
    """R13: the MijnOverheid text has no such rule."""
    e = engine()
    out = feed(
        e,
        [
            incident("M", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", service="mijnoverheid"),
            "2026-04-02T11:00:00+02:00",
        ],
    )
    assert only(out, "p1_not_notified") == []


# ---- R9 maintenance_invalid --------------------------------------------------------------------------


def test_a_third_planned_window_in_a_month_is_raised_when_it_is_announced() -> None:
    """R9: at most 2 planned windows a month; the third fires on arrival, long before it starts."""
    e = engine()
    out = feed(
        e,
        [
            maintenance(
                "W1", "2026-04-01T09:00:00+02:00", "2026-04-13T01:00:00+02:00", "2026-04-13T03:00:00+02:00"
            ),
            maintenance(
                "W2", "2026-04-01T09:00:00+02:00", "2026-04-08T01:00:00+02:00", "2026-04-08T03:00:00+02:00"
            ),
        ],
    )
    assert out == []
    out = feed(
        e,
        [
            maintenance(
                "W3", "2026-04-01T10:00:00+02:00", "2026-04-20T01:00:00+02:00", "2026-04-20T03:00:00+02:00"
            )
        ],
    )
    assert [(a.rule, a.state, a.subject, a.event_time, a.value) for a in out] == [
        ("maintenance_invalid", "firing", "W3", at("2026-04-01T10:00:00+02:00"), 2.0)
    ]
    # W1 is cancelled: W3 becomes the second window of April and is valid again.
    out = feed(
        e,
        [
            maintenance(
                "W1",
                "2026-04-02T09:00:00+02:00",
                "2026-04-13T01:00:00+02:00",
                "2026-04-13T03:00:00+02:00",
                status="cancelled",
            )
        ],
    )
    assert [(a.subject, a.state, a.event_time) for a in out] == [
        ("W3", "resolved", at("2026-04-02T09:00:00+02:00"))
    ]


def test_a_window_partly_outside_midnight_to_six_and_one_announced_late_are_invalid() -> None:
    """R9: only 00:00–06:00 counts as maintenance; a window not announced before it starts counts as U."""
    e = engine()
    out = feed(
        e,
        [
            maintenance(
                "W4", "2026-04-01T09:00:00+02:00", "2026-04-08T05:00:00+02:00", "2026-04-08T07:00:00+02:00"
            ),
            maintenance(
                "W5", "2026-04-13T01:30:00+02:00", "2026-04-13T01:00:00+02:00", "2026-04-13T02:00:00+02:00"
            ),
        ],
    )
    assert [(a.subject, a.value) for a in out] == [("W4", 1.0), ("W5", 1.0)]


def test_an_invalid_window_resolves_when_it_has_ended() -> None:
    e = engine()
    feed(
        e,
        [
            maintenance(
                "W6", "2026-04-01T09:00:00+02:00", "2026-04-08T05:00:00+02:00", "2026-04-08T07:00:00+02:00"
            )
        ],
    )
    assert only(feed(e, ["2026-04-08T06:59:00+02:00"]), "maintenance_invalid") == []
    out = only(feed(e, ["2026-04-08T07:00:00+02:00"]), "maintenance_invalid")
    assert [(a.subject, a.state, a.event_time) for a in out] == [
        ("W6", "resolved", at("2026-04-08T07:00:00+02:00"))
    ]


# ---- replay and restart ------------------------------------------------------------------------------


def mixed_stream() -> list[Any]:
    minute = at("2026-04-02T10:00:00+02:00")
    return [
        *auths("digid-machtigen", minute, 1002),
        incident("R1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"),
        outage("RO", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"),
        maintenance(
            "RW", "2026-04-02T10:00:00+02:00", "2026-04-08T05:00:00+02:00", "2026-04-08T07:00:00+02:00"
        ),
        "2026-04-02T10:01:00+02:00",
        "2026-04-02T10:45:00+02:00",
        "2026-04-02T13:30:00+02:00",
    ]


def test_replaying_history_marks_alerts_replayed_and_a_live_stream_does_not() -> None:
    """docs/interfaces.md: replayed when emitted more than an hour (alerts.toml) after its event time."""
    live = feed(
        engine("2026-04-02T10:00:50+02:00"), auths("digid-machtigen", at("2026-04-02T10:00:00+02:00"), 1001)
    )
    assert [a.replayed for a in live] == [False]
    replay = feed(engine("2026-05-20T09:00:00+02:00"), mixed_stream())
    assert replay and all(a.replayed for a in replay)
    assert {a.emitted_at for a in replay} == {at("2026-05-20T09:00:00+02:00")}


def test_a_restart_with_restored_states_fires_nothing_twice() -> None:
    """docs/interfaces.md: the same breach has the same id, so a restart that re-reads the stream with the
    states restored raises only what had not been raised yet."""
    first = feed(engine(), mixed_stream())
    assert {a.rule for a in first} >= {
        "capacity_exceeded",
        "incident_clock",
        "p1_not_notified",
        "availability_budget",
        "maintenance_invalid",
    }
    again = engine()
    again.restore((a.alert_id, a.state) for a in first)
    assert feed(again, mixed_stream()) == []


def test_a_restart_in_the_middle_continues_with_the_changes_still_due() -> None:
    """Restored states of the first half: the second run resolves what was firing and fires what is new,
    and nothing it emits was emitted before."""
    stream = mixed_stream()
    whole = feed(engine(), stream)
    half = feed(engine(), stream[:-2])
    e = engine()
    e.restore((a.alert_id, a.state) for a in half)
    rest = feed(e, stream)
    seen = {(a.alert_id, a.state) for a in half}
    assert not seen & {(a.alert_id, a.state) for a in rest}
    assert seen | {(a.alert_id, a.state) for a in rest} == {(a.alert_id, a.state) for a in whole}


def test_a_restored_firing_burn_episode_is_resolved_by_the_new_engine() -> None:
    """A whole alert row given to restore lets the new engine end an episode it did not start."""
    start = at("2026-04-02T10:00:00+02:00")
    first = feed(engine(), burn_stream(start, 2, slow_per_minute=10))
    page = next(a for a in first if a.rule == "processing_time_burn" and a.severity == "page")
    e = engine()
    e.restore([a.as_json() for a in first])
    out = feed(e, burn_stream(start + timedelta(minutes=2), 8, slow_per_minute=0))
    resolved = [a for a in out if a.alert_id == page.alert_id]
    assert [a.state for a in resolved] == ["resolved"]


def test_emitted_at_comes_from_the_clock_and_event_time_is_aware() -> None:
    """R1: instants are aware everywhere."""
    e = AlertEngine(CATALOGUE, clock=lambda: datetime(2026, 4, 2, 8, 0, 55, tzinfo=UTC))
    out = feed(e, auths("digid-machtigen", at("2026-04-02T10:00:00+02:00"), 1001))
    assert out[0].emitted_at == datetime(2026, 4, 2, 8, 0, 55, tzinfo=UTC)
    assert out[0].event_time.utcoffset() == timedelta(hours=2)

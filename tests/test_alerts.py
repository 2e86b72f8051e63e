"""The alert engine (sno/core/alerts/): each rule fires at the right event time, stays quiet when the norm
is kept, resolves, marks replays, and fires nothing twice after a restart (docs/interfaces.md "Alerts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sno.core.alerts import (
    ALERT_COLUMNS,
    INTERFACE_KEYS,
    RULES,
    Alert,
    AlertEngine,
    alert_id,
    load_alert_rules,
)
from tests.alert_history import (
    CATALOGUE,
    IDLE,
    Clock,
    api_request,
    at,
    auths,
    engine,
    feed,
    incident,
    maintenance,
    messages,
    only,
    outage,
    settle,
    still_firing,
    summary,
)

# ---- the alert itself -------------------------------------------------------------------------------


def test_an_alert_carries_exactly_the_keys_of_the_interface_contract() -> None:
    """docs/interfaces.md "Alerts" lists the keys; the stream publishes to_json() as is."""
    minute = at("2026-04-02T10:00:00+02:00")
    out = feed(engine(), auths("digid-machtigen", minute, 1001))
    assert len(out) == 1
    doc = out[0].to_json()
    assert set(doc) == set(INTERFACE_KEYS)
    assert doc["rule"] in RULES
    assert doc["event_time"].endswith("+02:00")
    assert doc["alert_id"] == alert_id("capacity_exceeded", "digid-machtigen", "production", doc["subject"])


def test_a_row_of_the_alerts_table_reads_back_as_the_same_alert_with_its_typed_subject() -> None:
    """`sno_alerts` keeps two columns beyond the interface: the typed subject and the firing instant."""
    out = feed(engine(), auths("digid-machtigen", at("2026-04-02T10:00:00+02:00"), 1001))
    row = dict(zip(ALERT_COLUMNS, out[0].to_row(), strict=True))
    assert row["event_time"].tzinfo is None  # the table stores naive UTC
    back = Alert.from_row(row)
    assert back.to_json() == out[0].to_json()
    assert back.typed_subject is not None and back.typed_subject.text == out[0].subject


def test_the_alert_id_depends_on_rule_service_environment_and_subject_only() -> None:
    base = alert_id("incident_clock", "digid", "production", "I1 P1 50%")
    assert base == alert_id("incident_clock", "digid", "production", "I1 P1 50%")
    others = {
        alert_id("p1_not_notified", "digid", "production", "I1 P1 50%"),
        alert_id("incident_clock", "mijnoverheid", "production", "I1 P1 50%"),
        alert_id("incident_clock", "digid", "preproduction", "I1 P1 50%"),
        alert_id("incident_clock", "digid", "production", "I1 P1 80%"),
    }
    assert base not in others and len(others) == 4


def test_the_shipped_alert_rules_load_and_state_the_replay_threshold_and_the_idle_timeout() -> None:
    rules = load_alert_rules()
    assert rules.engine.replayed_after_seconds == 3600
    assert rules.engine.idle_source_seconds > 0
    assert [t.percent for t in rules.incident_clock.thresholds] == [50, 80, 100]
    assert {w.severity for w in rules.processing_time_burn.windows} == {"page", "ticket"}


# ---- R15/R16 capacity_exceeded ------------------------------------------------------------------------


def test_a_digid_minute_over_ten_thousand_fires_as_soon_as_the_count_passes_the_limit() -> None:
    """R15: strictly more than 10,000 authentications in a calendar minute. The breach is the minute (R16
    leaves the whole minute out), so its start is the event time, whatever order its events came in."""
    minute = at("2026-04-02T10:00:00+02:00")
    e = engine()
    assert feed(e, list(auths("digid", minute, 10_001))[:10_000]) == []
    out = feed(e, list(auths("digid", minute, 10_001))[10_000:])
    assert [(a.rule, a.state) for a in out] == [("capacity_exceeded", "firing")]
    assert out[0].event_time == minute
    assert (out[0].value, out[0].norm, out[0].subject) == (10_001, 10_000, "2026-04-02T10:00:00+02:00")


def test_a_minute_at_exactly_the_capacity_raises_nothing() -> None:
    """R15: the limit itself is allowed ("maximaal 1.000 transacties per minuut")."""
    minute = at("2026-04-02T10:00:00+02:00")
    assert settle(engine(), [*auths("digid-machtigen", minute, 1000), "2026-04-02T10:05:00+02:00"]) == []


def test_a_capacity_alert_resolves_once_the_watermark_has_closed_its_minute() -> None:
    """R15/R16: the breach is the minute; it resolves at the minute's end, once the transactions topic has
    passed it by the allowed lateness (5 minutes), so a late event of the minute still counts."""
    minute = at("2026-04-02T10:00:00+02:00")
    e = engine()
    fired = feed(e, auths("digid-machtigen", minute, 1003))
    # A partition's watermark is the oldest of its last 8 arrivals (one record far ahead moves nothing).
    assert feed(e, auths("digid-machtigen", minute + timedelta(minutes=5, seconds=59), 8)) == []
    resolved = feed(e, auths("digid-machtigen", minute + timedelta(minutes=6, seconds=1), 8))
    assert [a.state for a in resolved] == ["resolved"]
    assert resolved[0].alert_id == fired[0].alert_id
    assert resolved[0].event_time == at("2026-04-02T10:01:00+02:00")
    assert resolved[0].value == 1003


def test_a_fast_support_topic_does_not_close_the_minutes_of_the_authentications() -> None:
    """A counting rule closes its units by the watermark of its own topic, not by a faster one."""
    minute = at("2026-04-02T10:00:00+02:00")
    e = engine()
    minute_of = list(auths("digid-machtigen", minute, 1006))
    feed(e, [*minute_of[:1001], "2026-04-02T12:00:00+02:00"])
    assert only(feed(e, minute_of[1001:]), "capacity_exceeded") == []  # still open: they count
    out = settle(e, [])
    assert [(a.state, a.value) for a in only(out, "capacity_exceeded")] == [("resolved", 1006)]


def test_minutes_long_gone_are_forgotten_so_memory_stays_bounded() -> None:
    """Bounded memory: a day of busy minutes leaves only the last hours of counters behind."""
    e = engine()
    start = at("2026-04-02T00:00:00+02:00")
    sizes = []
    for m in range(24 * 60):
        feed(e, auths("digid-machtigen", start + timedelta(minutes=m), 3))
        sizes.append(e.size())
    assert max(sizes[-60:]) <= max(sizes[400:460]) + 5
    assert e.size() < 50


# ---- R18 mijnoverheid_limit ---------------------------------------------------------------------------


def test_the_46th_message_in_one_second_fires_the_mijnoverheid_limit_with_that_second() -> None:
    """R18: at most 45 messages per second."""
    second = at("2026-04-02T10:00:07+02:00")
    out = feed(engine(), messages(second, 46))
    assert [(a.rule, a.state, a.value, a.norm) for a in out] == [("mijnoverheid_limit", "firing", 46, 45)]
    assert out[0].event_time == second
    assert out[0].subject == "messages_per_second 2026-04-02T10:00:07+02:00"
    assert out[0].severity == "ticket"


def test_forty_five_messages_a_second_raise_nothing_and_the_breach_resolves_after_its_second() -> None:
    """R18: 45 is allowed; a breached second resolves once the messages topic has closed it."""
    e = engine()
    s1, s2 = at("2026-04-02T10:00:07+02:00"), at("2026-04-02T10:00:08+02:00")
    assert feed(e, messages(s1, 45)) == []
    fired = feed(e, messages(s2, 50))
    resolved = settle(e, messages(s2 + timedelta(seconds=2), 1))
    assert [a.state for a in fired] == ["firing"] and [a.state for a in resolved] == ["resolved"]
    assert resolved[0].event_time == at("2026-04-02T10:00:09+02:00") and resolved[0].value == 50


def test_validatieservice_queries_over_a_thousand_in_a_clock_hour_fire_at_the_crossing_minute() -> None:
    """R18: Validatieservice at most 1,000 queries per hour; other apis do not count. The hour is judged
    minute by minute as they close, so it fires at the minute in which the 1,001st query came."""
    hour = at("2026-04-02T10:00:00+02:00")
    steps: list[Any] = []
    for i in range(1001):  # both apis on the one topic, in event order
        steps += [
            api_request(hour + timedelta(seconds=i * 3), "berichtpresentatie", i),
            api_request(hour + timedelta(seconds=i * 3), "validatieservice", i),
        ]
    e = engine()
    assert feed(e, steps[:2000]) == []
    out = settle(e, [*steps[2000:], api_request(hour + timedelta(minutes=70), "berichtpresentatie")])
    assert [(a.subject, a.state, a.event_time, a.value) for a in out] == [
        ("validatieservice_per_hour 2026-04-02T10:00:00+02:00", "firing", hour + timedelta(minutes=50), 1001),
        ("validatieservice_per_hour 2026-04-02T10:00:00+02:00", "resolved", hour + timedelta(hours=1), 1001),
    ]


# ---- R14 processing_time_burn -------------------------------------------------------------------------


def burn_stream(start: datetime, minutes: int, slow_per_minute: int, n: int = 100) -> list[Any]:
    steps: list[Any] = []
    for m in range(minutes):
        steps += auths("digid", start + timedelta(minutes=m), n, slow=slow_per_minute)
    return steps


def test_ten_percent_slow_burns_the_budget_twenty_times_too_fast_and_pages_at_the_first_minute_end() -> None:
    """R14 and the multi-window rule: 10 % over 4 s against a 0.5 % budget is a burn rate of 20, above
    14.4 (page, 1 h and 5 min) and 6 (ticket, 6 h and 30 min), judged when the first minute closes."""
    start = at("2026-04-02T10:00:00+02:00")
    out = settle(engine(), burn_stream(start, 3, slow_per_minute=10))
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
    out = settle(e, burn_stream(start + timedelta(hours=1), 5, slow_per_minute=0))
    resolved = only(out, "processing_time_burn", "resolved")
    assert [(a.severity, a.event_time) for a in resolved] == [("page", at("2026-04-02T11:02:00+02:00"))]


def test_one_percent_slow_stays_below_every_burn_factor() -> None:
    """R14: 1 % slow burns at 2×, under both 6× and 14.4×."""
    out = settle(engine(), burn_stream(at("2026-04-02T10:00:00+02:00"), 30, slow_per_minute=1))
    assert only(out, "processing_time_burn") == []


def test_a_few_slow_requests_at_night_do_not_page_below_the_minimum_traffic() -> None:
    """min_events in alerts.toml: 10 requests, all slow, are not a burn worth waking anyone for."""
    out = settle(engine(), burn_stream(at("2026-04-02T03:00:00+02:00"), 4, slow_per_minute=2, n=2))
    assert only(out, "processing_time_burn") == []


def test_machtigen_counts_exactly_four_seconds_as_slow_where_digid_does_not() -> None:
    """R14: DigiD within ≤ 4 s, Machtigen strictly < 4 s; the burn rule follows the version file."""
    start = at("2026-04-02T10:00:00+02:00")
    steps_m = [*auths("digid-machtigen", start, 100, seconds=4.0), "2026-04-02T10:01:00+02:00"]
    steps_d = [*auths("digid", start, 100, seconds=4.0), "2026-04-02T10:01:00+02:00"]
    assert only(settle(engine(), steps_m), "processing_time_burn", "firing")
    assert only(settle(engine(), steps_d), "processing_time_burn") == []


def test_a_minute_over_capacity_is_left_out_of_the_processing_time_budget() -> None:
    """R16: events started in a minute above the limit leave the processing-time KPI, so they burn nothing."""
    start = at("2026-04-02T10:00:00+02:00")
    out = settle(engine(), auths("digid-machtigen", start, 1001, slow=500))
    assert only(out, "processing_time_burn") == []
    assert only(out, "capacity_exceeded", "firing")


# ---- R6–R9 availability_budget -----------------------------------------------------------------------


def test_an_ongoing_counted_outage_pages_and_resolves_when_it_ends() -> None:
    """R6/R8: an outage without ended_at counts as unavailable while it lasts; April 2026 has 720 h, so
    the 99.5 % norm allows 216 minutes; it resolves at its end with 156 remaining."""
    e = engine()
    out = settle(
        e,
        [outage("O1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"), "2026-04-02T10:30:00+02:00"],
    )
    fired = [a for a in only(out, "availability_budget", "firing") if a.subject.startswith("outage")]
    assert [(a.subject, a.severity, a.event_time) for a in fired] == [
        ("outage O1", "page", at("2026-04-02T10:00:00+02:00"))
    ]
    assert fired[0].norm == 216.0
    ended = outage(
        "O1", "2026-04-02T11:00:00+02:00", "2026-04-02T10:00:00+02:00", "2026-04-02T11:00:00+02:00"
    )
    out = settle(e, [ended, "2026-04-02T11:00:01+02:00"])
    resolved = [a for a in only(out, "availability_budget", "resolved") if a.subject.startswith("outage")]
    assert [(a.subject, a.event_time, a.value) for a in resolved] == [
        ("outage O1", at("2026-04-02T11:00:00+02:00"), 156.0)
    ]


def test_an_outage_caused_by_the_afnemer_raises_no_budget_alert() -> None:
    """R8: cause afnemer is excluded from U."""
    out = settle(
        engine(),
        [
            outage("O2", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", cause="afnemer"),
            "2026-04-02T16:00:00+02:00",
        ],
    )
    assert only(out, "availability_budget") == []


def test_an_outage_longer_than_the_budget_exhausts_the_month_at_the_instant_it_is_spent() -> None:
    """R6: more than 216 minutes unavailable in April 2026 breaches 99.5 % for the month: from 10:00 the
    budget is spent at 13:36; the alert ends with the month."""
    e = engine()
    out = settle(
        e,
        [outage("O3", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"), "2026-04-02T14:00:00+02:00"],
    )
    exhausted = [a for a in out if a.subject == "2026-04 budget"]
    assert [(a.state, a.severity, a.event_time) for a in exhausted] == [
        ("firing", "page", at("2026-04-02T13:36:00+02:00"))
    ]
    out = settle(
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
    """R6 at the current rate, judged every whole hour: 60 minutes in the first 35 hours of April project
    to 1,234 in a 720-hour month, over the 216 allowed; once the 200 minutes of the outage are spread over
    667 hours the projection is back under the budget (28 April, 19:00) and the ticket resolves."""
    e = engine()
    out = settle(
        e,
        [
            outage(
                "O4", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", "2026-04-02T13:20:00+02:00"
            ),
            "2026-04-03T00:00:00+02:00",
        ],
    )
    proj = [a for a in out if a.subject == "2026-04 projection"]
    assert [(a.state, a.severity, a.event_time, a.value) for a in proj] == [
        ("firing", "ticket", at("2026-04-02T11:00:00+02:00"), 156.0)
    ]
    out = settle(e, ["2026-04-20T00:00:00+02:00", "2026-04-29T00:00:00+02:00"])
    proj = [a for a in out if a.subject == "2026-04 projection"]
    assert [(a.state, a.event_time) for a in proj] == [("resolved", at("2026-04-28T19:00:00+02:00"))]


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
    out = only(settle(e, ["2026-04-02T16:30:00+02:00"]), "incident_clock")
    assert [(a.subject, a.severity, a.event_time) for a in out] == [
        ("I1 P1 50%", "ticket", at("2026-04-02T13:00:00+02:00")),
        ("I1 P1 80%", "ticket", at("2026-04-02T14:48:00+02:00")),
        ("I1 P1 100%", "page", at("2026-04-02T16:00:00+02:00")),
    ]
    assert len({a.alert_id for a in out}) == 3
    out = settle(
        e,
        [
            incident(
                "I1",
                "2026-04-02T17:00:00+02:00",
                "2026-04-02T10:00:00+02:00",
                status="resolved",
                resolved="2026-04-02T17:00:00+02:00",
                notified="2026-04-02T10:10:00+02:00",
            )
        ],
    )
    assert {(a.subject, a.state, a.event_time) for a in out} == {
        (s, "resolved", at("2026-04-02T17:00:00+02:00")) for s in ("I1 P1 50%", "I1 P1 80%", "I1 P1 100%")
    }


def test_a_p2_clock_runs_in_office_hours_only_and_skips_good_friday_and_easter_monday() -> None:
    """R4/R11/R3: DigiD 3.0 P2 has 10 office hours (workdays 08:00–17:00). Detected Thursday 2 April 2026
    at 15:00: 2 hours that day; 3 April (Goede Vrijdag), the weekend and 6 April (Tweede Paasdag) do not
    count; half the target (5 h) is reached on Tuesday 7 April at 11:00."""
    e = engine()
    feed(e, [incident("I2", "2026-04-02T15:00:00+02:00", "2026-04-02T15:00:00+02:00", urgency="midden")])
    assert only(settle(e, ["2026-04-07T10:59:00+02:00"]), "incident_clock") == []
    out = only(settle(e, ["2026-04-07T11:00:00+02:00"]), "incident_clock")
    assert [(a.subject, a.event_time, a.value, a.norm) for a in out] == [
        ("I2 P2 50%", at("2026-04-07T11:00:00+02:00"), 5.0, 10.0)
    ]


def test_an_incident_resolved_within_half_its_target_raises_no_clock_alert() -> None:
    out = settle(
        engine(),
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
    out = settle(
        engine(),
        [
            incident("I4", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", cause="internet"),
            "2026-04-03T10:00:00+02:00",
        ],
    )
    assert out == []


def test_a_p1_whose_only_snapshot_says_resolved_after_seven_hours_raises_its_clocks_with_true_times() -> None:
    """History holds the breach: raised when the snapshot arrives, each at its crossing, and resolved at
    the resolution, however late the snapshot is (replayed); never past the resolution."""
    e = engine("2026-05-20T09:00:00+02:00")
    first = feed(
        e,
        [
            incident(
                "I5",
                "2026-04-02T17:10:00+02:00",
                "2026-04-02T10:00:00+02:00",
                status="resolved",
                resolved="2026-04-02T17:00:00+02:00",
                notified="2026-04-02T10:45:00+02:00",
            )
        ],
    )
    assert [(a.subject, a.state, a.event_time) for a in only(first, "incident_clock")] == [
        ("I5 P1 50%", "firing", at("2026-04-02T13:00:00+02:00")),
        ("I5 P1 80%", "firing", at("2026-04-02T14:48:00+02:00")),
        ("I5 P1 100%", "firing", at("2026-04-02T16:00:00+02:00")),
    ]
    assert [(a.state, a.event_time) for a in only(first, "p1_not_notified")] == [
        ("firing", at("2026-04-02T10:30:00+02:00"))
    ]
    assert all(a.replayed for a in first)
    rest = settle(e, [])
    assert {(a.rule, a.state, a.event_time) for a in rest} == {
        ("incident_clock", "resolved", at("2026-04-02T17:00:00+02:00")),
        ("p1_not_notified", "resolved", at("2026-04-02T10:45:00+02:00")),
    }
    assert still_firing(first + rest) == set()


def test_a_clock_fired_on_an_open_snapshot_resolves_at_the_snapshot_that_supersedes_it() -> None:
    """A P1 resolved in 5.5 h but registered resolved at 6.3 h: while the last word was "open" the 100 %
    clock fired at 6 h; the resolved snapshot ends it at its own instant, and 50/80 % at the resolution."""
    e = engine()
    feed(
        e,
        [
            incident(
                "I6",
                "2026-04-02T10:05:00+02:00",
                "2026-04-02T10:00:00+02:00",
                notified="2026-04-02T10:10:00+02:00",
            )
        ],
    )
    fired = settle(e, ["2026-04-02T16:10:00+02:00"])
    assert "I6 P1 100%" in {a.subject for a in fired}
    out = settle(
        e,
        [
            incident(
                "I6",
                "2026-04-02T16:18:00+02:00",
                "2026-04-02T10:00:00+02:00",
                status="resolved",
                resolved="2026-04-02T15:30:00+02:00",
                notified="2026-04-02T10:10:00+02:00",
            )
        ],
    )
    assert {(a.subject, a.event_time) for a in out} == {
        ("I6 P1 50%", at("2026-04-02T15:30:00+02:00")),
        ("I6 P1 80%", at("2026-04-02T15:30:00+02:00")),
        ("I6 P1 100%", at("2026-04-02T16:18:00+02:00")),
    }


# ---- R13 p1_not_notified -----------------------------------------------------------------------------


def test_a_p1_without_notice_fires_thirty_minutes_after_detection_and_resolves_when_notified() -> None:
    """R13: afnemers are informed within 30 minutes of detection."""
    e = engine()
    feed(e, [incident("P1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00")])
    assert only(settle(e, ["2026-04-02T10:29:59+02:00"]), "p1_not_notified") == []
    out = only(settle(e, ["2026-04-02T10:30:00+02:00"]), "p1_not_notified")
    assert [(a.state, a.event_time, a.severity) for a in out] == [
        ("firing", at("2026-04-02T10:30:00+02:00"), "page")
    ]
    out = only(
        settle(
            e,
            [
                incident(
                    "P1",
                    "2026-04-02T10:40:00+02:00",
                    "2026-04-02T10:00:00+02:00",
                    notified="2026-04-02T10:40:00+02:00",
                )
            ],
        ),
        "p1_not_notified",
    )
    assert [(a.state, a.event_time, a.value) for a in out] == [
        ("resolved", at("2026-04-02T10:40:00+02:00"), 40.0)
    ]


def test_a_p1_notified_in_time_a_p2_and_a_preproduction_p1_raise_no_notice_alert() -> None:
    """R13 applies to production P1s (pre-production P1 is N.v.t., R11)."""
    out = settle(
        engine(),
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
    out = settle(
        engine(),
        [
            incident("M", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", service="mijnoverheid"),
            "2026-04-02T11:00:00+02:00",
        ],
    )
    assert only(out, "p1_not_notified") == []


# ---- R9 maintenance_invalid --------------------------------------------------------------------------


def test_a_third_planned_window_in_a_month_is_raised_at_its_announcement_once_the_topic_is_quiet() -> None:
    """R9: at most 2 planned windows a month. The third is raised long before it starts, with its
    announcement as event time, once no cancellation can still be in transit; a cancellation of another
    window makes it the second again and resolves it at that snapshot."""
    e = engine()
    windows = [
        maintenance(
            "W1", "2026-04-01T09:00:00+02:00", "2026-04-13T01:00:00+02:00", "2026-04-13T03:00:00+02:00"
        ),
        maintenance(
            "W2", "2026-04-01T09:00:00+02:00", "2026-04-08T01:00:00+02:00", "2026-04-08T03:00:00+02:00"
        ),
    ]
    assert settle(e, windows) == []
    third = maintenance(
        "W3", "2026-04-01T10:00:00+02:00", "2026-04-20T01:00:00+02:00", "2026-04-20T03:00:00+02:00"
    )
    assert feed(e, [third]) == []
    out = settle(e, [])
    assert [(a.rule, a.state, a.subject, a.event_time, a.value) for a in out] == [
        ("maintenance_invalid", "firing", "W3", at("2026-04-01T10:00:00+02:00"), 2.0)
    ]
    cancel = maintenance(
        "W1",
        "2026-04-02T09:00:00+02:00",
        "2026-04-13T01:00:00+02:00",
        "2026-04-13T03:00:00+02:00",
        status="cancelled",
    )
    out = settle(e, [cancel])
    assert [(a.subject, a.state, a.event_time) for a in out] == [
        ("W3", "resolved", at("2026-04-02T09:00:00+02:00"))
    ]


def test_a_window_partly_outside_midnight_to_six_and_one_announced_late_are_raised_on_arrival() -> None:
    """R9: only 00:00–06:00 counts as maintenance; a window not announced before it starts counts as U.
    Neither depends on the other windows, so each is raised as its snapshot arrives."""
    out = feed(
        engine(),
        [
            maintenance(
                "W4", "2026-04-01T09:00:00+02:00", "2026-04-08T05:00:00+02:00", "2026-04-08T07:00:00+02:00"
            ),
            maintenance(
                "W5", "2026-04-13T01:30:00+02:00", "2026-04-13T01:00:00+02:00", "2026-04-13T02:00:00+02:00"
            ),
        ],
    )
    assert [(a.subject, a.value, a.event_time) for a in out] == [
        ("W4", 1.0, at("2026-04-01T09:00:00+02:00")),
        ("W5", 1.0, at("2026-04-13T01:30:00+02:00")),
    ]


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
    assert only(settle(e, ["2026-04-08T06:59:00+02:00"]), "maintenance_invalid") == []
    out = only(settle(e, ["2026-04-08T07:00:00+02:00"]), "maintenance_invalid")
    assert [(a.subject, a.state, a.event_time) for a in out] == [
        ("W6", "resolved", at("2026-04-08T07:00:00+02:00"))
    ]


# ---- replay and restart ------------------------------------------------------------------------------


def mixed_stream() -> list[Any]:
    minute = at("2026-04-02T10:00:00+02:00")
    return [
        *auths("digid-machtigen", minute, 1002),
        incident("R1", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00"),
        outage("RO", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00", service="digid-machtigen"),
        maintenance(
            "RW", "2026-04-02T10:00:00+02:00", "2026-04-08T05:00:00+02:00", "2026-04-08T07:00:00+02:00"
        ),
        *auths("digid-machtigen", minute + timedelta(minutes=10), 8),
        "2026-04-02T10:45:00+02:00",
        "2026-04-02T13:30:00+02:00",
        IDLE,
    ]


def test_replaying_history_marks_alerts_replayed_and_a_live_stream_does_not() -> None:
    """docs/interfaces.md: replayed when emitted more than an hour (alerts.toml) after its event time."""
    live = feed(
        engine("2026-04-02T10:00:50+02:00"), auths("digid-machtigen", at("2026-04-02T10:00:00+02:00"), 1001)
    )
    assert [a.replayed for a in live] == [False]
    replay = feed(engine("2026-05-20T09:00:00+02:00"), mixed_stream())
    assert replay and all(a.replayed for a in replay)
    assert {a.emitted_at.replace(second=0) for a in replay} == {at("2026-05-20T09:00:00+02:00")}


def test_a_restart_with_restored_rows_fires_nothing_twice() -> None:
    """docs/interfaces.md: the same breach has the same id, so a restart that re-reads the stream with
    what was sent restored raises only what had not been raised yet."""
    first = feed(engine(), mixed_stream())
    assert {a.rule for a in first} >= {
        "capacity_exceeded",
        "incident_clock",
        "p1_not_notified",
        "availability_budget",
        "maintenance_invalid",
    }
    again = engine()
    again.restore([a.to_json() for a in first])
    assert feed(again, mixed_stream()) == []


def test_a_restart_in_the_middle_continues_with_the_changes_still_due() -> None:
    """Restored rows and snapshots of the first half: the second run resolves what was firing and fires
    what is new, and nothing it emits was emitted before."""
    stream = mixed_stream()
    whole = feed(engine(), stream)
    half = feed(engine(), stream[:-3])
    e = engine()
    e.restore(
        [dict(zip(ALERT_COLUMNS, a.to_row(), strict=True)) for a in half],
        [
            s
            for s in stream[:-3]
            if isinstance(s, dict) and s["type"] in ("incident", "outage", "maintenance")
        ],
    )
    rest = feed(e, stream[-3:])
    assert not {(a.alert_id, a.state) for a in half} & {(a.alert_id, a.state) for a in rest}
    assert summary(half) | summary(rest) == summary(whole)


def test_a_restart_that_sees_no_event_before_its_clock_ticks_keeps_an_open_incidents_clocks_firing() -> None:
    """The worker's clock ticks within seconds of a restart, before any new event: the restored engine
    knows no event time yet, so an open incident's clock crossings (decided by time passing, not by a
    snapshot) are not on its timeline. Absent from it, they once resolved as "superseded by a later
    snapshot" at every restart, and never fired again (an id that resolved never fires again)."""
    snapshot = incident("I7", "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:00+02:00",
                        notified="2026-04-02T10:10:00+02:00")
    first = only(settle(engine(), [snapshot, "2026-04-02T16:30:00+02:00"]), "incident_clock")
    assert [a.subject for a in first] == ["I7 P1 50%", "I7 P1 80%", "I7 P1 100%"]
    e = engine("2026-04-02T16:31:00+02:00")
    e.restore([a.to_json() for a in first], [snapshot])
    assert feed(e, [IDLE]) == []  # the tick after the restart
    assert e.advance(drained=True) == []  # a drain that found nothing new
    assert settle(e, ["2026-04-02T16:40:00+02:00"]) == []  # event time known again: they still hold
    resolved = incident("I7", "2026-04-02T17:00:00+02:00", "2026-04-02T10:00:00+02:00", status="resolved",
                        resolved="2026-04-02T17:00:00+02:00", notified="2026-04-02T10:10:00+02:00")
    out = only(settle(e, [resolved]), "incident_clock")
    assert {(a.subject, a.state, a.event_time) for a in out} == {
        (s, "resolved", at("2026-04-02T17:00:00+02:00")) for s in ("I7 P1 50%", "I7 P1 80%", "I7 P1 100%")
    }


def test_a_restored_firing_burn_episode_is_resolved_by_the_new_engine() -> None:
    """A whole alert row given to restore lets the new engine end an episode it did not start."""
    start = at("2026-04-02T10:00:00+02:00")
    first = settle(engine(), burn_stream(start, 2, slow_per_minute=10))
    page = next(a for a in first if a.rule == "processing_time_burn" and a.severity == "page")
    e = engine()
    e.restore([a.to_json() for a in first])
    out = settle(e, burn_stream(start + timedelta(minutes=2), 8, slow_per_minute=0))
    assert [a.state for a in out if a.alert_id == page.alert_id] == ["resolved"]


def test_emitted_at_comes_from_the_clock_and_event_time_is_aware() -> None:
    """R1: instants are aware everywhere."""
    e = AlertEngine(CATALOGUE, clock=Clock(datetime(2026, 4, 2, 8, 0, 55, tzinfo=UTC)))
    out = feed(e, auths("digid-machtigen", at("2026-04-02T10:00:00+02:00"), 1001))
    assert out[0].emitted_at == datetime(2026, 4, 2, 8, 0, 55, tzinfo=UTC)
    assert out[0].event_time.utcoffset() == timedelta(hours=2)


def test_incidents_long_resolved_are_forgotten_and_a_late_snapshot_of_one_sends_nothing_again() -> None:
    """Bounded memory: an incident is forgotten 48 h after its resolution, down to the ledger of what was
    sent, so a copy of its last snapshot arriving weeks later raises nothing a second time."""
    e = engine()
    day = at("2026-04-01T10:00:00+02:00")
    sizes, first = [], None
    for d in range(40):
        t = day + timedelta(days=d)
        steps: list[Any] = [
            incident(f"L{d}", (t + timedelta(minutes=5)).isoformat(), t.isoformat()),
            incident(
                f"L{d}",
                (t + timedelta(hours=7, minutes=5)).isoformat(),
                t.isoformat(),
                status="resolved",
                resolved=(t + timedelta(hours=7)).isoformat(),
            ),
            t + timedelta(hours=20),
        ]
        out = settle(e, steps)
        first = first or [a for a in out if a.subject.startswith("L0 ")]
        sizes.append(sum(len(g.versions) for rule in e.entities for g in rule.groups.values()))
    assert only(first, "incident_clock", "resolved")  # L0 breached its 6 h and resolved
    assert max(sizes[-10:]) <= 8  # the versions of the last two days or so: not growing with the days
    assert all(len(tomb[0]) <= 4 for rule in e.entities for tomb in rule.tombs.values())  # only the ledger
    late = incident(
        "L0",
        "2026-04-01T17:05:00+02:00",
        "2026-04-01T10:00:00+02:00",
        status="resolved",
        resolved="2026-04-01T17:00:00+02:00",
    )
    assert settle(e, [late]) == []

"""Incident priority, resolution times, attribution and the P1 notice (R10–R13)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report
from sno.core.rules.incidents import priority

CEST = timezone(timedelta(hours=2))
_ids = count()
CATALOGUE = load_catalogue()


def at(day: int, hour: int = 0, minute: int = 0, month: int = 4, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CEST)


def incident(
    detected,
    resolved,
    *,
    impact="laag",
    urgency="laag",
    notified=None,
    cause=None,
    iid=None,
    updated=None,
    service="digid",
    env="production",
):
    return {
        "type": "incident",
        "event_id": f"i{next(_ids)}",
        "service": service,
        "environment": env,
        "afnemer_id": None,
        "incident_id": iid or f"INC-{next(_ids)}",
        "updated_at": updated or resolved or detected,
        "status": "resolved" if resolved else "open",
        "impact": impact,
        "urgency": urgency,
        "detected_at": detected,
        "notified_at": notified,
        "resolved_at": resolved,
        "cause": cause,
        "title": None,
    }


def kpis(events, service="digid", env="production", month="2026-04"):
    return reference_report(events, service, env, month, CATALOGUE).kpis


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        ("hoog", "hoog", 1),
        ("hoog", "midden", 2),
        ("midden", "hoog", 2),
        ("hoog", "laag", 3),
        ("laag", "hoog", 3),
        ("midden", "midden", 3),
        ("midden", "laag", 3),
        ("laag", "midden", 3),
        ("laag", "laag", 3),
    ],
)
def test_priority_follows_the_impact_urgency_matrix(impact: str, urgency: str, expected: int) -> None:
    """R10: P1 hoog/hoog, P2 hoog with midden either way, P3 otherwise."""
    assert priority(impact, urgency) == expected


def test_a_p3_of_exactly_18_office_hours_is_within_under_digid_3_0() -> None:
    """R11/R4: Tuesday 14 April 08:00 → Thursday 16 April 09:00 = 9 + 9 + 1 = 19 office hours (08–17):
    over; → Thursday 08:00 = 18: within."""
    within = incident(at(14, 8), at(16, 8))
    over = incident(at(14, 8), at(16, 9))
    k = kpis([within, over])["incident_resolution_p3"]
    assert (k.count, k.within, k.value, k.status) == (2, 1, 50.0, "breached")


def test_the_same_p3_under_digid_2_8_counts_office_hours_of_08_to_18() -> None:
    """R4: under 2.8 Tuesday 08:00 → Wednesday 18:00 = 20 office hours > 18; → Wednesday 16:00 = 18."""
    over = incident(at(14, 8, year=2019, month=5), at(15, 18, year=2019, month=5))
    within = incident(at(14, 8, year=2019, month=5), at(15, 16, year=2019, month=5))
    k = kpis([over, within], month="2019-05")["incident_resolution_p3"]
    assert (k.count, k.within) == (2, 1)
    hours = sorted(i["hours"] for i in k.model_dump()["items"])
    assert hours == [18.0, 20.0]


def test_a_p2_across_a_weekend_and_easter_counts_only_workday_office_hours() -> None:
    """R3/R4: Thursday 2 April 12:00 → Tuesday 7 April 12:00 (Good Friday, the weekend and Easter Monday
    are not workdays) = 5 + 4 = 9 office hours ≤ 10."""
    k = kpis([incident(at(2, 12), at(7, 12), impact="hoog", urgency="midden")])["incident_resolution_p2"]
    assert k.model_dump()["items"][0]["hours"] == 9.0 and k.within == 1 and k.status == "met"


def test_a_p1_is_measured_in_clock_hours_and_exactly_six_is_within() -> None:
    """R11: P1 6 clock hours; Saturday 4 April 10:00 → 16:00 is within, → 16:01 is not."""
    ok = incident(at(4, 10), at(4, 16), impact="hoog", urgency="hoog", notified=at(4, 10, 30))
    late = incident(at(4, 10), at(4, 16, 1), impact="hoog", urgency="hoog", notified=at(4, 10, 31))
    k = kpis([ok, late])
    assert (k["incident_resolution_p1"].count, k["incident_resolution_p1"].within) == (2, 1)
    assert (k["incident_notification_p1"].count, k["incident_notification_p1"].within) == (2, 1)
    assert k["incident_notification_p1"].status == "breached" and k["incident_notification_p1"].norm == 100.0


def test_a_p1_without_notified_at_was_not_informed_in_time() -> None:
    """R13: a missing notified_at is late."""
    k = kpis([incident(at(4, 10), at(4, 11), impact="hoog", urgency="hoog")])["incident_notification_p1"]
    assert (k.count, k.within, k.value) == (1, 0, 0.0)


def test_an_incident_counts_in_the_month_it_was_resolved_and_is_listed_open_before() -> None:
    """R12: detected 30 April, resolved 2 May: open in April's report, judged in May."""
    events = [incident(at(30, 9), at(2, 9, month=5))]
    april, may = kpis(events), kpis(events, month="2026-05")
    assert april["incident_resolution_p3"].status == "no_data"
    assert april["incidents_open"].value == 1
    item = april["incidents_open"].model_dump()["items"][0]
    assert item["priority"] == "P3" and item["elapsed_hours"] == 15.0
    assert may["incident_resolution_p3"].count == 1 and may["incidents_open"].value == 0


def test_an_incident_with_an_excluded_cause_counts_nowhere() -> None:
    """R12/R8: cause internet → not judged, not listed open."""
    events = [incident(at(3, 9), at(3, 10), cause="internet"), incident(at(30, 9), None, cause="afnemer")]
    k = kpis(events)
    assert k["incident_resolution_p3"].status == "no_data" and k["incidents_open"].value == 0


def test_a_preproduction_p1_is_not_judged_and_not_listed() -> None:
    """R11: 'N.v.t.' for pre-production P1; P2 is judged as in production."""
    events = [
        incident(at(3, 9), at(3, 10), impact="hoog", urgency="hoog", env="preproduction"),
        incident(at(30, 9), None, impact="hoog", urgency="hoog", env="preproduction"),
        incident(at(3, 9), at(3, 10), impact="hoog", urgency="midden", env="preproduction"),
    ]
    k = kpis(events, env="preproduction")
    assert k["incident_resolution_p1"].status == "no_data" and k["incident_resolution_p1"].value is None
    assert k["incident_notification_p1"].status == "no_data"
    assert k["incidents_open"].value == 0
    assert k["incident_resolution_p2"].count == 1


def test_a_reclassified_incident_is_judged_by_its_latest_snapshot_whatever_the_arrival_order() -> None:
    """R10: the P1 snapshot of 09:00 is replaced by the P3 one of 10:00 even when it arrives last."""
    first = incident(at(3, 8), None, impact="hoog", urgency="hoog", iid="INC-R", updated=at(3, 9))
    last = incident(at(3, 8), at(3, 20), iid="INC-R", updated=at(3, 21))
    for events in ([first, last], [last, first]):
        k = kpis(events)
        assert k["incident_resolution_p1"].status == "no_data"
        assert k["incident_resolution_p3"].count == 1


def test_mijnoverheid_targets_are_20_and_30_office_hours() -> None:
    """R11: MijnOverheid P2 20 office hours (08–17): Monday 13 April 08:00 → Wednesday 15 April 10:00 =
    9 + 9 + 2 = 20 → within."""
    k = kpis(
        [incident(at(13, 8), at(15, 10), impact="midden", urgency="hoog", service="mijnoverheid")],
        service="mijnoverheid",
    )
    assert k["incident_resolution_p2"].within == 1
    assert "incident_notification_p1" not in k

"""Availability (R6–R9, R16) with explicit instants, plus property tests.

Expected values are computed by hand in each test from the formula of R6:
(H − U − M) / (H − M) × 100.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report

CEST = timezone(timedelta(hours=2))
CET = timezone(timedelta(hours=1))
UTC = UTC
_ids = count()
CATALOGUE = load_catalogue()
APRIL_H = 720.0  # April 2026: 30 days, no DST change


def at(day: int, hour: int = 0, minute: int = 0, month: int = 4, tz: timezone = CEST) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def outage(
    start, end, *, cause=None, function=None, service="digid", env="production", oid=None, updated=None
):
    return {
        "type": "outage",
        "event_id": f"o{next(_ids)}",
        "service": service,
        "environment": env,
        "afnemer_id": None,
        "outage_id": oid or f"OUT-{next(_ids)}",
        "updated_at": updated or (end or start),
        "started_at": start,
        "ended_at": end,
        "cause": cause,
        "function": function,
        "title": None,
    }


def maintenance(
    start,
    end,
    *,
    announced=None,
    kind="planned",
    status="scheduled",
    component=None,
    service="digid",
    env="production",
    mid=None,
):
    return {
        "type": "maintenance",
        "event_id": f"m{next(_ids)}",
        "service": service,
        "environment": env,
        "afnemer_id": None,
        "maintenance_id": mid or f"MNT-{next(_ids)}",
        "updated_at": announced or start - timedelta(days=20),
        "kind": kind,
        "status": status,
        "announced_at": announced or start - timedelta(days=20),
        "starts_at": start,
        "ends_at": end,
        "component": component,
    }


def kpis(events, service="digid", env="production", month="2026-04"):
    return reference_report(events, service, env, month, CATALOGUE).kpis


def test_a_two_hour_outage_in_april_gives_the_r6_share_of_720_hours() -> None:
    """R6: (720 − 2) / 720 × 100."""
    a = kpis([outage(at(10, 12), at(10, 14))])["availability"]
    assert a.value == pytest.approx(718 / 720 * 100, abs=1e-4)
    assert (a.hours, a.unavailable_hours, a.maintenance_hours) == (720.0, 2.0, 0.0)
    assert a.status == "met" and a.norm == 99.5


def test_an_outage_across_the_month_end_is_clipped_to_the_month() -> None:
    """R2: 30 April 22:00 – 1 May 03:00 is 2 h in April and 3 h in May."""
    events = [outage(at(30, 22), at(1, 3, month=5))]
    assert kpis(events)["availability"].unavailable_hours == 2.0
    assert kpis(events, month="2026-05")["availability"].unavailable_hours == 3.0


def test_overlapping_outages_are_counted_once() -> None:
    """R6: 10:00–12:00 and 11:00–13:00 cover 3 hours, not 4."""
    a = kpis([outage(at(3, 10), at(3, 12)), outage(at(3, 11), at(3, 13))])["availability"]
    assert a.unavailable_hours == 3.0


def test_an_excluded_cause_does_not_count_and_does_not_shorten_a_counted_outage() -> None:
    """R8: an afnemer-caused outage overlapping a counted one leaves the counted hours unchanged."""
    a = kpis([outage(at(3, 10), at(3, 12)), outage(at(3, 11), at(3, 15), cause="afnemer")])["availability"]
    assert a.unavailable_hours == 2.0
    items = {i["cause"]: i for i in a.model_dump()["items"]}
    assert items["afnemer"]["counted"] == "none" and "excluded" in items["afnemer"]["why"]


def test_dependency_counts_for_digid_but_is_excluded_for_machtigen() -> None:
    """R8: a DigiD disruption excuses Machtigen; for DigiD itself the cause is not excluded."""
    digid = kpis([outage(at(3, 10), at(3, 12), cause="dependency")])["availability"]
    machtigen = kpis(
        [outage(at(3, 10), at(3, 12), cause="dependency", service="digid-machtigen")],
        service="digid-machtigen",
    )["availability"]
    assert digid.unavailable_hours == 2.0 and machtigen.unavailable_hours == 0.0


def test_a_website_outage_counts_only_for_www_digid_nl() -> None:
    """R7: function website moves the outage from availability to availability_website."""
    result = kpis([outage(at(5, 0), at(5, 6), function="website"), outage(at(6, 0), at(6, 1))])
    assert result["availability"].unavailable_hours == 1.0
    assert result["availability_website"].unavailable_hours == 6.0
    assert result["availability_website"].value == pytest.approx(714 / 720 * 100, abs=1e-4)
    assert result["availability_website"].status == "breached"


def test_march_2026_has_743_hours_because_of_daylight_saving_time() -> None:
    """R1: H is the real elapsed length of the month."""
    assert kpis([], month="2026-03")["availability"].hours == 743.0
    assert kpis([], month="2026-10")["availability"].hours == 745.0


def test_a_valid_window_counts_only_its_00_to_06_part_as_maintenance() -> None:
    """R9: 22:00–04:00 → 4 h in M (00:00–04:00), 2 h in U (22:00–24:00)."""
    a = kpis([maintenance(at(13, 22), at(14, 4))])["availability"]
    assert (a.maintenance_hours, a.unavailable_hours) == (4.0, 2.0)
    assert a.value == pytest.approx((720 - 2 - 4) / (720 - 4) * 100, abs=1e-4)


def test_a_third_planned_window_counts_as_unavailable_and_a_cancelled_one_takes_no_slot() -> None:
    """R9: windows on the 8th, (cancelled 10th), 13th, 22nd → the 8th and 13th in M, the 22nd in U."""
    events = [
        maintenance(at(22, 0), at(22, 3), mid="C"),
        maintenance(at(8, 0), at(8, 6), mid="A"),
        maintenance(at(10, 0), at(10, 6), mid="X", status="cancelled"),
        maintenance(at(13, 0), at(13, 6), mid="B"),
    ]
    result = kpis(events)
    a = result["availability"]
    assert (a.maintenance_hours, a.unavailable_hours) == (12.0, 3.0)
    assert result["maintenance_windows"].value == 2
    assert result["maintenance_windows"].model_dump()["planned"] == 3
    why = {i["id"]: i["why"] for i in a.model_dump()["items"]}
    assert "beyond the limit" in why["C"] and "cancelled" in why["X"]


def test_a_window_announced_after_it_started_counts_as_unavailable() -> None:
    """R9: announced 01:00 for a window starting 00:00 → the whole 6 h in U."""
    a = kpis([maintenance(at(8, 0), at(8, 6), announced=at(8, 1))])["availability"]
    assert (a.maintenance_hours, a.unavailable_hours) == (0.0, 6.0)


def test_an_outage_inside_valid_maintenance_is_not_unavailability() -> None:
    """R6/R9: U is unavailability outside valid planned maintenance."""
    a = kpis([maintenance(at(8, 0), at(8, 6)), outage(at(8, 5), at(8, 7))])["availability"]
    assert (a.maintenance_hours, a.unavailable_hours) == (6.0, 1.0)


def test_emergency_maintenance_overlapping_an_outage_is_counted_once() -> None:
    """R8: emergency maintenance 10:00–12:00 and an outage 11:00–13:00 → 3 h of U."""
    a = kpis([maintenance(at(9, 10), at(9, 12), kind="emergency"), outage(at(9, 11), at(9, 13))])[
        "availability"
    ]
    assert (a.maintenance_hours, a.unavailable_hours) == (0.0, 3.0)


def test_preproduction_counts_only_workday_office_window_time() -> None:
    """R7: DigiD pre-production is workdays 08:00–18:00: April 2026 has 19 workdays (Good Friday, Easter
    Monday and Koningsdag on weekdays) = 190 h; an outage 06:00–10:00 on Thursday 2 April counts 2 h."""
    a = kpis([outage(at(2, 6), at(2, 10), env="preproduction")], env="preproduction")["availability"]
    assert a.hours == 190.0 and a.unavailable_hours == 2.0 and a.norm == 99.0
    assert a.value == pytest.approx(188 / 190 * 100, abs=1e-4)


def test_a_minute_over_capacity_leaves_unavailability() -> None:
    """R16: 10,001 authentications in 12:00 of 3 April inside a 12:00–12:10 outage → 9 minutes of U."""
    start = at(3, 12)
    auths = [
        {
            "type": "authentication",
            "event_id": f"a{i}",
            "service": "digid",
            "environment": "production",
            "afnemer_id": None,
            "started_at": start + timedelta(microseconds=i),
            "completed_at": start + timedelta(seconds=1),
            "outcome": "success",
            "level": None,
        }
        for i in range(10_001)
    ]
    a = kpis([*auths, outage(start, start + timedelta(minutes=10))])["availability"]
    assert a.unavailable_hours == pytest.approx(9 / 60, abs=1e-4)


def test_an_ongoing_outage_counts_up_to_the_end_of_the_month() -> None:
    """R2: ended_at null on 30 April 20:00 → 4 h in April."""
    assert kpis([outage(at(30, 20), None)])["availability"].unavailable_hours == 4.0


def test_mijnoverheid_berichtenbox_maintenance_is_neither_m_nor_u_but_an_outage_during_it_counts() -> None:
    """R9: 'geen downtime'; the Berichtenbox window of 14 April (2nd Tuesday) 09:00–15:00 with an
    outage 10:00–11:00."""
    events = [
        maintenance(at(14, 9), at(14, 15), component="berichtenbox", service="mijnoverheid"),
        outage(at(14, 10), at(14, 11), service="mijnoverheid"),
    ]
    a = kpis(events, service="mijnoverheid")["availability"]
    assert (a.maintenance_hours, a.unavailable_hours) == (0.0, 1.0)
    assert a.norm == 99.0


def test_mijnoverheid_technical_portal_maintenance_needs_five_workdays_notice() -> None:
    """R9: 2nd Wednesday of April 2026 is the 8th. Announced Tuesday 31 March: the 5th workday after is
    Thursday 9 April (Good Friday and Easter Monday are not workdays) → too late, U. Announced Monday
    30 March: the 5th workday after is Wednesday 8 April → M."""
    late, ok = (
        maintenance(
            at(8, 0), at(8, 6), announced=announced, component="portaal-technisch", service="mijnoverheid"
        )
        for announced in (at(31, 12, month=3), at(30, 12, month=3))
    )
    a_late = kpis([late], service="mijnoverheid")["availability"]
    a_ok = kpis([ok], service="mijnoverheid")["availability"]
    assert (a_late.maintenance_hours, a_late.unavailable_hours) == (0.0, 6.0)
    assert (a_ok.maintenance_hours, a_ok.unavailable_hours) == (6.0, 0.0)


def test_mijnoverheid_portal_maintenance_moved_to_another_day_needs_ten_workdays_notice() -> None:
    """R9: technical maintenance moved to Thursday 16 April; announced 1 April the 10th workday after is
    17 April (3 and 6 April are feestdagen) → U; announced 27 March the 10th is 14 April → M."""
    events_late = [
        maintenance(
            at(16, 0), at(16, 6), announced=at(1, 9), component="portaal-technisch", service="mijnoverheid"
        )
    ]
    events_ok = [
        maintenance(
            at(16, 0),
            at(16, 6),
            announced=at(27, 9, month=3, tz=CET),
            component="portaal-technisch",
            service="mijnoverheid",
        )
    ]
    assert kpis(events_late, service="mijnoverheid")["availability"].unavailable_hours == 6.0
    assert kpis(events_ok, service="mijnoverheid")["availability"].maintenance_hours == 6.0


def test_mijnoverheid_maintenance_without_a_known_component_is_unavailability() -> None:
    """R9: additional maintenance agreed in the Operationeel Overleg is not modelled: U."""
    a = kpis([maintenance(at(8, 0), at(8, 2), service="mijnoverheid")], service="mijnoverheid")[
        "availability"
    ]
    assert a.unavailable_hours == 2.0


_instants = st.integers(min_value=-48, max_value=30 * 24 + 48).map(lambda h: at(1) + timedelta(hours=h))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_instants, st.integers(1, 300), st.sampled_from([None, "logius", "afnemer"])), max_size=8
    ),
    st.lists(
        st.tuples(_instants, st.integers(1, 600), st.sampled_from(["planned", "emergency"])), max_size=4
    ),
)
def test_availability_stays_between_0_and_100_and_ignores_the_order_of_snapshots(outages, windows) -> None:
    """R6: whatever the outages and maintenance, 0 ≤ availability ≤ 100, U ≤ H − M, and shuffling the
    events changes nothing."""
    events = [outage(s, s + timedelta(minutes=m), cause=c) for s, m, c in outages]
    events += [maintenance(s, s + timedelta(minutes=m), kind=k) for s, m, k in windows]
    a = kpis(events)["availability"]
    assert a.value is not None and 0.0 <= a.value <= 100.0
    assert a.unavailable_hours <= a.hours - a.maintenance_hours + 1e-4
    shuffled = list(events)
    random.Random(len(events)).shuffle(shuffled)
    assert kpis(shuffled)["availability"].model_dump() == a.model_dump()

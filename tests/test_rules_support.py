"""Citizen support (R20) and afnemer questions and complaints (R21)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report

CEST = timezone(timedelta(hours=2))
_ids = count()
CATALOGUE = load_catalogue()
T = datetime(2026, 4, 14, 10, 0, tzinfo=CEST)  # a Tuesday


def contact(
    channel, received, answered, *, kind="question", abandoned=False, satisfaction=None, service="digid"
):
    return {
        "type": "support_contact",
        "event_id": f"s{next(_ids)}",
        "service": service,
        "environment": "production",
        "afnemer_id": None,
        "channel": channel,
        "received_at": received,
        "answered_at": answered,
        "abandoned": abandoned,
        "satisfaction": satisfaction,
        "kind": kind,
    }


def kpis(events, service="digid", month="2026-04"):
    return reference_report(events, service, "production", month, CATALOGUE).kpis


def test_phone_answered_within_20_seconds_is_a_share_of_all_calls() -> None:
    """R20: 20 s exactly is within, 21 s is not, an abandoned call is not; 1 of 3 = 33.3 % < 80 %."""
    events = [
        contact("phone", T, T + timedelta(seconds=20)),
        contact("phone", T, T + timedelta(seconds=21)),
        contact("phone", T, None, abandoned=True),
    ]
    k = kpis(events)
    assert (k["support_phone_answer_time"].count, k["support_phone_answer_time"].within) == (3, 1)
    assert k["support_phone_answer_time"].status == "breached"
    assert k["support_phone_abandon_rate"].value == pytest.approx(100 / 3, abs=1e-4)
    assert k["support_phone_abandon_rate"].status == "breached"


def test_machtigen_phone_threshold_is_40_seconds() -> None:
    """R20: Machtigen answers within 40 s for 80 %."""
    k = kpis(
        [contact("phone", T, T + timedelta(seconds=40), service="digid-machtigen")], service="digid-machtigen"
    )
    assert k["support_phone_answer_time"].within == 1
    assert k["support_phone_answer_time"].model_dump()["threshold_seconds"] == 40


def test_the_ten_minute_phone_norm_exists_only_where_the_text_states_it() -> None:
    """R20: DigiD 2.8 and MijnOverheid have 'binnen 10 minuten 99 %', DigiD 3.0 does not."""
    assert "support_phone_answer_time_long" not in kpis([])
    assert "support_phone_answer_time_long" in kpis([], service="mijnoverheid")


def test_satisfaction_must_be_strictly_above_the_norm() -> None:
    """R20: a mean of exactly 7.5 is not 'hoger dan 7,5'."""
    events = [contact("phone", T, T, satisfaction=7), contact("phone", T, T, satisfaction=8)]
    k = kpis(events)["support_phone_satisfaction"]
    assert (k.value, k.status) == (7.5, "breached")


def test_email_is_within_two_workdays_across_a_weekend() -> None:
    """R20/R3: received Thursday 16 April; the 2nd workday after is Monday 20 April: answered on the 20th
    is within, on Tuesday the 21st is not."""
    thu = datetime(2026, 4, 16, 15, 0, tzinfo=CEST)
    events = [
        contact("email", thu, datetime(2026, 4, 20, 16, 0, tzinfo=CEST)),
        contact("email", thu, datetime(2026, 4, 21, 9, 0, tzinfo=CEST)),
    ]
    k = kpis(events)["support_written_answer_time"]
    assert (k.count, k.within, k.status) == (2, 1, "breached")


def test_an_unanswered_email_counts_as_late_only_after_its_deadline_passed_by_month_end() -> None:
    """R20: received 1 April, unanswered: Good Friday is no workday, so the 2nd workday after
    Wednesday 1 April is Tuesday 7 April: late in April. Received 29 April: deadline 1 May → not yet."""
    events = [
        contact("email", datetime(2026, 4, 1, 9, tzinfo=CEST), None),
        contact("email", datetime(2026, 4, 29, 9, tzinfo=CEST), None),
    ]
    k = kpis(events)["support_written_answer_time"]
    assert (k.count, k.within) == (1, 0)


def test_afnemer_questions_under_mijnoverheid_need_80_percent_within_two_workdays() -> None:
    """R21: MijnOverheid 2 workdays, 80 %: 4 of 5 within meets the norm exactly; complaints count,
    incidents reported through the afnemer channel do not."""
    tue = T
    events = [contact("afnemer", tue, tue + timedelta(days=2), service="mijnoverheid") for _ in range(3)]
    events += [contact("afnemer", tue, tue + timedelta(days=1), kind="complaint", service="mijnoverheid")]
    events += [contact("afnemer", tue, tue + timedelta(days=3), service="mijnoverheid")]
    events += [contact("afnemer", tue, tue + timedelta(days=9), kind="incident", service="mijnoverheid")]
    k = kpis(events, service="mijnoverheid")["support_afnemer_answer_time"]
    assert (k.count, k.within, k.value, k.norm, k.status) == (5, 4, 80.0, 80.0, "met")


def test_digid_afnemer_questions_have_three_workdays() -> None:
    """R21: DigiD 3 workdays: Tuesday 14 → Friday 17 April is within."""
    k = kpis([contact("afnemer", T, T + timedelta(days=3))])["support_afnemer_answer_time"]
    assert k.within == 1 and k.norm == 99.0

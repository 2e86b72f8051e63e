"""MijnOverheid limits, forecasts and daily counts (R18, R19, R23; docs/interfaces.md "MijnOverheid KPIs,
exactly")."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from itertools import count

import pytest

from sno.core.buckets import MonthInputs, notifications_out_of_order
from sno.core.calendar import Month
from sno.core.catalogue import load_catalogue
from sno.core.judge import judge_month, reference_report
from sno.core.rules.common import Context
from sno.core.rules.mijnoverheid import (
    AfnemerMonth,
    abonnement_nights,
    afnemer_months,
    mijnoverheid_measures,
    night_of,
    not_all_processed,
)
from sno.core.snapshots import Snapshots

CEST = timezone(timedelta(hours=2))
_ids = count()
CATALOGUE = load_catalogue()
T = datetime(2026, 4, 14, 10, 0, tzinfo=CEST)


def base(kind: str, afnemer: str | None = "00000001000000000001") -> dict:
    return {
        "type": kind,
        "event_id": f"e{next(_ids)}",
        "service": "mijnoverheid",
        "environment": "production",
        "afnemer_id": afnemer,
    }


def message(
    received, processed=..., *, status="accepted", attachments=0, size=0, afnemer="00000001000000000001"
):
    if processed is ...:
        processed = received + timedelta(minutes=5)
    return base("message", afnemer) | {
        "received_at": received,
        "processed_at": processed,
        "status": status,
        "attachment_count": attachments,
        "attachment_bytes": size,
    }


def notification(queued, sent, channel="email"):
    return base("notification") | {"queued_at": queued, "sent_at": sent, "channel": channel}


def request(api, received, seconds):
    return base("api_request") | {
        "api": api,
        "received_at": received,
        "completed_at": received + timedelta(seconds=seconds),
        "status_code": 200,
        "bsn_count": 0,
    }


def forecast(afnemer, messages, month="2026-04"):
    return base("forecast", afnemer) | {"month": month, "messages": messages}


def kpis(events, month="2026-04"):
    return reference_report(events, "mijnoverheid", "production", month, CATALOGUE).kpis


def test_46_messages_in_one_second_exceed_the_limit_of_45_and_the_peak_names_that_second() -> None:
    """R18: per-second peak ≤ 45; the 46th message in 10:00:00 breaches it."""
    events = [message(T + timedelta(microseconds=i)) for i in range(46)] + [message(T + timedelta(seconds=1))]
    k = kpis(events)["messages_peak_per_second"]
    assert (k.value, k.norm, k.status) == (46, 45, "breached")
    assert datetime.fromisoformat(k.model_dump()["at"]) == T
    hour = kpis(events)["messages_peak_per_hour"]
    assert hour.value == 47 and hour.status == "met"


def test_the_daily_peak_is_counted_per_local_calendar_day() -> None:
    """R1/R18: 23:30 local on 14 April is 21:30 UTC, still the 14th."""
    events = [message(datetime(2026, 4, 14, 23, 30, tzinfo=CEST)), message(T), message(T + timedelta(days=1))]
    k = kpis(events)["messages_peak_per_day"]
    assert k.value == 2 and datetime.fromisoformat(k.model_dump()["at"]) == datetime(2026, 4, 14, tzinfo=CEST)


def test_a_pending_message_counts_as_late_only_once_its_24_hours_have_passed_by_month_end() -> None:
    """R18: processed in exactly 24 h is within; pending from 29 April 23:00 is late by 1 May 00:00;
    pending from 30 April 01:00 is not counted yet."""
    events = [
        message(T, T + timedelta(hours=24)),
        message(T, T + timedelta(hours=24, seconds=1)),
        message(datetime(2026, 4, 29, 23, 0, tzinfo=CEST), None),
        message(datetime(2026, 4, 30, 1, 0, tzinfo=CEST), None),
        message(T, None, status="rejected"),
    ]
    k = kpis(events)["messages_within_24h"]
    assert (k.count, k.within) == (3, 1)
    assert k.value == pytest.approx(100 / 3, abs=1e-4) and k.status == "breached"


def test_attachments_at_95_percent_and_exactly_500_kb_are_within_the_limits() -> None:
    """R18: 19 of 20 messages with an attachment = 95 % (≤ 95 %); 500,000 bytes is not over 500 kB,
    500,001 is."""
    events = [message(T, attachments=1, size=500_000) for _ in range(18)]
    events += [message(T, attachments=1, size=500_001), message(T)]
    k = kpis(events)
    assert k["attachments_share"].value == 95.0 and k["attachments_share"].status == "met"
    assert k["attachments_over_500kb"].value == 1 and k["attachments_over_500kb"].status == "breached"


def test_a_notification_sent_before_one_queued_earlier_on_its_channel_is_out_of_order() -> None:
    """R18: B (queued 10:01) is sent before A (queued 10:00) on e-mail; the app one is another channel."""
    a = notification(T, T + timedelta(minutes=10))
    b = notification(T + timedelta(minutes=1), T + timedelta(minutes=5))
    c = notification(T + timedelta(minutes=2), T + timedelta(minutes=3), channel="app")
    k = kpis([a, b, c])["notifications_out_of_order"]
    assert (k.value, k.norm, k.status) == (1, 0, "breached")


def test_out_of_order_counts_each_overtaking_notification_once() -> None:
    """R18: C overtakes both A and B but counts once; equal queue instants are not 'queued earlier'."""
    t = T
    rows = [
        (t, t + timedelta(minutes=9), "email"),
        (t + timedelta(minutes=1), t + timedelta(minutes=8), "email"),
        (t + timedelta(minutes=2), t + timedelta(minutes=1), "email"),
        (t + timedelta(minutes=2), t + timedelta(minutes=30), "email"),
    ]
    assert notifications_out_of_order(rows) == 2


def test_validatieservice_and_berichtpresentatie_limits() -> None:
    """R18: berichtpresentatie ≤ 200 ms for 99.9 %; validatieservice ≤ 30 s for 100 %."""
    events = [request("berichtpresentatie", T, 0.2), request("berichtpresentatie", T, 0.201)]
    events += [request("validatieservice", T, 30), request("validatieservice", T, 30.5)]
    k = kpis(events)
    assert (k["berichtpresentatie_within_200ms"].count, k["berichtpresentatie_within_200ms"].within) == (2, 1)
    assert k["validatieservice_within_30s"].value == 50.0
    assert k["validatieservice_peak_per_hour"].value == 2


def test_abonnement_requests_after_midnight_belong_to_the_night_that_started_the_evening_before() -> None:
    """R18: 23:00–07:00 belongs to the date it starts; 151 mutatiebasis requests over the night of
    14 April (100 at 23:30, 51 at 02:00 on the 15th) exceed 150."""
    evening = datetime(2026, 4, 14, 23, 30, tzinfo=CEST)
    night = [request("abonnement-mutatiebasis", evening, 60) for _ in range(100)]
    night += [
        request("abonnement-mutatiebasis", evening + timedelta(hours=2, minutes=30), 60) for _ in range(51)
    ]
    night += [request("abonnement-alles", T, 60)]  # 10:00 is outside every night
    k = kpis(night)["abonnement_peak_per_night"].model_dump()
    items = {i["api"]: i for i in k["items"]}
    assert (
        items["abonnement-mutatiebasis"]["value"] == 151
        and items["abonnement-mutatiebasis"]["night"] == "2026-04-14"
    )
    assert items["abonnement-alles"]["value"] == 0
    assert k["status"] == "breached"


def test_night_of_assigns_the_early_morning_to_the_previous_date() -> None:
    """R18: 06:59 belongs to the night before, 07:00 to none, 23:00 to its own date."""
    n = (time(23), time(7))
    assert night_of(datetime(2026, 4, 15, 6, 59, tzinfo=CEST), *n).isoformat() == "2026-04-14"
    assert night_of(datetime(2026, 4, 15, 7, 0, tzinfo=CEST), *n) is None
    assert night_of(datetime(2026, 4, 15, 23, 0, tzinfo=CEST), *n).isoformat() == "2026-04-15"


def test_forecast_deviation_of_exactly_10_percent_is_met_and_more_is_breached() -> None:
    """R19: afnemer 1 forecast 10, actual 11 (10 %); afnemer 2 forecast 10, actual 12 (20 %)."""
    one, two = "00000001000000000001", "00000001000000000002"
    events = [message(T, afnemer=one) for _ in range(11)] + [message(T, afnemer=two) for _ in range(12)]
    events += [forecast(one, 10), forecast(two, 10), forecast(two, 999, month="2026-05")]
    k = kpis(events)["forecast_deviation"].model_dump()
    items = {i["afnemer_id"]: i for i in k["items"]}
    assert items[one]["value"] == 10.0 and items[one]["status"] == "met"
    assert items[two]["value"] == 20.0 and k["value"] == 20.0 and k["status"] == "breached"


def test_daily_counts_per_afnemer_show_offered_processed_and_rejected() -> None:
    """R23: two offered on 14 April, one processed, one rejected."""
    k = kpis([message(T), message(T, status="rejected", processed=None)])["messages_per_afnemer"].model_dump()
    assert k["items"] == [
        {
            "date": "2026-04-14",
            "afnemer_id": "00000001000000000001",
            "offered": 2,
            "processed": 1,
            "rejected": 1,
        }
    ]
    assert k["value"] == 1 and k["status"] == "info"


def test_each_afnemers_month_sums_its_days_and_names_its_busiest_day() -> None:
    """R23: afnemer 1 offers 2 on the 14th (one rejected), 2 on the 15th (one still pending) and 1 on the
    16th; afnemer 2 offers 1 on the 15th. Per afnemer: days, totals, the busiest day (the earliest of the
    tied 14th and 15th) and the days on which not every message offered was processed."""
    one, two = "00000001000000000001", "00000001000000000002"
    day = timedelta(days=1)
    events = [
        message(T, afnemer=one),
        message(T, status="rejected", processed=None, afnemer=one),
        message(T + day, afnemer=one),
        message(T + day, processed=None, afnemer=one),  # accepted, not processed by the month's end
        message(T + 2 * day, afnemer=one),
        message(T + day, afnemer=two),
    ]
    k = kpis(events)["messages_per_afnemer"].model_dump()
    assert afnemer_months(k["items"]) == (
        AfnemerMonth(one, days=3, offered=5, processed=3, rejected=1, busiest_date="2026-04-14",
                     busiest_offered=2, days_not_all_processed=2),
        AfnemerMonth(two, days=1, offered=1, processed=1, rejected=0, busiest_date="2026-04-15",
                     busiest_offered=1, days_not_all_processed=0),
    )  # fmt: skip
    assert [(i["date"], i["afnemer_id"]) for i in k["items"] if not_all_processed(i)] == [
        ("2026-04-14", one),
        ("2026-04-15", one),
    ]
    # The months add up to the KPI's totals, and R19's actual is the same sum.
    months = afnemer_months(k["items"])
    assert sum(a.offered for a in months) == k["messages_offered"] == 6
    assert sum(a.processed for a in months) == k["messages_processed"] == 4
    assert sum(a.rejected for a in months) == k["messages_rejected"] == 1
    f = kpis([*events, forecast(one, 5), forecast(two, 2)])["forecast_deviation"].model_dump()
    assert {i["afnemer_id"]: i["actual"] for i in f["items"]} == {a.afnemer_id: a.offered for a in months}
    assert afnemer_months([]) == ()


def test_kpis_without_events_of_their_kind_have_no_data() -> None:
    """docs/interfaces.md: nothing to judge → no_data, value null."""
    k = kpis([])
    for kpi_id in (
        "messages_peak_per_second",
        "messages_within_24h",
        "notifications_out_of_order",
        "abonnement_peak_per_night",
        "forecast_deviation",
    ):
        assert k[kpi_id].status == "no_data" and k[kpi_id].value is None


# --- the measures the KPIs are judged from ----------------------------------------------------------------


def _measures(events, month="2026-04"):
    m = Month.parse(month)
    norms = CATALOGUE.select("mijnoverheid", m).norms
    inputs = MonthInputs.from_events(events, CATALOGUE)
    return mijnoverheid_measures(Context("mijnoverheid", "production", m, norms, inputs, Snapshots()))


def test_the_daily_peak_from_clock_hours_keeps_the_short_dst_day_whole() -> None:
    """R1/R18: 29 March 2026 has 23 hours; 01:30 CET and 03:30 CEST are both on the 29th, 23:30 CET on the
    28th. The measures keep clock hours (UTC), and each lies in one local day."""
    cet = timezone(timedelta(hours=1))
    events = [
        message(datetime(2026, 3, 28, 23, 30, tzinfo=cet)),
        message(datetime(2026, 3, 29, 1, 30, tzinfo=cet)),
        message(datetime(2026, 3, 29, 3, 30, tzinfo=CEST)),
    ]
    hours = _measures(events, "2026-03").messages_per_hour
    assert [h.isoformat() for h, _ in hours] == [
        "2026-03-28T22:00:00+00:00",
        "2026-03-29T00:00:00+00:00",
        "2026-03-29T01:00:00+00:00",
    ]
    k = kpis(events, "2026-03")["messages_peak_per_day"]
    assert (k.value, k.model_dump()["at"]) == (2, "2026-03-29T00:00:00+01:00")


def test_abonnement_nights_leave_out_requests_outside_23_to_7() -> None:
    """R18: 23:00 and 06:59:59 belong to the night of the 14th; 07:00 and 22:59 belong to none."""
    night = CATALOGUE.select("mijnoverheid", Month(2026, 4)).norms.mijnoverheid.abonnement_night
    rows = [
        ("abonnement-alles", datetime(2026, 4, 14, 23, 0, tzinfo=CEST), 1),
        ("abonnement-alles", datetime(2026, 4, 15, 6, 59, 59, tzinfo=CEST), 2),
        ("abonnement-alles", datetime(2026, 4, 15, 7, 0, tzinfo=CEST), 4),
        ("abonnement-alles", datetime(2026, 4, 14, 22, 59, tzinfo=CEST), 8),
        ("berichtpresentatie", datetime(2026, 4, 14, 23, 30, tzinfo=CEST), 16),
    ]
    assert abonnement_nights(rows, night) == (("abonnement-alles", date(2026, 4, 14), 3),)


def test_judge_month_takes_the_measures_it_is_given_instead_of_summing_the_inputs() -> None:
    """R18, R19, R23: measures summed elsewhere (the report's ClickHouse queries) give the same KPIs as the
    inputs they were summed from, and are what is judged when the inputs carry no such rows."""
    events = [
        message(T, attachments=1),
        message(T + timedelta(seconds=1), None),
        notification(T, T + timedelta(minutes=5)),
        notification(T + timedelta(minutes=1), T + timedelta(minutes=2)),
        request("validatieservice", T, 31),
        request("abonnement-alles", datetime(2026, 4, 14, 23, 30, tzinfo=CEST), 60),
        forecast("00000001000000000001", 2),
    ]
    measures = _measures(events)
    snapshots = Snapshots()
    for e in events:
        snapshots.add(e)
    month = Month(2026, 4)
    given = judge_month(
        "mijnoverheid", "production", month, MonthInputs(), snapshots, CATALOGUE, mijnoverheid=measures
    )
    expected = kpis(events)
    assert given.kpis["notifications_out_of_order"].value == 1
    assert given.kpis["validatieservice_within_30s"].value == 0.0
    assert given.kpis["forecast_deviation"].value == 0.0  # 2 offered against a forecast of 2
    assert list(given.kpis) == list(expected)
    for kpi_id, kpi in expected.items():
        assert given.kpis[kpi_id] == kpi, kpi_id
    without = judge_month("mijnoverheid", "production", month, MonthInputs(), snapshots, CATALOGUE)
    assert without.kpis["messages_peak_per_second"].status == "no_data"


def test_measures_need_a_version_with_mijnoverheid_limits() -> None:
    """R5: the DigiD norms have no MijnOverheid limits to measure the month against."""
    m = Month(2026, 4)
    norms = CATALOGUE.select("digid", m).norms
    with pytest.raises(ValueError, match="no MijnOverheid limits"):
        mijnoverheid_measures(Context("digid", "production", m, norms, MonthInputs(), Snapshots()))

"""Processing time, capacity and capacity management (R14–R17)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report

CEST = timezone(timedelta(hours=2))
_ids = count()
CATALOGUE = load_catalogue()


def attempt(start: datetime, seconds: float, *, service="digid", afnemer=None) -> dict:
    return {
        "type": "authentication" if service == "digid" else "transaction",
        "event_id": f"a{next(_ids)}",
        "service": service,
        "environment": "production",
        "afnemer_id": afnemer,
        "started_at": start,
        "completed_at": start + timedelta(seconds=seconds),
        "outcome": "success",
        "level": None,
        "operation": None,
    }


def kpis(events, service="digid", month="2026-04"):
    return reference_report(events, service, "production", month, CATALOGUE).kpis


T = datetime(2026, 4, 2, 10, 0, tzinfo=CEST)


def test_digid_counts_exactly_four_seconds_as_within_and_machtigen_does_not() -> None:
    """R14: DigiD '≤ 4 s' ("binnen 4 seconden"), Machtigen '< 4 s'."""
    digid = kpis([attempt(T, 4.0), attempt(T, 4.001)])["processing_time"]
    machtigen = kpis(
        [attempt(T, 4.0, service="digid-machtigen"), attempt(T, 3.999, service="digid-machtigen")],
        service="digid-machtigen",
    )["processing_time"]
    assert (digid.count, digid.within) == (2, 1)
    assert (machtigen.count, machtigen.within) == (2, 1)


def test_the_mean_processing_time_is_reported_in_seconds() -> None:
    """R14: (1 + 2 + 6) / 3 = 3 s."""
    k = kpis([attempt(T, 1), attempt(T, 2), attempt(T, 6)])["processing_time"]
    assert k.model_dump()["mean_seconds"] == pytest.approx(3.0)
    assert k.value == pytest.approx(200 / 3, abs=1e-4) and k.status == "breached"


def test_the_995_norm_is_met_exactly_at_995_per_mille() -> None:
    """R14: 199 of 200 within = 99.5 % exactly, which meets '≥ 99.5 %'."""
    events = [attempt(T + timedelta(seconds=i), 1) for i in range(199)] + [attempt(T, 9)]
    k = kpis(events)["processing_time"]
    assert k.value == 99.5 and k.status == "met"


def test_a_machtigen_minute_over_capacity_leaves_the_processing_kpi_but_not_the_volume() -> None:
    """R15/R16: 1,001 transactions in 10:00 (over 1,000, all slow) and 1,000 in 10:01 (at the limit)."""
    over = [attempt(T + timedelta(milliseconds=i), 9, service="digid-machtigen") for i in range(1001)]
    at_limit = [
        attempt(T + timedelta(minutes=1, milliseconds=i), 1, service="digid-machtigen") for i in range(1000)
    ]
    k = kpis(over + at_limit, service="digid-machtigen")
    assert k["volume"].value == 2001
    assert k["peak_per_minute"].value == 1001 and k["peak_per_minute"].status == "breached"
    assert k["peak_per_minute"].model_dump()["minutes_over"] == 1
    assert datetime.fromisoformat(k["peak_per_minute"].model_dump()["at"]) == T
    assert (k["processing_time"].count, k["processing_time"].within) == (1000, 1000)


def test_afnemers_over_an_r17_threshold_are_listed_under_digid_2_8() -> None:
    """R17: 1,001 authentications of one afnemer in one minute exceed 'piek boven 1.000 per minuut';
    another afnemer with 1,000 does not."""
    t = datetime(2019, 6, 4, 10, 0, tzinfo=CEST)
    events = [attempt(t, 1, afnemer="00000001000000000001") for _ in range(1001)]
    events += [attempt(t, 1, afnemer="00000001000000000002") for _ in range(1000)]
    k = kpis(events, month="2019-06")["capacity_forecast_afnemers"]
    items = k.model_dump()["items"]
    assert k.value == 1 and k.status == "info"
    assert items[0]["afnemer_id"] == "00000001000000000001" and items[0]["over"] == ["peak_per_minute"]


def test_capacity_forecasting_is_not_reported_under_digid_3_0() -> None:
    """R17 is a 2.8 rule only."""
    assert "capacity_forecast_afnemers" not in kpis([attempt(T, 1)])


def test_without_attempts_processing_has_no_data() -> None:
    """R14: nothing to judge → no_data with value null."""
    k = kpis([])
    assert k["processing_time"].status == "no_data" and k["processing_time"].value is None
    assert k["volume"].value == 0

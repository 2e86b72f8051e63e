"""The SNO calendar: months (R1, R2), feestdagen and workdays (R3), office hours and windows (R4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sno.core.calendar as cal
from sno.core.calendar import TZ, Month, WorkCalendar, clock_seconds
from sno.core.intervals import Interval, instant_key

HOUR = 3600.0
NINE_TO_FIVE = (time(8), time(17))  # DigiD 3.0, Machtigen, MijnOverheid (R4)
EIGHT_TO_SIX = (time(8), time(18))  # DigiD 2.8 (R4)


def ams(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=TZ, fold=fold)


def easter(year: int) -> date:
    """Gregorian Easter Sunday by the anonymous (Meeus/Jones/Butcher) algorithm, independent of the code."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def r3_feestdagen(year: int) -> set[date]:
    """The feestdagen of R3 computed from the rule itself."""
    e = easter(year)
    king = date(year, 4, 26) if date(year, 4, 27).weekday() == 6 else date(year, 4, 27)
    return {
        date(year, 1, 1),
        e - timedelta(days=2),  # Goede Vrijdag
        e,
        e + timedelta(days=1),
        king,
        date(year, 5, 5),
        e + timedelta(days=39),  # Hemelvaartsdag
        e + timedelta(days=49),  # Eerste Pinksterdag
        e + timedelta(days=50),
        date(year, 12, 25),
        date(year, 12, 26),
    }


@pytest.fixture(scope="module")
def wc() -> WorkCalendar:
    return WorkCalendar()


# --- months (R1, R2) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "hours"),
    [
        ("2026-03", 31 * 24 - 1),  # clocks forward on 29 March
        ("2026-10", 31 * 24 + 1),  # clocks back on 25 October
        ("2026-04", 30 * 24),
        ("2026-01", 31 * 24),
        ("2024-02", 29 * 24),  # leap year
        ("2026-02", 28 * 24),
    ],
)
def test_a_month_lasts_its_real_elapsed_hours_r1_r2(month: str, hours: int) -> None:
    assert Month.parse(month).hours == hours


def test_a_month_runs_from_local_midnight_to_local_midnight_of_the_next_first_r2() -> None:
    march = Month(2026, 3)
    assert march.start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert march.end == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert march.start.tzinfo is TZ and march.end.tzinfo is TZ
    assert march.first_day == date(2026, 3, 1)
    assert (
        len(march.days()) == 31
        and march.days()[0] == date(2026, 3, 1)
        and march.days()[-1] == date(2026, 3, 31)
    )
    assert str(march) == "2026-03"


def test_the_month_of_an_instant_is_its_local_month_r1_r2() -> None:
    assert Month.of(datetime(2026, 3, 31, 22, 30, tzinfo=UTC)) == Month(2026, 4)  # 00:30 CEST
    assert Month.of(datetime(2026, 3, 31, 21, 59, tzinfo=UTC)) == Month(2026, 3)
    assert Month.of(datetime(2025, 12, 31, 23, 0, tzinfo=UTC)) == Month(2026, 1)  # 00:00 CET
    # 06:59 at UTC+8 is 23:59 on 31 December in Amsterdam.
    assert Month.of(datetime(2026, 1, 1, 6, 59, tzinfo=timezone(timedelta(hours=8)))) == Month(2025, 12)


def test_months_step_across_the_year_and_sort_in_time_r2() -> None:
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2026, 1).prev() == Month(2025, 12)
    assert sorted([Month(2027, 1), Month(2026, 12), Month(2026, 2)]) == [
        Month(2026, 2),
        Month(2026, 12),
        Month(2027, 1),
    ]


@pytest.mark.parametrize("text", ["2026-4", "2026-13", "2026-00", "26-04", "2026/04", " 2026-04", "april"])
def test_a_malformed_month_is_refused_with_a_clear_message_r2(text: str) -> None:
    with pytest.raises(ValueError, match="month"):
        Month.parse(text)


# --- feestdagen and workdays (R3) ----------------------------------------------------------------


def test_the_independent_easter_computation_agrees_with_known_dates() -> None:
    assert easter(2026) == date(2026, 4, 5)
    assert easter(2027) == date(2027, 3, 28)
    assert easter(2025) == date(2025, 4, 20)


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_feestdag_of_r3_and_nothing_else_is_a_holiday(wc: WorkCalendar, year: int) -> None:
    assert set(wc.holidays(year)) == r3_feestdagen(year)


def test_the_2026_feestdagen_fall_on_the_expected_dates_r3(wc: WorkCalendar) -> None:
    expected = {
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 5),
        date(2026, 4, 6),
        date(2026, 4, 27),
        date(2026, 5, 5),
        date(2026, 5, 14),
        date(2026, 5, 24),
        date(2026, 5, 25),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }
    assert set(wc.holidays(2026)) == expected
    assert wc.holidays(2026)[date(2026, 5, 14)] == "Hemelvaartsdag"


def test_the_feestdagen_match_the_rule_for_every_year_the_norms_cover_r3(wc: WorkCalendar) -> None:
    for year in range(2017, 2041):
        assert set(wc.holidays(year)) == r3_feestdagen(year), year


@pytest.mark.parametrize("year", [2025, 2031])
def test_kings_day_moves_to_26_april_when_the_27th_is_a_sunday_r3(wc: WorkCalendar, year: int) -> None:
    assert date(year, 4, 27).weekday() == 6
    assert wc.is_holiday(date(year, 4, 26))
    assert not wc.is_holiday(date(year, 4, 27))


def test_5_may_is_a_holiday_in_a_year_that_is_not_a_lustrum_r3(wc: WorkCalendar) -> None:
    assert date(2026, 5, 5).weekday() == 1  # a Tuesday
    assert wc.is_holiday(date(2026, 5, 5))
    assert not wc.is_workday(date(2026, 5, 5))


def test_15_may_2026_is_a_workday_unless_the_catalogue_configures_it_r3(wc: WorkCalendar) -> None:
    assert wc.is_workday(date(2026, 5, 15))
    configured = WorkCalendar(extra_holidays=[date(2026, 5, 15)])
    assert not configured.is_workday(date(2026, 5, 15))
    assert date(2026, 5, 15) in configured.holidays(2026)
    assert configured.workdays_between(date(2026, 5, 13), date(2026, 5, 18)) == 1  # only Monday the 18th


def test_whit_monday_is_not_a_workday_r3(wc: WorkCalendar) -> None:
    assert date(2026, 5, 25).weekday() == 0
    assert not wc.is_workday(date(2026, 5, 25))
    assert wc.is_workday(date(2026, 5, 26))


def test_boxing_day_on_a_weekend_gives_no_day_off_in_lieu_r3(wc: WorkCalendar) -> None:
    assert date(2026, 12, 26).weekday() == 5
    assert wc.is_holiday(date(2026, 12, 26))
    assert wc.is_workday(date(2026, 12, 28))
    assert date(2027, 12, 26).weekday() == 6
    assert wc.is_workday(date(2027, 12, 27))


def test_a_weekend_day_is_never_a_workday_and_an_ordinary_weekday_is_r3(wc: WorkCalendar) -> None:
    assert not wc.is_workday(date(2026, 4, 11)) and not wc.is_workday(date(2026, 4, 12))
    assert wc.is_workday(date(2026, 4, 13))


def test_a_package_error_on_kings_day_or_an_extra_package_holiday_is_corrected_r3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wrong_package(country: str, years: int, language: str) -> dict[date, str]:
        return {
            date(2025, 1, 1): "New Year's Day",
            date(2025, 4, 18): "Good Friday",
            date(2025, 4, 20): "Easter Sunday",
            date(2025, 4, 21): "Easter Monday",
            date(2025, 4, 27): "King's Day",  # wrong: the 27th is a Sunday
            date(2025, 5, 29): "Ascension Day",
            date(2025, 6, 8): "Pentecost",
            date(2025, 6, 9): "Pentecost Monday",
            date(2025, 11, 11): "Saint Martin's Day",  # not a feestdag of R3
            date(2025, 12, 25): "Christmas Day",
            date(2025, 12, 26): "Second Day of Christmas",
        }

    cal._feestdagen.cache_clear()
    monkeypatch.setattr(cal.holidays_pkg, "country_holidays", wrong_package)
    try:
        assert set(WorkCalendar().holidays(2025)) == r3_feestdagen(2025)
    finally:
        cal._feestdagen.cache_clear()


def test_a_feestdag_missing_from_the_package_is_an_error_not_a_workday_r3(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cal._feestdagen.cache_clear()
    monkeypatch.setattr(
        cal.holidays_pkg, "country_holidays", lambda *a, **k: {date(2025, 1, 1): "New Year's Day"}
    )
    try:
        with pytest.raises(RuntimeError, match="Goede Vrijdag"):
            WorkCalendar().holidays(2025)
    finally:
        cal._feestdagen.cache_clear()


def test_adding_workdays_skips_easter_r3(wc: WorkCalendar) -> None:
    assert wc.add_workdays(date(2026, 4, 2), 1) == date(2026, 4, 7)  # over Good Friday to Easter Monday
    assert wc.add_workdays(date(2026, 4, 1), 5) == date(2026, 4, 10)
    assert wc.add_workdays(date(2026, 4, 4), 0) == date(2026, 4, 4)


def test_adding_workdays_skips_christmas_and_new_year_r3(wc: WorkCalendar) -> None:
    assert wc.add_workdays(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert wc.add_workdays(date(2026, 12, 24), 2) == date(2026, 12, 29)
    assert wc.add_workdays(date(2026, 12, 30), 2) == date(2027, 1, 4)


def test_adding_a_negative_number_of_workdays_is_refused_r3(wc: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        wc.add_workdays(date(2026, 4, 1), -1)


def test_workdays_between_counts_the_end_but_not_the_start_r3(wc: WorkCalendar) -> None:
    assert wc.workdays_between(date(2026, 4, 2), date(2026, 4, 7)) == 1
    assert wc.workdays_between(date(2026, 4, 7), date(2026, 4, 2)) == -1
    assert wc.workdays_between(date(2026, 4, 7), date(2026, 4, 7)) == 0
    assert wc.workdays_between(date(2026, 12, 24), date(2027, 1, 4)) == 5  # 28, 29, 30, 31 Dec and 4 Jan
    # April 2026: 22 weekdays less Goede Vrijdag, Tweede Paasdag and Koningsdag.
    assert wc.workdays_between(date(2026, 3, 31), date(2026, 4, 30)) == 19


def test_a_datetime_where_a_date_is_expected_is_refused_r3(wc: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        wc.is_workday(ams(2026, 4, 1, 12))


@settings(max_examples=100, deadline=None)
@given(st.dates(date(2025, 1, 1), date(2028, 12, 31)), st.integers(0, 40))
def test_adding_n_workdays_lands_n_workdays_later_r3(d: date, n: int) -> None:
    wc = WorkCalendar()
    later = wc.add_workdays(d, n)
    assert wc.workdays_between(d, later) == n
    assert n == 0 or wc.is_workday(later)


@settings(max_examples=100, deadline=None)
@given(st.dates(date(2025, 1, 1), date(2028, 12, 31)), st.dates(date(2025, 1, 1), date(2028, 12, 31)))
def test_workdays_between_agrees_with_counting_day_by_day_r3(a: date, b: date) -> None:
    wc = WorkCalendar()
    lo, hi = min(a, b), max(a, b)
    by_day = sum(
        1
        for i in range(1, (hi - lo).days + 1)
        if (d := lo + timedelta(days=i)).weekday() < 5 and d not in r3_feestdagen(d.year)
    )
    assert wc.workdays_between(a, b) == (by_day if a <= b else -by_day)


# --- office hours (R4) ---------------------------------------------------------------------------


def test_office_hours_across_a_weekend_r4(wc: WorkCalendar) -> None:
    # Friday 16:00 to Monday 10:00.
    start, end = ams(2026, 3, 6, 16), ams(2026, 3, 9, 10)
    assert wc.office_seconds(start, end, *NINE_TO_FIVE) == 3 * HOUR  # 1 h + 2 h
    assert wc.office_seconds(start, end, *EIGHT_TO_SIX) == 4 * HOUR  # 2 h + 2 h


def test_office_hours_across_easter_skip_good_friday_and_easter_monday_r3_r4(wc: WorkCalendar) -> None:
    # Thursday 2 April 15:00 to Tuesday 7 April 09:00.
    start, end = ams(2026, 4, 2, 15), ams(2026, 4, 7, 9)
    assert wc.office_seconds(start, end, *NINE_TO_FIVE) == 3 * HOUR  # 2 h + 1 h
    assert wc.office_seconds(start, end, *EIGHT_TO_SIX) == 4 * HOUR  # 3 h + 1 h


def test_a_span_starting_and_ending_inside_office_hours_counts_only_office_time_r4(wc: WorkCalendar) -> None:
    assert wc.office_seconds(ams(2026, 4, 8, 9, 15), ams(2026, 4, 8, 11, 45), *NINE_TO_FIVE) == 2.5 * HOUR
    # Monday 10:30 to Wednesday 09:30.
    start, end = ams(2026, 4, 13, 10, 30), ams(2026, 4, 15, 9, 30)
    assert wc.office_seconds(start, end, *NINE_TO_FIVE) == (6.5 + 9 + 1.5) * HOUR
    assert wc.office_seconds(start, end, *EIGHT_TO_SIX) == (7.5 + 10 + 1.5) * HOUR


def test_a_p3_target_of_exactly_18_office_hours_is_reached_exactly_r4_r11(wc: WorkCalendar) -> None:
    # Friday 10 April 12:00: 5 h on Friday, 9 h on Monday, 4 h on Tuesday.
    assert wc.office_seconds(ams(2026, 4, 10, 12), ams(2026, 4, 14, 12), *NINE_TO_FIVE) == 18 * HOUR
    assert wc.office_seconds(ams(2026, 4, 10, 12), ams(2026, 4, 14, 12, 0, 0, 1), *NINE_TO_FIVE) > 18 * HOUR


def test_office_hours_across_the_spring_dst_change_are_unaffected_while_clock_hours_lose_one_r1_r4(
    wc: WorkCalendar,
) -> None:
    start, end = ams(2026, 3, 27, 12), ams(2026, 3, 30, 12)
    assert wc.office_seconds(start, end, *NINE_TO_FIVE) == 9 * HOUR  # Friday 5 h + Monday 4 h
    assert clock_seconds(start, end) == 71 * HOUR
    # The same instants written in UTC give the same answer.
    assert wc.office_seconds(start.astimezone(UTC), end.astimezone(UTC), *NINE_TO_FIVE) == 9 * HOUR


def test_office_hours_across_the_autumn_dst_change_are_unaffected_while_clock_hours_gain_one_r1_r4(
    wc: WorkCalendar,
) -> None:
    start, end = ams(2026, 10, 23, 12), ams(2026, 10, 26, 12)
    assert wc.office_seconds(start, end, *NINE_TO_FIVE) == 9 * HOUR
    assert clock_seconds(start, end) == 73 * HOUR
    assert clock_seconds(end, start) == -73 * HOUR


def test_office_seconds_of_an_empty_or_reversed_span_is_zero_r4(wc: WorkCalendar) -> None:
    assert wc.office_seconds(ams(2026, 4, 8, 12), ams(2026, 4, 8, 12), *NINE_TO_FIVE) == 0.0
    assert wc.office_seconds(ams(2026, 4, 8, 12), ams(2026, 4, 8, 10), *NINE_TO_FIVE) == 0.0


def test_naive_instants_are_refused_everywhere_r1(wc: WorkCalendar) -> None:
    naive = datetime(2026, 4, 8, 12)
    with pytest.raises(ValueError, match="naive"):
        wc.office_seconds(naive, ams(2026, 4, 9), *NINE_TO_FIVE)
    with pytest.raises(ValueError, match="naive"):
        wc.window_intervals(ams(2026, 4, 1), naive, time(0), time(6), False)
    with pytest.raises(ValueError, match="naive"):
        clock_seconds(naive, ams(2026, 4, 9))
    with pytest.raises(ValueError, match="naive"):
        Month.of(naive)


# --- daily windows (R4, R7, R9) ------------------------------------------------------------------


def hours_of(intervals: list[Interval]) -> list[float]:
    return [iv.seconds / HOUR for iv in intervals]


def test_a_night_window_crossing_midnight_belongs_to_the_day_it_starts_on_r4(wc: WorkCalendar) -> None:
    # The week of Monday 13 April 2026: nights of Monday to Friday; Sunday's night does not count.
    nights = wc.window_intervals(ams(2026, 4, 13), ams(2026, 4, 20), time(23), time(7), workdays_only=True)
    assert hours_of(nights) == [8.0] * 5
    assert nights[0] == Interval(ams(2026, 4, 13, 23), ams(2026, 4, 14, 7))
    assert nights[-1] == Interval(ams(2026, 4, 17, 23), ams(2026, 4, 18, 7))  # Friday's night ends Saturday


def test_a_span_starting_in_the_small_hours_gets_the_tail_of_the_previous_nights_window_r4(
    wc: WorkCalendar,
) -> None:
    nights = wc.window_intervals(
        ams(2026, 4, 14, 3), ams(2026, 4, 14, 12), time(23), time(7), workdays_only=True
    )
    assert nights == [Interval(ams(2026, 4, 14, 3), ams(2026, 4, 14, 7))]
    assert wc.window_seconds(ams(2026, 4, 14, 3), ams(2026, 4, 14, 12), time(23), time(7), True) == 4 * HOUR


def test_midnight_as_the_end_means_the_end_of_the_day_r4(wc: WorkCalendar) -> None:
    windows = wc.window_intervals(ams(2026, 4, 14), ams(2026, 4, 15), time(8), time(0), workdays_only=True)
    assert windows == [Interval(ams(2026, 4, 14, 8), ams(2026, 4, 15))]


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 29), 5.0), (date(2026, 10, 25), 7.0), (date(2026, 4, 5), 6.0)]
)
def test_the_0000_0600_maintenance_window_lasts_as_long_as_the_clocks_make_it_r1_r9(
    wc: WorkCalendar, day: date, hours: float
) -> None:
    start = datetime.combine(day, time(0), tzinfo=TZ)
    windows = wc.window_intervals(start, start + timedelta(days=1), time(0), time(6), workdays_only=False)
    assert hours_of(windows) == [hours]
    assert wc.window_seconds(start, start + timedelta(days=1), time(0), time(6), False) == hours * HOUR


def test_the_windows_of_march_2026_lose_the_hour_of_the_dst_change_r1_r9(wc: WorkCalendar) -> None:
    march = Month(2026, 3)
    assert wc.window_seconds(march.start, march.end, time(0), time(6), False) == (31 * 6 - 1) * HOUR
    nightly = wc.window_intervals(march.start, march.end, time(0), time(6), False)
    assert len(nightly) == 31 and sum(iv.seconds for iv in nightly) == (31 * 6 - 1) * HOUR


def test_the_pre_production_window_of_a_month_counts_only_workday_hours_r4_r7(wc: WorkCalendar) -> None:
    april = Month(2026, 4)
    assert wc.window_seconds(april.start, april.end, *EIGHT_TO_SIX, workdays_only=True) == 19 * 10 * HOUR


def test_a_five_year_span_is_computed_in_closed_form_not_day_by_day_r4(
    wc: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    real = cal._day_window

    def counting(day: date, from_t: time, to_t: time) -> tuple[datetime, datetime]:
        nonlocal calls
        calls += 1
        return real(day, from_t, to_t)

    monkeypatch.setattr(cal, "_day_window", counting)
    start, end = ams(2021, 1, 1), ams(2026, 1, 1)
    seconds = wc.office_seconds(start, end, *NINE_TO_FIVE)
    assert calls <= 30  # the edge days and DST days at most, out of 1826 days
    workdays = sum(
        1
        for i in range((end.date() - start.date()).days)
        if (d := start.date() + timedelta(days=i)).weekday() < 5 and d not in r3_feestdagen(d.year)
    )
    assert seconds == workdays * 9 * HOUR


# --- properties ----------------------------------------------------------------------------------

_LO = datetime(2025, 12, 20, tzinfo=UTC)
_SPAN_US = 460 * 86_400_000_000  # into April 2027, over three DST changes and two Easters


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    offset = draw(st.integers(0, _SPAN_US))
    zone = draw(st.sampled_from([UTC, TZ, timezone(timedelta(hours=-5))]))
    return (_LO + timedelta(microseconds=offset)).astimezone(zone)


# Windows of the agreements plus arbitrary ones, including ones crossing midnight and touching 02:00–03:00.
wall_times = st.one_of(
    st.sampled_from(
        [time(0), time(2, 30), time(6), time(7), time(8), time(17), time(18), time(22), time(23)]
    ),
    st.times(),
)


@settings(max_examples=150, deadline=None)
@given(instants(), instants(), instants())
def test_office_seconds_add_up_over_consecutive_spans_r4(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted([a, b, c], key=instant_key)
    wc = WorkCalendar()
    whole = wc.office_seconds(a, c, *NINE_TO_FIVE)
    assert whole == pytest.approx(
        wc.office_seconds(a, b, *NINE_TO_FIVE) + wc.office_seconds(b, c, *NINE_TO_FIVE), abs=1e-6
    )


@settings(max_examples=150, deadline=None)
@given(instants(), instants())
def test_office_seconds_never_exceed_clock_seconds_r4(a: datetime, b: datetime) -> None:
    a, b = sorted([a, b], key=instant_key)
    assert 0 <= WorkCalendar().office_seconds(a, b, *EIGHT_TO_SIX) <= clock_seconds(a, b)


@settings(max_examples=150, deadline=None)
@given(instants(), instants(), wall_times, wall_times, st.booleans())
def test_the_closed_form_agrees_with_the_day_by_day_windows_r4(
    a: datetime, b: datetime, from_t: time, to_t: time, workdays_only: bool
) -> None:
    a, b = sorted([a, b], key=instant_key)
    wc = WorkCalendar()
    windows = wc.window_intervals(a, b, from_t, to_t, workdays_only)
    for w in windows:
        assert instant_key(a) <= instant_key(w.start) < instant_key(w.end) <= instant_key(b)
        if workdays_only and instant_key(w.start) > instant_key(a):  # an uncut window starts on its own day
            assert wc.is_workday(w.start.date())
    assert wc.window_seconds(a, b, from_t, to_t, workdays_only) == pytest.approx(
        sum(w.seconds for w in windows), abs=1e-6
    )

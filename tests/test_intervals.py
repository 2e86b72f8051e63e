"""Interval algebra behind availability (R6–R9) and capacity exclusion (R16)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sno.core.calendar import TZ
from sno.core.intervals import (
    Interval,
    clip,
    clip_one,
    instant_key,
    intersect,
    subtract,
    total_seconds,
    union,
)

HOUR = 3600.0
IST = timezone(timedelta(hours=5, minutes=30))


def ams(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=TZ, fold=fold)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def spans(intervals: list[Interval]) -> list[tuple[int, int]]:
    """Intervals as exact instant pairs, so comparisons do not depend on the offsets returned."""
    return [(instant_key(i.start), instant_key(i.end)) for i in intervals]


# --- explicit cases -------------------------------------------------------------------------------


def test_overlapping_outages_are_counted_once_in_the_unavailable_hours_r6() -> None:
    outages = [
        Interval(ams(2026, 4, 1, 10), ams(2026, 4, 1, 12)),
        Interval(ams(2026, 4, 1, 11), ams(2026, 4, 1, 13)),
        Interval(ams(2026, 4, 1, 11, 30), ams(2026, 4, 1, 11, 45)),
    ]
    assert total_seconds(outages) == 3 * HOUR
    assert spans(union(outages)) == spans([Interval(ams(2026, 4, 1, 10), ams(2026, 4, 1, 13))])


def test_touching_outages_merge_and_empty_ones_are_dropped_r6() -> None:
    pieces = [
        Interval(ams(2026, 4, 1, 12), ams(2026, 4, 1, 13)),
        Interval(ams(2026, 4, 1, 10), ams(2026, 4, 1, 12)),
        Interval(ams(2026, 4, 2, 9), ams(2026, 4, 2, 9)),
        Interval(ams(2026, 4, 3, 9), ams(2026, 4, 3, 8)),
    ]
    assert spans(union(pieces)) == spans([Interval(ams(2026, 4, 1, 10), ams(2026, 4, 1, 13))])
    assert Interval(ams(2026, 4, 3, 9), ams(2026, 4, 3, 8)).seconds == 0.0
    assert Interval(ams(2026, 4, 3, 9), ams(2026, 4, 3, 8)).is_empty


def test_intervals_in_different_offsets_are_compared_as_instants_r1() -> None:
    # 10:00 Amsterdam summer time is 08:00 UTC and 13:30 in India.
    a = Interval(ams(2026, 6, 1, 9), ams(2026, 6, 1, 10))
    b = Interval(utc(2026, 6, 1, 8), datetime(2026, 6, 1, 14, 30, tzinfo=IST))
    assert total_seconds([a, b]) == 2 * HOUR
    assert len(union([a, b])) == 1


def test_an_interval_across_the_repeated_october_hour_has_its_real_length_r1() -> None:
    # 02:30 CEST (00:30 UTC) to 02:15 CET (01:15 UTC) on 25 October 2026: 45 real minutes, although the
    # wall clock goes backwards.
    first = ams(2026, 10, 25, 2, 30)
    second = ams(2026, 10, 25, 2, 15, fold=1)
    assert Interval(first, second).seconds == 45 * 60
    # And the order is by instant: the later interval sorts after the earlier one.
    merged = union([Interval(second, ams(2026, 10, 25, 4)), Interval(ams(2026, 10, 25, 1), first)])
    assert spans(merged) == [
        (instant_key(ams(2026, 10, 25, 1)), instant_key(first)),
        (instant_key(second), instant_key(ams(2026, 10, 25, 4))),
    ]


def test_an_outage_across_the_month_end_is_clipped_to_the_month_r2() -> None:
    outage = Interval(ams(2026, 3, 31, 22), ams(2026, 4, 1, 3))
    march = clip([outage], ams(2026, 3, 1), ams(2026, 4, 1))
    april = clip([outage], ams(2026, 4, 1), ams(2026, 5, 1))
    assert total_seconds(march) == 2 * HOUR
    assert total_seconds(april) == 3 * HOUR
    assert clip_one(outage, ams(2026, 4, 1), ams(2026, 5, 1)) == Interval(ams(2026, 4, 1), ams(2026, 4, 1, 3))
    assert clip_one(outage, ams(2026, 5, 1), ams(2026, 6, 1)) is None


def test_valid_maintenance_is_taken_out_of_an_outage_leaving_both_ends_r6_r9() -> None:
    outage = [Interval(ams(2026, 4, 8, 0), ams(2026, 4, 8, 8))]
    maintenance = [
        Interval(ams(2026, 4, 8, 1), ams(2026, 4, 8, 3)),
        Interval(ams(2026, 4, 8, 5), ams(2026, 4, 8, 6)),
    ]
    rest = subtract(outage, maintenance)
    assert spans(rest) == spans(
        [
            Interval(ams(2026, 4, 8, 0), ams(2026, 4, 8, 1)),
            Interval(ams(2026, 4, 8, 3), ams(2026, 4, 8, 5)),
            Interval(ams(2026, 4, 8, 6), ams(2026, 4, 8, 8)),
        ]
    )
    assert total_seconds(intersect(outage, maintenance)) == 3 * HOUR


def test_a_minute_above_the_capacity_limit_is_cut_from_unavailability_r16() -> None:
    outage = [Interval(ams(2026, 4, 8, 12, 0), ams(2026, 4, 8, 12, 10))]
    over_limit = [Interval(ams(2026, 4, 8, 12, 3), ams(2026, 4, 8, 12, 4))]
    assert total_seconds(subtract(outage, over_limit)) == 9 * 60


def test_subtracting_a_cut_that_spans_several_pieces_removes_them_all_r6() -> None:
    pieces = [Interval(ams(2026, 4, 8, h), ams(2026, 4, 8, h, 30)) for h in range(1, 6)]
    cut = [Interval(ams(2026, 4, 8, 1, 15), ams(2026, 4, 8, 4, 15))]
    assert spans(subtract(pieces, cut)) == spans(
        [
            Interval(ams(2026, 4, 8, 1), ams(2026, 4, 8, 1, 15)),
            Interval(ams(2026, 4, 8, 4, 15), ams(2026, 4, 8, 4, 30)),
            Interval(ams(2026, 4, 8, 5), ams(2026, 4, 8, 5, 30)),
        ]
    )


def test_fractional_seconds_are_kept_exactly_r6() -> None:
    iv = Interval(utc(2026, 4, 8, 12, 0, 0, 250_000), utc(2026, 4, 8, 12, 0, 1, 750_001))
    assert iv.seconds == 1.500001
    assert total_seconds([iv]) == 1.500001


def test_naive_datetimes_are_refused_r1() -> None:
    naive = Interval(datetime(2026, 4, 1, 10), datetime(2026, 4, 1, 11))
    with pytest.raises(ValueError, match="naive"):
        union([naive])
    with pytest.raises(ValueError, match="naive"):
        _ = naive.seconds


# --- properties ----------------------------------------------------------------------------------

# Minutes around the October 2026 DST change, so the repeated hour is exercised.
_BASE = utc(2026, 10, 24, 20)
_ZONES = [UTC, TZ, IST]


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    minute = draw(st.integers(min_value=0, max_value=12 * 60))
    zone = draw(st.sampled_from(_ZONES))
    return (_BASE + timedelta(minutes=minute)).astimezone(zone)


intervals_st = st.builds(Interval, instants(), instants())
interval_lists = st.lists(intervals_st, max_size=12)


def covered_minutes(intervals: list[Interval]) -> set[int]:
    """Brute-force oracle: the set of whole minutes covered (inputs are on minute boundaries)."""
    minutes: set[int] = set()
    for iv in intervals:
        start = (instant_key(iv.start) - instant_key(_BASE)) // 60_000_000
        end = (instant_key(iv.end) - instant_key(_BASE)) // 60_000_000
        minutes.update(range(start, end))
    return minutes


@settings(max_examples=150, deadline=None)
@given(interval_lists)
def test_the_union_is_sorted_disjoint_and_never_exceeds_the_span_of_its_inputs_r6(
    ivs: list[Interval],
) -> None:
    result = spans(union(ivs))
    for (s1, e1), (s2, e2) in pairwise(result):
        assert s1 < e1 < s2 < e2  # sorted, disjoint, not even touching
    non_empty = [iv for iv in ivs if not iv.is_empty]
    if non_empty:
        lo = min(instant_key(iv.start) for iv in non_empty)
        hi = max(instant_key(iv.end) for iv in non_empty)
        assert all(lo <= s and e <= hi for s, e in result)
    else:
        assert result == []
    assert covered_minutes(union(ivs)) == covered_minutes(ivs)


@settings(max_examples=150, deadline=None)
@given(interval_lists)
def test_the_union_is_never_longer_than_the_sum_of_its_parts_r6(ivs: list[Interval]) -> None:
    assert total_seconds(union(ivs)) <= sum(iv.seconds for iv in ivs)
    assert total_seconds(ivs) == len(covered_minutes(ivs)) * 60


@settings(max_examples=100, deadline=None)
@given(interval_lists, interval_lists, st.randoms(use_true_random=False))
def test_reordering_the_inputs_changes_nothing_r6(
    a: list[Interval], b: list[Interval], rnd: random.Random
) -> None:
    a2, b2 = a[:], b[:]
    rnd.shuffle(a2)
    rnd.shuffle(b2)
    assert spans(union(a)) == spans(union(a2))
    assert spans(intersect(a, b)) == spans(intersect(a2, b2))
    assert spans(subtract(a, b)) == spans(subtract(a2, b2))
    assert total_seconds(a) == total_seconds(a2)


@settings(max_examples=150, deadline=None)
@given(interval_lists, interval_lists)
def test_subtract_and_intersect_partition_the_first_operand_r6_r9(
    a: list[Interval], b: list[Interval]
) -> None:
    inside, outside = intersect(a, b), subtract(a, b)
    assert intersect(inside, outside) == []
    assert spans(union(inside + outside)) == spans(union(a))
    assert total_seconds(inside) + total_seconds(outside) == total_seconds(a)
    assert covered_minutes(inside) == covered_minutes(a) & covered_minutes(b)
    assert covered_minutes(outside) == covered_minutes(a) - covered_minutes(b)


@settings(max_examples=100, deadline=None)
@given(interval_lists, instants(), instants())
def test_clipping_keeps_exactly_the_part_inside_the_window_r2(
    ivs: list[Interval], s: datetime, e: datetime
) -> None:
    window = covered_minutes([Interval(s, e)])
    assert covered_minutes(clip(ivs, s, e)) == covered_minutes(ivs) & window

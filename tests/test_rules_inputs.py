"""The inputs every rule reads: additive buckets, latest snapshots and duplicate detection (docs/events.md,
R2, R14–R23)."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sno.core.buckets import FAMILIES, MonthInputs, contributions
from sno.core.catalogue import load_catalogue
from sno.core.dedup import Deduplicator, event_time, id_digest
from sno.core.intervals import instant_key
from sno.core.snapshots import Snapshots
from tests.test_rules_performance import attempt

CEST = timezone(timedelta(hours=2))
AMS = ZoneInfo("Europe/Amsterdam")
CATALOGUE = load_catalogue()
T = datetime(2026, 4, 14, 10, 0, tzinfo=CEST)


def auth(i: int, start: datetime, seconds: float, afnemer: str | None = None) -> dict:
    """A DigiD authentication as test_rules_performance builds it, with the id ``a<i>``."""
    return {**attempt(start, seconds, afnemer=afnemer), "event_id": f"a{i}"}


def message(i: int, received: datetime, processed: datetime | None) -> dict:
    return {
        "type": "message",
        "event_id": f"m{i}",
        "service": "mijnoverheid",
        "environment": "production",
        "afnemer_id": "x",
        "received_at": received,
        "processed_at": processed,
        "status": "accepted",
        "attachment_count": 1,
        "attachment_bytes": 600_000,
    }


def test_every_family_key_starts_with_service_environment_afnemer_and_a_time_bucket() -> None:
    """The bucket contract: keys lead with service, environment, afnemer_id and the time bucket."""
    for family in FAMILIES.values():
        assert family.keys[:3] == ("service", "environment", "afnemer_id")
        assert family.keys[3] in ("minute", "second", "day", "queued_at")
        assert family.values and family.doc


def test_an_authentication_adds_one_row_to_its_utc_minute_with_its_duration_in_milliseconds() -> None:
    """R14/R15: 10:00:30+02:00 lies in the minute 08:00 UTC; 4.0005 s rounds to 4001 ms and is over 4 s."""
    rows = contributions(auth(1, T + timedelta(seconds=30), 4.0005), CATALOGUE)
    assert rows == [
        ("auth_minute", ("digid", "production", "", datetime(2026, 4, 14, 8, 0, tzinfo=UTC)), (1, 0, 4001))
    ]


def test_a_message_row_carries_acceptance_attachment_and_processing_counts() -> None:
    """R18: accepted, with an attachment, over 500 kB, processed in 2 h (within 24 h)."""
    [(family, key, values)] = contributions(message(1, T, T + timedelta(hours=2)), CATALOGUE)
    assert family == "message_second" and key[3] == datetime(2026, 4, 14, 8, 0, tzinfo=UTC)
    assert values == (1, 1, 0, 1, 1, 1, 1, 0)


def test_snapshot_types_add_no_bucket_rows() -> None:
    """Incidents, outages, maintenance and forecasts are kept as snapshots instead."""
    assert (
        contributions(
            {"type": "forecast", "service": "mijnoverheid", "month": "2026-04", "messages": 3}, CATALOGUE
        )
        == []
    )


def test_a_contribution_takes_well_under_ten_microseconds() -> None:
    """The stream calls contributions() per event; it must stay cheap (aim ≤ 10 µs, asserted loosely)."""
    events = [auth(i, T + timedelta(milliseconds=i), 1.5, "00000001000000000001") for i in range(20_000)]
    start = time.perf_counter()
    for e in events:
        contributions(e, CATALOGUE)
    per_event = (time.perf_counter() - start) / len(events)
    assert per_event < 50e-6


_events = st.lists(
    st.tuples(st.integers(0, 5 * 24 * 3600), st.floats(0, 10), st.sampled_from([None, "a", "b"])),
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(_events, st.randoms(use_true_random=False))
def test_contributions_summed_in_any_order_give_the_same_inputs(spec, rnd) -> None:
    """R14–R16: buckets are sums, so adding rows in any order gives equal MonthInputs."""
    events = [auth(i, T + timedelta(seconds=s), d, a) for i, (s, d, a) in enumerate(spec)]
    events += [
        message(i, T + timedelta(seconds=s), None if d > 5 else T + timedelta(seconds=s + d))
        for i, (s, d, _) in enumerate(spec)
    ]
    forward = MonthInputs.from_events(events, CATALOGUE)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert MonthInputs.from_events(shuffled, CATALOGUE) == forward
    rows = list(forward.iter_rows())
    rnd.shuffle(rows)
    rebuilt = MonthInputs()
    for family, key, values in rows:
        rebuilt.add(family, key, values)
    assert rebuilt == forward


def test_rows_read_back_from_a_table_in_another_offset_rebuild_equal_inputs() -> None:
    """Round trip: a table may return instants in local time; add() normalises them to UTC."""
    events = [auth(1, T, 1.0), auth(2, T + timedelta(seconds=5), 2.0), auth(3, T + timedelta(hours=1), 3.0)]
    original = MonthInputs.from_events(events, CATALOGUE)
    rebuilt = MonthInputs()
    for family, key, values in original.iter_rows():
        rebuilt.add(family, [k.astimezone(AMS) if isinstance(k, datetime) else k for k in key], list(values))
    assert rebuilt == original
    assert rebuilt.rows["auth_minute"][("digid", "production", "", datetime(2026, 4, 14, 8, tzinfo=UTC))] == [
        2,
        2,
        3000,
    ]


def test_a_naive_instant_in_a_bucket_key_is_refused() -> None:
    """R1: instants are aware everywhere."""
    import pytest

    with pytest.raises(ValueError, match="naive"):
        MonthInputs().add("auth_minute", ("digid", "production", "", datetime(2026, 4, 14, 8)), (1, 1, 1))


def test_support_rows_are_keyed_by_local_date() -> None:
    """R1/R20: 00:30 local on 15 April is 22:30 UTC on the 14th but belongs to the 15th."""
    event = {
        "type": "support_contact",
        "event_id": "s",
        "service": "digid",
        "environment": "production",
        "afnemer_id": None,
        "channel": "phone",
        "received_at": datetime(2026, 4, 15, 0, 30, tzinfo=CEST),
        "answered_at": None,
        "abandoned": True,
        "satisfaction": None,
        "kind": "question",
    }
    [(_, key, _)] = contributions(event, CATALOGUE)
    assert key[3] == date(2026, 4, 15)


def outage_snapshot(updated: datetime, ended: datetime | None, event_id: str) -> dict:
    return {
        "type": "outage",
        "event_id": event_id,
        "service": "digid",
        "environment": "production",
        "afnemer_id": None,
        "outage_id": "OUT-1",
        "updated_at": updated,
        "started_at": T,
        "ended_at": ended,
        "cause": None,
        "function": None,
        "title": None,
    }


def test_the_latest_snapshot_wins_whatever_the_arrival_order() -> None:
    """docs/events.md: the snapshot with the latest updated_at wins; re-delivery is harmless."""
    first = outage_snapshot(T, None, "e1")
    second = outage_snapshot(T + timedelta(hours=1), T + timedelta(hours=1), "e2")
    for order in ([first, second], [second, first], [second, first, second, first]):
        snaps = Snapshots.from_events(order)
        assert snaps.outages[("digid", "OUT-1")]["ended_at"] == T + timedelta(hours=1)


def test_the_same_event_id_within_24_hours_is_a_duplicate_and_25_hours_apart_is_not() -> None:
    """docs/events.md: same event_id and type within 24 h of event time counts once."""
    dedup = Deduplicator()
    assert dedup.is_duplicate(auth(1, T, 1)) is False
    assert dedup.is_duplicate(auth(1, T + timedelta(hours=23), 1)) is True
    assert dedup.is_duplicate(auth(1, T + timedelta(hours=25), 1)) is False
    other_type = message(1, T, None) | {"event_id": "a1"}
    assert dedup.is_duplicate(other_type) is False


def test_the_deduplicator_forgets_what_lies_more_than_window_and_lateness_behind_the_newest_event() -> None:
    """Bounded memory: after 10 days of one event per hour only the last 25 hours' ids are held."""
    dedup = Deduplicator(timedelta(hours=24), lateness=timedelta(hours=1))
    for h in range(240):
        dedup.is_duplicate(auth(h, T + timedelta(hours=h), 1))
    assert 25 <= len(dedup) <= 27


def test_the_deduplicator_never_forgets_a_copy_that_is_not_confirmed_stored() -> None:
    """A copy counted by a batch not yet written stays in memory however old: the store cannot
    answer for it yet."""
    dedup = Deduplicator()
    dedup.count(id_digest("authentication", "old"), 0, seq=5)
    for h in range(100):
        dedup.count(id_digest("authentication", f"n{h}"), (h + 1) * 3_600_000_000, seq=5)
    assert dedup.seen_within(id_digest("authentication", "old"), 0)
    dedup.confirm(5)
    assert not dedup.seen_within(id_digest("authentication", "old"), 0)


def test_an_event_more_than_the_lateness_behind_the_newest_needs_the_store() -> None:
    """Memory is complete only for events at most `lateness` behind the newest (docs/events.md)."""
    dedup = Deduplicator(lateness=timedelta(hours=1))
    newest = 100 * 3_600_000_000
    dedup.count(id_digest("authentication", "a"), newest)
    assert not dedup.needs_lookup(newest - 3_600_000_000)
    assert dedup.needs_lookup(newest - 3_600_000_001)
    assert dedup.check(id_digest("authentication", "x"), 0, known=[86_400_000_000]) is True
    assert dedup.check(id_digest("authentication", "y"), 0, known=[86_400_000_001]) is False


def test_the_deduplicator_restored_from_stored_copies_continues_where_it_left_off() -> None:
    """After a restart the pipeline rebuilds memory from `sno_seen` rows."""
    restored = Deduplicator().restore([("authentication", "a7", instant_key(T))])
    assert restored.is_duplicate(auth(7, T + timedelta(hours=1), 1)) is True
    assert restored.is_duplicate(auth(8, T + timedelta(hours=1), 1)) is False


def test_event_time_is_the_primary_instant_of_each_type() -> None:
    """docs/events.md: started_at, received_at, queued_at, updated_at; a forecast's month start."""
    assert event_time(auth(1, T, 1)) == T
    assert event_time(message(1, T, None)) == T
    assert event_time({"type": "forecast", "month": "2026-04"}) == datetime(2026, 4, 1, tzinfo=AMS)
    shuffled = [auth(i, T + timedelta(minutes=i), 1) for i in range(5)]
    random.Random(1).shuffle(shuffled)
    assert sorted(event_time(e) for e in shuffled)[0] == T

"""Retention (sql/migrations/0007_retention.sql, `sno store prune --before YYYY-MM`): old rows go, what
exactness needs stays, on the real embedded ClickHouse and through the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sno.runtime.retention import parse_month, prune
from sno.runtime.store import open_store
from tests.eventgen import events
from tests.kafka_util import produce_lines
from tests.test_pipeline import run_worker

LEDGER = ("epoch", "topic", "partition", "from_offset", "to_offset", "token", "state", "written_at")
SEEN = ("topic", "partition", "offset", "event_type", "event_id", "event_time")
OLD = datetime(2025, 1, 10, 12, 0)


def _alert(alert_id: str, state: str, at: datetime) -> tuple:
    return (alert_id, "capacity_exceeded", "page", state, "digid", "production", None, "subject", 1.0, 1.0,
            at, at, False, "summary")


ALERT_COLUMNS = ("alert_id", "rule", "severity", "state", "service", "environment", "afnemer_id", "subject",
                 "value", "norm", "event_time", "emitted_at", "replayed", "summary")


@pytest.fixture
def aged_store(store_path: Path) -> Path:
    """A store with a year of history: old writes, ids, alerts and dead letters, and some recent ones."""
    with open_store(store=store_path) as st:
        st.insert("sno_ledger", [
            ("e", "sno.messages", 0, 0, 9, "t1", "pending", OLD),
            ("e", "sno.messages", 0, 0, 9, "t1", "done", OLD),
            ("e", "sno.messages", 0, 10, 19, "t2", "pending", OLD),
            ("e", "sno.messages", 0, 10, 19, "t2", "done", OLD),  # the partition's last counted write: stays
            ("e", "sno.support", 1, 0, 4, "t3", "pending", OLD),
            ("e", "sno.support", 1, 0, 4, "t3", "done", OLD),
            ("e", "sno.support", 1, 5, 8, "t4", "pending", OLD),  # never marked done: stays
            ("e", "sno.support", 1, 9, 12, "t5", "pending", datetime(2026, 11, 3)),
            ("e", "sno.support", 1, 9, 12, "t5", "done", datetime(2026, 11, 3)),
        ], LEDGER)
        st.insert("sno_seen", [
            ("sno.messages", 0, 1, "message", "m-old", datetime(2025, 1, 5)),
            ("sno.messages", 0, 2, "message", "m-mid", datetime(2025, 6, 5)),
            ("sno.messages", 0, 3, "message", "m-new", datetime(2026, 10, 31, 12)),
            # A quiet partition: its newest event is in February 2025, so its window keeps that month.
            ("sno.support", 1, 1, "support_contact", "s-old", datetime(2025, 2, 10, 8)),
        ], SEEN)
        st.insert("sno_alerts", [
            _alert("closed", "firing", OLD), _alert("closed", "resolved", OLD + timedelta(hours=1)),
            _alert("open", "firing", OLD),  # still firing: stays whatever its age
            _alert("late", "firing", OLD), _alert("late", "resolved", datetime(2026, 11, 2)),
        ], ALERT_COLUMNS)
        st.insert("sno_deadletter", [
            ("sno.messages", 0, 5, "not_json", "m", "b3Jp", OLD),
            ("sno.messages", 0, 6, "not_json", "m", "b3Jp", datetime(2026, 11, 20)),
        ], ("topic", "partition", "offset", "reason", "message", "original", "received_at"))
        st.insert("sno_auth_minute", [
            ("digid", "production", "A", datetime(2025, 3, 1, 10, 0), 5, 5, 100),
            ("digid", "production", "A", datetime(2026, 11, 1, 10, 0), 7, 7, 100),
        ], ("service", "environment", "afnemer_id", "minute", "count", "within", "duration_ms"))
    return store_path


def test_pruning_keeps_each_partitions_last_write_unfinished_writes_the_window_and_open_alerts(
    aged_store: Path,
) -> None:
    with open_store(store=aged_store) as st:
        actions = prune(st, parse_month("2026-01"), now=datetime(2026, 12, 1, tzinfo=UTC))
        ledger = st.query("SELECT token, state FROM sno_ledger ORDER BY token, state")
        seen = st.query("SELECT event_id FROM sno_seen ORDER BY event_id")
        alerts = st.query("SELECT alert_id, state FROM sno_alerts ORDER BY alert_id, state")
        letters = st.query("SELECT offset FROM sno_deadletter")
        rollup = st.query("SELECT sum(count) FROM sno_auth_minute")
        log = st.query("SELECT table_name, rows FROM sno_prune_log ORDER BY table_name, action")
    assert ledger == [("t2", "pending"), ("t2", "done"), ("t4", "pending"), ("t5", "pending"), ("t5", "done")]
    # January 2025 is before every window; February 2025 is the quiet partition's window; June stays
    # because it is after the window month.
    assert seen == [("m-mid",), ("m-new",), ("s-old",)]
    assert alerts == [("late", "firing"), ("late", "resolved"), ("open", "firing")]
    assert letters == [(6,)]
    assert rollup == [(12,)]  # rollups only with --rollups
    assert ("sno_ledger", 4) in log and ("sno_alerts", 2) in log
    assert any(a.table == "sno_seen" and "de-duplication window" in a.action for a in actions)


def test_a_dry_run_changes_nothing_and_says_what_would_go(aged_store: Path, run_sno) -> None:
    result = run_sno("store", "prune", "--store", str(aged_store), "--before", "2026-01", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "would remove: sno_ledger:" in out and "(4 rows)" in out
    with open_store(store=aged_store) as st:
        assert st.query("SELECT count() FROM sno_ledger") == [(9,)]
        assert st.query("SELECT count() FROM sno_prune_log") == [(0,)]


def test_rollups_go_only_when_asked_and_by_whole_months(aged_store: Path, run_sno) -> None:
    result = run_sno("store", "prune", "--store", str(aged_store), "--before", "2026-01", "--rollups")
    assert result.returncode == 0, result.stderr
    assert "sno_auth_minute: dropped month 2025-03 (1 rows)" in result.stdout.decode()
    with open_store(store=aged_store) as st:
        assert st.query("SELECT sum(count) FROM sno_auth_minute") == [(7,)]


@pytest.mark.parametrize("before", ["2026-13", "26-01", "next month"])
def test_a_malformed_month_is_refused_in_one_line(aged_store: Path, run_sno, before: str) -> None:
    result = run_sno("store", "prune", "--store", str(aged_store), "--before", before)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [f"sno: --before: expected YYYY-MM, got {before!r}"]


def test_the_current_month_cannot_be_pruned(aged_store: Path) -> None:
    with open_store(store=aged_store) as st, pytest.raises(ValueError, match="only months that are over"):
        prune(st, parse_month("2027-01"), now=datetime(2026, 12, 15, tzinfo=UTC))


def test_the_dead_letter_tables_carry_their_ttl(store_path: Path) -> None:
    with open_store(store=store_path) as st:
        letters = st.query("SHOW CREATE TABLE sno_deadletter")[0][0]
        daily = st.query("SHOW CREATE TABLE sno_deadletter_daily")[0][0]
        query = ("SELECT count(), countIf(NOT is_done) FROM system.mutations "
                 "WHERE database = currentDatabase()")
        before = st.query(query)
        st.migrate()  # again, as every start does: metadata only, no mutation queued
        after = st.query(query)
    assert "TTL toDateTime(received_at) + toIntervalMonth(13)" in letters
    assert "TTL day + toIntervalMonth(25)" in daily
    # (migration 0008 ran one, once, to the end: it times the ledger rows written before it)
    assert after == before and after[0][1] == 0


def test_after_a_prune_a_restarted_worker_reads_nothing_again_and_counts_nothing_twice(
    fresh_broker, store_path: Path, run_sno
) -> None:
    """The whole path: drain, age the store's bookkeeping by a year, prune, restart on the same broker."""
    valid, invalid = events(600, seed=3)
    # Two drains, so that every partition has an older write than its last (a busy worker may merge
    # one drain's batches into a single write per partition, which prune must keep).
    lines = [*valid, *invalid]
    for part in (lines[: len(lines) // 2], lines[len(lines) // 2:]):
        produce_lines(fresh_broker.bootstrap, part)
        assert run_worker(fresh_broker.bootstrap, store_path).returncode == 0
    with open_store(store=store_path) as st:
        before = st.query("SELECT sum(count) FROM sno_auth_minute")
        for table, column in (("sno_ledger", "written_at"), ("sno_deadletter", "received_at")):
            st.client.command(f"ALTER TABLE {table} UPDATE {column} = {column} - INTERVAL 400 DAY "
                              f"WHERE 1 SETTINGS mutations_sync = 2")
        writes = st.query("SELECT count() FROM sno_ledger")
    now = datetime.now(UTC)
    result = run_sno("store", "prune", "--store", str(store_path), "--before", f"{now:%Y-%m}")
    assert result.returncode == 0, result.stderr
    with open_store(store=store_path) as st:
        kept = st.query("SELECT count() FROM sno_ledger")
        assert st.query("SELECT count() FROM sno_deadletter") == [(0,)]
    assert 0 < kept[0][0] < writes[0][0]
    again = run_worker(fresh_broker.bootstrap, store_path)
    assert again.returncode == 0, again.stderr
    assert ("drained: 0 processed, 0 rejected, 0 duplicates, 0 forwarded to their owner partition, "
            "0 already counted") in again.stderr.decode()
    with open_store(store=store_path) as st:
        assert st.query("SELECT sum(count) FROM sno_auth_minute") == before

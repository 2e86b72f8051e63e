"""Recorded migrations (sno/runtime/store.py `Store.migrate`) on the real embedded ClickHouse (chDB).

The store records each migration it applied with its checksum: a migration runs once per store, an
edited applied migration is an error, a new file is how a column changes, and a store made before the
record existed is adopted. Tests that change migration files work on a copy of `sql/` (SNO_SQL_DIR).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from sno.runtime.store import (
    MIGRATIONS_TABLE,
    Store,
    StoreError,
    migration_checksum,
    migration_files,
    split_statements,
    sql_dir,
)

# sno_seen as 0001_pipeline_ledger.sql created it before commit 94be382 edited the file in place (the
# write token instead of the offset): the kind of store that `CREATE TABLE IF NOT EXISTS` cannot see.
_OLD_SNO_SEEN = """CREATE TABLE IF NOT EXISTS sno_seen
(
    topic       LowCardinality(String),
    partition   UInt32,
    event_type  LowCardinality(String),
    event_id    String,
    event_time  DateTime64(6, 'UTC'),
    token       String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, event_time)
SETTINGS non_replicated_deduplication_window = 10000"""


_TABLES = "SELECT name FROM system.tables WHERE database = currentDatabase()"


@pytest.fixture
def sql_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's sql/ folder that the store reads its migrations from."""
    copy = tmp_path / "sql"
    shutil.copytree(sql_dir(), copy)
    monkeypatch.setenv("SNO_SQL_DIR", str(copy))
    return copy / "migrations"


def _record_rows(store: Store) -> list[tuple[object, ...]]:
    return store.query(f"SELECT name, checksum, applied_at FROM {MIGRATIONS_TABLE} ORDER BY name")


def _migrate_as_before_the_record(store: Store) -> None:
    """What `migrate` did before it kept a record: every statement of every file, nothing recorded."""
    for path in migration_files():
        for statement in split_statements(path.read_text(encoding="utf-8")):
            store.client.command(statement)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_fresh_store_records_every_migration_with_the_checksum_of_its_file(store_path: Path) -> None:
    with Store(None, store_path) as store:
        in_force = store.migrate()
        record = store.applied_migrations()
    files = migration_files()
    assert in_force == [p.name for p in files]
    assert [m.name for m in record] == in_force
    assert [m.checksum for m in record] == [migration_checksum(p.read_text(encoding="utf-8")) for p in files]
    assert len({m.checksum for m in record}) == len(files)


def test_a_recorded_migration_is_not_run_again_when_the_store_is_opened_again(store_path: Path) -> None:
    with Store(None, store_path) as store:
        store.migrate()
        first = _record_rows(store)
        # Were 0003 run again, its CREATE TABLE IF NOT EXISTS would bring the table back.
        store.client.command("DROP TABLE sno_kpi_monthly SYNC")
    with Store(None, store_path) as store:
        assert store.migrate() == [p.name for p in migration_files()]
        assert _record_rows(store) == first
        tables = {row[0] for row in store.query(_TABLES)}
    assert "sno_kpi_monthly" not in tables
    assert {"sno_ledger", "sno_auth_minute", "sno_alerts"} <= tables


def test_an_edited_applied_migration_is_an_error_in_one_line_that_says_what_to_do(
    store_path: Path, sql_copy: Path
) -> None:
    with Store(None, store_path) as store:
        store.migrate()
    _edit(sql_copy / "0002_rollups.sql", "duration_ms        UInt64", "duration_ms        UInt32")
    with Store(None, store_path) as store, pytest.raises(StoreError) as raised:
        store.migrate()
    message = str(raised.value)
    assert "\n" not in message
    assert "0002_rollups.sql was changed after it was applied" in message
    assert "new migration" in message


def test_a_corrected_comment_or_new_indentation_in_an_applied_migration_is_not_an_edit(
    store_path: Path, sql_copy: Path
) -> None:
    with Store(None, store_path) as store:
        store.migrate()
        before = _record_rows(store)
    path = sql_copy / "0004_alerts.sql"
    text = path.read_text(encoding="utf-8")
    edited = "-- A comment added later.\n" + text.replace("    alert_id    String,", "  alert_id String,")
    path.write_text(edited, encoding="utf-8")
    assert path.read_text(encoding="utf-8") != text
    with Store(None, store_path) as store:
        store.migrate()
        assert _record_rows(store) == before


def test_a_new_migration_file_adds_a_column_once_and_keeps_the_rows(store_path: Path, sql_copy: Path) -> None:
    with Store(None, store_path) as store:
        store.migrate()
        store.insert("sno_deadletter_daily", [(date(2026, 4, 1), "sno.messages", "not_json", 3)],
                     ("day", "topic", "reason", "records"))
    (sql_copy / "0099_deadletter_note.sql").write_text(
        "-- A column changes by a new file.\n"
        "ALTER TABLE sno_deadletter_daily ADD COLUMN IF NOT EXISTS note String DEFAULT 'none';\n",
        encoding="utf-8",
    )
    with Store(None, store_path) as store:
        in_force = store.migrate()
        assert in_force[-1] == "0099_deadletter_note.sql"
        assert [m.name for m in store.applied_migrations()] == in_force
        assert store.query("SELECT records, note FROM sno_deadletter_daily") == [(3, "none")]
        rows = _record_rows(store)
        assert store.migrate() == in_force
        assert _record_rows(store) == rows


def test_a_store_made_before_the_record_is_adopted_with_its_rows(store_path: Path) -> None:
    with Store(None, store_path) as store:
        _migrate_as_before_the_record(store)
        store.insert("sno_deadletter_daily", [(date(2026, 4, 1), "sno.messages", "not_json", 7)],
                     ("day", "topic", "reason", "records"))
        assert store.applied_migrations() == []
        in_force = store.migrate()
        record = store.applied_migrations()
        assert store.query("SELECT sum(records) FROM sno_deadletter_daily") == [(7,)]
        leftovers = [name for name in store.query(_TABLES) if name[0].startswith("_sno_migration_check")]
    assert [m.name for m in record] == in_force == [p.name for p in migration_files()]
    assert leftovers == []


def test_a_store_whose_table_an_earlier_version_of_a_migration_made_is_refused_in_one_line(
    store_path: Path,
) -> None:
    with Store(None, store_path) as store:
        store.client.command(_OLD_SNO_SEEN)
        with pytest.raises(StoreError) as raised:
            store.migrate()
        leftovers = [name for name in store.query(_TABLES) if name[0].startswith("_sno_migration_check")]
        record = store.applied_migrations()
    message = str(raised.value)
    assert "\n" not in message
    assert "sno_seen is not the one 0001_pipeline_ledger.sql creates" in message
    assert "no column offset" in message and "an extra column token" in message
    assert leftovers == []
    assert record == []  # nothing is recorded for a migration that was refused


def test_a_migration_recorded_by_a_newer_version_is_an_error(store_path: Path) -> None:
    with Store(None, store_path) as store:
        store.migrate()
        store.insert(MIGRATIONS_TABLE, [("0999_from_the_future.sql", "0" * 64)], ("name", "checksum"))
        with pytest.raises(StoreError) as raised:
            store.migrate()
    assert "0999_from_the_future.sql applied, which this sno does not have" in str(raised.value)

"""The embedded defaults: the bundled broker and the embedded ClickHouse store."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sno.runtime.broker import LocalBroker, answers
from sno.runtime.store import Store, migration_files, open_store, split_statements
from tests.conftest import sno_env


def test_the_bundled_broker_answers_kafka_requests_once_started_and_not_after_it_stops() -> None:
    local = LocalBroker().start()
    address = local.bootstrap
    assert answers(address)
    local.stop()
    assert not answers(address, timeout=0.3)


def test_sno_broker_runs_in_the_foreground_and_prints_its_address() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sno.cli", "broker", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sno_env())
    try:
        line = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
        assert line.startswith("127.0.0.1:")
        assert answers(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _schema(store: Store) -> list[tuple[object, ...]]:
    return store.query(
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
        "ORDER BY table, position"
    )


def test_migrations_applied_twice_change_nothing(store_path: Path) -> None:
    with open_store(store=store_path) as store:
        first = _schema(store)
        store.insert("sno_deadletter_daily", [(date(2026, 4, 1), "sno.messages", "not_json", 3)],
                     ("day", "topic", "reason", "records"))
        applied = store.migrate()
        assert applied == [p.name for p in migration_files()]
        assert _schema(store) == first
        assert store.query("SELECT sum(records) FROM sno_deadletter_daily") == [(3,)]
    tables = {row[0] for row in first}
    assert {"sno_ledger", "sno_seen", "sno_snapshots", "sno_deadletter"} <= tables


def test_every_migration_statement_is_idempotent_by_construction() -> None:
    # A MODIFY TTL sets a value: applying it again sets the same one (metadata only, see 0007).
    for path in migration_files():
        for statement in split_statements(path.read_text()):
            idempotent = "IF NOT EXISTS" in statement or "IF EXISTS" in statement or (
                " MODIFY TTL " in statement and "materialize_ttl_after_modify = 0" in statement)
            assert idempotent, (path.name, statement[:60])


def test_a_second_process_on_the_same_store_gets_one_line_naming_the_holder(store_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from sno.runtime.store import open_store\n"
         f"with open_store(store={str(store_path)!r}, holder='sno worker'):\n"
         "    print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, env=sno_env(),
    )
    try:
        assert holder.stdout.readline().strip() == b"open"  # type: ignore[union-attr]
        second = subprocess.run(
            [sys.executable, "-c",
             "from sno.commands._options import one_line_errors\n"
             "from sno.runtime.store import open_store\n"
             f"one_line_errors(lambda: open_store(store={str(store_path)!r}).__enter__())()"],
            capture_output=True, env=sno_env(), timeout=60,
        )
        assert second.returncode != 0
        err = second.stderr.decode().strip()
        assert len(err.splitlines()) == 1, err
        assert "in use by `sno worker`" in err and f"pid {holder.pid}" in err
        assert "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()
    # The store is intact and usable once the holder is gone (its lock dies with the process).
    time.sleep(0.1)
    with open_store(store=store_path) as store:
        assert store.query("SELECT count() FROM sno_ledger") == [(0,)]

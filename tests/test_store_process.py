"""The embedded engine in a process of its own (sno/runtime/store_process.py), as the worker uses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sno.runtime.store import Store, StoreBusy, StoreError
from sno.runtime.store_process import StoreProcess
from tests.conftest import sno_env


def test_the_engine_process_answers_inserts_and_queries_as_the_store_would(store_path: Path) -> None:
    with StoreProcess(store_path, "sno worker") as store:
        applied = store.migrate()
        assert applied and all(name.endswith(".sql") for name in applied)
        store.insert_json("sno_deadletter_daily",
                          ("day", "topic", "reason", "records"),
                          b'["2026-04-01","sno.messages","invalid_json",2]\n'  # arrays in column order
                          b'["2026-04-01","sno.messages","invalid_json",3]',
                          token="t1:sno_deadletter_daily")
        rows = store.query("SELECT sum(records) FROM sno_deadletter_daily WHERE topic = {t:String}",
                           {"t": "sno.messages"})
        assert rows == [(5,)]
        assert store.pid is not None and store.pid != os.getpid()
    # closed in order: the lock is free and the rows are on disk for the next process
    with Store(None, store_path) as again:
        assert again.query("SELECT sum(records) FROM sno_deadletter_daily") == [(5,)]


def test_an_engine_error_comes_back_as_a_store_error_with_clickhouse_s_message(store_path: Path) -> None:
    with StoreProcess(store_path, "sno worker") as store:
        with pytest.raises(StoreError, match="no_such_table"):
            store.query("SELECT * FROM no_such_table")
        assert store.query("SELECT 1") == [(1,)]  # the engine process carries on after an error


def test_a_busy_store_is_refused_naming_its_holder(store_path: Path) -> None:
    busy = pytest.raises(StoreBusy, match="in use by `sno report`")
    with Store(None, store_path, holder="sno report"), busy:
        StoreProcess(store_path, "sno worker")


def test_a_worker_killed_with_sigkill_leaves_no_engine_process_holding_the_store(store_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from sno.runtime.store_process import StoreProcess\n"
        "if __name__ == '__main__':\n"
        f"    s = StoreProcess({str(store_path)!r}, 'sno worker')\n"
        "    print(s.pid, flush=True)\n"
        "    time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=sno_env(),
                              cwd=Path(__file__).resolve().parents[1])
    assert parent.stdout is not None
    engine = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(engine):
        time.sleep(0.05)
    assert not _alive(engine)
    with Store(None, store_path) as again:  # waits for the killed engine's last thread, not longer
        assert again.query("SELECT 1") == [(1,)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return not any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return False


def test_a_live_worker_s_store_is_refused_at_once_naming_the_worker_not_its_engine(store_path: Path) -> None:
    with StoreProcess(store_path, "sno worker") as engine:
        started = time.monotonic()
        with pytest.raises(StoreBusy) as refused:
            Store(None, store_path, holder="sno report")
        assert time.monotonic() - started < 2  # no waiting for a holder that is alive
        assert f"`sno worker` (pid {os.getpid()}," in str(refused.value)
        assert str(engine.pid) not in str(refused.value)

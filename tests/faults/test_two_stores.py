"""Two workers on two embedded stores never split the data silently (streams/settings.py, "The consumer
group"): each embedded store has a consumer group of its own, so each store counts every event; workers
on a ClickHouse server share `sno-pipeline`. And when a store's folder is removed under a worker, the
worker exits saying so, not blaming anything else.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sno.runtime.broker import LocalBroker
from sno.runtime.store import open_store
from streams.settings import STORE_ID_FILE, PipelineSettings
from tests.conftest import sno_env
from tests.hostile.corpus import base, dumps
from tests.kafka_util import produce_lines


def test_workers_on_a_clickhouse_server_share_the_pipeline_group_and_each_embedded_store_has_its_own(
    tmp_path: Path,
) -> None:
    server = PipelineSettings(broker="b:9092", clickhouse="http://writer:secret@clickhouse:8123/sno")
    assert server.consumer_group() == "sno-pipeline"
    one = PipelineSettings(broker="b:9092", store=tmp_path / "one")
    two = PipelineSettings(broker="b:9092", store=tmp_path / "two")
    assert one.consumer_group() != two.consumer_group()
    assert one.consumer_group() == PipelineSettings(broker="b:9092", store=tmp_path / "one").consumer_group()
    assert one.consumer_group().startswith("sno-pipeline-")
    chdb = PipelineSettings(broker="b:9092", clickhouse=f"chdb://{tmp_path / 'one'}")
    assert chdb.consumer_group() == one.consumer_group()
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "one", copy)
    assert (copy / STORE_ID_FILE).read_text() == (tmp_path / "one" / STORE_ID_FILE).read_text()
    assert PipelineSettings(broker="b:9092", store=copy).consumer_group() != one.consumer_group()
    named = PipelineSettings(broker="b:9092", store=tmp_path / "one", group="one-off-drain")
    assert named.consumer_group() == "one-off-drain"


def _drain(bootstrap: str, store: Path, status: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", bootstrap,
                           "--store", str(store), "--status-file", str(status)],
                          capture_output=True, timeout=300, env=sno_env())


def test_two_workers_on_two_embedded_stores_at_once_each_count_every_event(tmp_path: Path) -> None:
    """The failure this prevents: both in `sno-pipeline`, each took half the partitions, and each
    store looked complete with half the events."""
    lines = [dumps({**base("authentication"), "event_id": f"two-{i}"}) for i in range(3000)]
    with LocalBroker() as broker:
        produce_lines(broker.bootstrap, lines)
        results: dict[str, Any] = {}

        def run(name: str) -> None:
            results[name] = _drain(broker.bootstrap, tmp_path / name, tmp_path / f"{name}.json")

        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for name in ("a", "b"):
        assert results[name].returncode == 0, results[name].stderr.decode()[-2000:]
        status = json.loads((tmp_path / f"{name}.json").read_text())
        assert status["processed"] == len(lines), name
        with open_store(store=tmp_path / name, migrate=False) as st:
            assert st.query("SELECT sum(count) FROM sno_auth_minute") == [(len(lines),)], name


def test_a_store_folder_removed_under_the_worker_ends_it_with_that_cause_in_its_last_line(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    status = tmp_path / "status.json"
    event = base("authentication")
    with LocalBroker() as broker:
        worker = subprocess.Popen([sys.executable, "-m", "sno.cli", "worker", "--broker", broker.bootstrap,
                                   "--store", str(store), "--status-file", str(status)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=sno_env())
        produce_lines(broker.bootstrap, [dumps({**event, "event_id": f"before-{i}"}) for i in range(100)])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if json.loads(status.read_text())["processed"] >= 100:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        shutil.rmtree(store)
        for round_ in range(30):
            produce_lines(broker.bootstrap, [dumps({**event, "event_id": f"after-{round_}-{i}"})
                                             for i in range(100)])
            if worker.poll() is not None:
                break
            time.sleep(0.5)
        _, err = worker.communicate(timeout=120)
    assert worker.returncode not in (0, None)
    last = err.decode().strip().splitlines()[-1]
    assert f"the store folder {store} was removed while in use" in last, last
    assert "producer" not in last.lower()

"""No orphans: every process the pipeline starts dies with its parent, however the parent dies, SIGKILL
included (sno/runtime/children.py): the worker's fold process, multiprocessing's resource tracker and
the embedded engine; `sno broker`'s Tansu; `sno replay`'s broker and worker.

Each kill lands at a seeded random moment of start-up or work (printed, so a failure can be run
again); afterwards no process carrying the run's environment marker may be alive (tests/faults/procs.py).
A few moments run in `make test`, twenty and more behind the `slow` marker.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sno.runtime.broker import LocalBroker, answers
from tests.faults.procs import marked, marked_env, survivors
from tests.hostile.corpus import base, dumps
from tests.kafka_util import produce_lines

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def busy_broker():  # type: ignore[no-untyped-def]
    """A broker holding enough events that a worker started on it is busy for a while."""
    with LocalBroker() as broker:
        kinds = ["authentication", "authentication", "message", "transaction", "api_request"]
        produce_lines(broker.bootstrap, [dumps({**base(k), "event_id": f"busy-{i}"})
                                         for i, k in zip(range(20_000), kinds * 4000, strict=False)])
        yield broker


def _moments(count: int, seed: int, last: float) -> list[float]:
    """`count` seeded random moments spread over 0–`last` s (one in each of `count` equal spans), so a
    few kills cover the interpreter's start, the engine's and fold process's start, and the work."""
    rng = random.Random(seed)
    span = last / count
    return [round(rng.uniform(max(0.05, i * span), (i + 1) * span), 2) for i in range(count)]


def _kill_sno_at(args: list[str], moment: float, started: int = 0) -> tuple[int, list[str], float]:
    """Start `sno <args>`, SIGKILL it `moment` s after it has `started` processes of its own (0: after
    it starts; on a loaded machine a fixed time from the start may come before its first child): the
    processes it had started, and those left."""
    marker, env = marked_env()
    process = subprocess.Popen([sys.executable, "-m", "sno.cli", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while started and len(marked(marker)) < started and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(moment)
    before = len(marked(marker))
    process.kill()
    process.wait()
    left, waited = survivors(marker)
    return before, [f"{p.pid} {p.state} {p.command}" for p in left], waited


def _kill_worker_at(bootstrap: str, store: Path, moment: float) -> tuple[int, list[str], float]:
    return _kill_sno_at(["worker", "--broker", bootstrap, "--store", str(store)], moment)


def _check_worker_kills(bootstrap: str, tmp_path: Path, moments: list[float]) -> None:
    report = []
    for index, moment in enumerate(moments):
        before, left, waited = _kill_worker_at(bootstrap, tmp_path / f"store-{index}", moment)
        report.append(f"SIGKILL at {moment:5.2f} s: {before} processes, {len(left)} left after "
                      f"{waited:.2f} s")
        assert left == [], "\n".join([*report, *left])
    print("\n" + "\n".join(report))


def test_a_worker_killed_at_moments_of_start_up_and_work_leaves_no_process_behind(
    busy_broker: LocalBroker, tmp_path: Path
) -> None:
    _check_worker_kills(busy_broker.bootstrap, tmp_path, _moments(5, seed=11, last=9.0))


@pytest.mark.slow
def test_a_worker_killed_at_twenty_four_random_moments_leaves_no_process_behind(
    busy_broker: LocalBroker, tmp_path: Path
) -> None:
    _check_worker_kills(busy_broker.bootstrap, tmp_path, _moments(24, seed=23, last=14.0))


def test_sno_broker_killed_with_sigkill_takes_its_tansu_broker_with_it() -> None:
    """`sno broker` in the foreground is killed outright: nothing may go on serving its port."""
    marker, env = marked_env()
    process = subprocess.Popen([sys.executable, "-m", "sno.cli", "broker", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    bootstrap = process.stdout.readline().decode().strip()
    assert answers(bootstrap) and len(marked(marker)) == 2
    process.kill()
    process.wait()
    left, _ = survivors(marker)
    assert left == [] and not answers(bootstrap)


def _kill_replay_at(path: Path, store: Path, moment: float) -> tuple[int, list[str]]:
    before, left, _ = _kill_sno_at(["replay", str(path), "--store", str(store), "--chunk-lines", "3000"],
                                   moment, started=2)  # `sno replay` and its broker
    return before, left


@pytest.mark.parametrize("moment", [0.5, 6.0])
def test_sno_replay_killed_leaves_no_broker_worker_or_engine_behind(tmp_path: Path, moment: float) -> None:
    """`sno replay` starts a broker and a worker (with its own children) per chunk; killed while
    publishing or while its worker drains (moments after its broker is up), it leaves none of them."""
    path = tmp_path / "month.jsonl"
    path.write_bytes(b"\n".join(dumps({**base("authentication"), "event_id": f"r-{i}"})
                                for i in range(8000)) + b"\n")
    before, left = _kill_replay_at(path, tmp_path / "store", moment)
    assert before >= 2 and left == [], left


_FOLD_FROM_A_THREAD = textwrap.dedent("""
    import json, os, sys, threading, time
    from streams.folding import ProcessFolder
    folder = ProcessFolder(None)
    child = folder.pids[0]
    # The sink calls the folder from its threads; a thread that ends must not take the child along
    # (the parent-death signal follows the thread that forked it).
    worker = threading.Thread(target=lambda: folder.fold([]))
    worker.start(); worker.join()
    time.sleep(1.0)
    alive = os.path.exists(f"/proc/{child}") and open(f"/proc/{child}/stat").read().split()[2] != "Z"
    folder.fold([])
    print(json.dumps({"child": child, "alive_after_thread": alive}), flush=True)
    time.sleep(60)
""")


def test_the_fold_process_outlives_the_threads_that_use_it_and_dies_with_the_worker() -> None:
    marker, env = marked_env()
    process = subprocess.Popen([sys.executable, "-c", _FOLD_FROM_A_THREAD], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read().decode() if process.stderr else ""
    report = json.loads(line)
    assert report["alive_after_thread"]
    assert report["child"] in {p.pid for p in marked(marker)}
    process.send_signal(signal.SIGKILL)
    process.wait()
    left, _ = survivors(marker)
    assert left == []

"""The worker's watch of its Kafka cluster (sno/runtime/clusterwatch.py) against the real bundled broker,
stopped and started again: once lost, said once; back, said once; gone for longer than allowed, or back
with another cluster id (however quickly), given up exactly once.

A broker started again with the *same* cluster id stands in for a real Kafka broker that restarts (the
bundled one keeps no data, so only the watch is tested with it, never the worker).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import pytest

from sno.runtime.broker import LocalBroker
from sno.runtime.clusterwatch import ClusterGone, ClusterWatch
from sno.runtime.topics import cluster_id


def _until(condition: Callable[[], object], timeout: float = 20.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def _said(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records if r.name == "sno.runtime.clusterwatch")


def test_a_broker_that_comes_back_as_the_same_cluster_is_logged_lost_once_and_back_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="sno.runtime.clusterwatch")
    cluster = f"sno-watch-{uuid.uuid4()}"
    broker = LocalBroker(cluster_id=cluster).start()
    gone: list[ClusterGone] = []
    watch = ClusterWatch(broker.bootstrap, cluster, gone.append, gone_after=60, interval=0.2).start()
    try:
        time.sleep(0.5)
        broker.stop()
        _until(lambda: watch.lost_since is not None)
        time.sleep(2.0)  # several asks with back-off while it is down
        broker = LocalBroker(port=broker.port, cluster_id=cluster).start()
        _until(lambda: watch.outages == 1)
        time.sleep(1.0)
    finally:
        watch.stop()
        broker.stop()
    assert gone == []
    assert _said(caplog, "lost the Kafka cluster") == 1
    assert _said(caplog, "answers again after") == 1


def test_a_broker_gone_for_longer_than_allowed_is_given_up_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sno.runtime.clusterwatch")
    broker = LocalBroker().start()
    gone: list[ClusterGone] = []
    watch = ClusterWatch(broker.bootstrap, "", gone.append, gone_after=1.5, interval=0.2).start()
    try:
        time.sleep(0.5)
        broker.stop()
        lost_after = _until(lambda: gone)
        time.sleep(1.0)
    finally:
        watch.stop()
    print(f"\ngiven up {lost_after:.1f} s after the broker stopped (allowed: 1.5 s)")
    assert len(gone) == 1 and "has not answered for" in str(gone[0])
    assert _said(caplog, "lost the Kafka cluster") == 1


@pytest.mark.parametrize("pause", [0.0, 2.0])
def test_a_broker_that_comes_back_as_another_cluster_is_given_up_even_when_it_restarts_within_one_ask(
    pause: float,
) -> None:
    """With a 5 s interval, a restart without pause happens between two asks: the watch's one open
    connection is what notices it."""
    broker = LocalBroker().start()
    epoch = asyncio.run(cluster_id(broker.bootstrap))
    gone: list[ClusterGone] = []
    watch = ClusterWatch(broker.bootstrap, epoch, gone.append, gone_after=60,
                         interval=5.0 if not pause else 0.2).start()
    try:
        time.sleep(0.5)
        broker.stop()
        time.sleep(pause)
        broker = LocalBroker(port=broker.port).start()
        seconds = _until(lambda: gone, timeout=30)
    finally:
        watch.stop()
        broker.stop()
    print(f"\nanother cluster given up {seconds:.1f} s after it answered")
    assert len(gone) == 1 and "came back as another cluster" in str(gone[0])

"""The Faust application: the input topics' records, a fetch at a time, handed to one sink.

Faust runs the group, the rebalances, the seeks, the producer and the timers; its consumer's drain loop
hands each fetch's raw records (value bytes plus topic/partition/offset) straight to the sink
(streams/drain.py), with no agent, stream or event per record. Faust commits no offsets for the input
topics: every assignment seeks to what ClickHouse's ledger holds, which decides what was counted
(streams/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
import orjson

from sno.alertmanager import PostResult, post_alerts
from sno.core.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, INPUT_TOPICS
from streams.settings import PipelineSettings

log = logging.getLogger(__name__)

#: (topic, partition, offset, value bytes)
RawRecord = tuple[str, int, int, bytes]


#: Faust builds its aiokafka consumer with a fixed 1,500 ms fetch long-poll. A quiet partition's first
#: event (an incident or maintenance snapshot that must raise an alert) can then wait that long before
#: the worker sees it; alerts must arrive within a second (measured p99 before: 1.4 s).
FETCH_MAX_WAIT_MS = 100


def _shorter_fetch_wait() -> None:
    from faust.transport.drivers import aiokafka as driver

    base = driver.aiokafka.AIOKafkaConsumer
    if getattr(base, "_sno_short_wait", False):
        return

    class Consumer(base):  # type: ignore[misc, valid-type]
        _sno_short_wait = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            wait = kwargs.get("fetch_max_wait_ms", FETCH_MAX_WAIT_MS)
            kwargs["fetch_max_wait_ms"] = min(wait, FETCH_MAX_WAIT_MS)
            super().__init__(*args, **kwargs)

    driver.aiokafka.AIOKafkaConsumer = Consumer


class _App(faust.App):  # type: ignore[misc]
    """Faust's app with the input topics' records delivered a fetch at a time (streams/drain.py), not
    through per-record events, agents and streams, and without its Monitor sensor: the Monitor keeps
    per-event and per-topic statistics for Faust's web view, which the pipeline does not serve; its
    own figures are Prometheus metrics (sno/runtime/metrics.py). Measured: README, Benchmark."""

    #: set by build_app: where the drain loop hands each batch, and how large a batch may be
    sno_deliver: Callable[[list[RawRecord]], Any] | None = None
    sno_batch_size: int = 1000
    #: whether the worker is stopping (a signal, or the sink's fatal error): hand-overs then fail quietly
    sno_stopping: Callable[[], bool] = staticmethod(lambda: False)  # type: ignore[assignment]

    def on_init_dependencies(self) -> Any:
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies

    def on_rebalance_start(self) -> None:
        # Without sensors Faust's rebalance state is an empty dict, and every rebalance then logged
        # "Missing sensor state for rebalance #N" as a warning on-call would chase: there is nothing
        # missing, so the state says so.
        super().on_rebalance_start()
        if not self._rebalancing_sensor_state:
            self._rebalancing_sensor_state = {"sensors": "none"}

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        deliver, batch_size = self.sno_deliver, self.sno_batch_size
        if deliver is not None:
            from streams.drain import drain_batches

            stopping = self.sno_stopping

            def _drain_messages(fetcher: Any) -> Any:
                return drain_batches(consumer, fetcher, deliver, INPUT_TOPICS, batch_size, stopping)

            consumer._drain_messages = _drain_messages
        return consumer


class AlertmanagerLog:
    """What became of the posts to Alertmanager, logged once per change of state (sno/runtime/logs.py):
    the first post it does not take is one WARNING with the ids of the alerts it carried (`alert_id`);
    the posts that fail after it with the same error are counted, not logged; the first post taken
    again is one INFO line with those counts. The alerts themselves are on `sno.alerts` either way."""

    def __init__(self, url: str) -> None:
        self.url = url
        #: the error of the failing state (None: Alertmanager takes the posts)
        self.error: str | None = None
        self.failed_posts = 0
        self.failed_alerts = 0

    def record(self, result: PostResult) -> None:
        if result.ok:
            if self.error is not None:
                log.info("Alertmanager at %s takes alerts again; %d post(s) with %d alert(s) failed before",
                         self.url, self.failed_posts, self.failed_alerts)
                self.error, self.failed_posts, self.failed_alerts = None, 0, 0
            return
        self.failed_posts += 1
        self.failed_alerts += len(result.failed)
        if result.error == self.error:
            return
        self.error = result.error
        log.warning("Alertmanager at %s did not take %d alert(s): %s", self.url, len(result.failed),
                    result.error, extra={"alert_id": [str(a.get("alert_id")) for a in result.failed]})


def build_app(settings: PipelineSettings, sink: Any,
              on_batch: Callable[[int], None] | None = None) -> faust.App:
    """A Faust app whose agents feed `sink.flush(records)` (an awaitable) with raw record batches."""
    settings.datadir.mkdir(parents=True, exist_ok=True)
    _shorter_fetch_wait()
    app = _App(settings.app_id, **settings.faust_config())
    app.sno_started = time.monotonic()  # type: ignore[attr-defined]
    app.sno_first_event_at = None  # type: ignore[attr-defined]

    app.sno_deliver = _deliver_to(app, sink, on_batch)
    app.sno_batch_size = settings.batch_size
    app.sno_stopping = lambda: bool(getattr(sink, "refusing", False))
    for topic_name in INPUT_TOPICS:
        # Subscribed through the conductor, with no agent: the drain loop hands the records to the sink.
        # acks=False: Faust neither tracks nor commits these offsets (the ledger decides where every
        # assignment resumes, so they would only cost).
        app.topics.add(app.topic(topic_name, value_serializer="raw", key_serializer="raw",
                                 partitions=settings.partitions, acks=False))

    async def publish_forwards(records: list[tuple[str, int, bytes, bytes]]) -> None:
        """Re-produce records to the partition that owns their key (keyed by it), delivered. Straight
        into the transport producer's record batches: the records are bytes already, and Faust's
        topic.send (codecs, callbacks, an event per message), or even aiokafka's send per record, cost
        more than the forwarding itself."""
        from sno.ingest.publisher import publish_to_partitions

        await publish_to_partitions(app.producer._ensure_producer(), records)

    sink.publish_forwards = publish_forwards

    deadletter = app.topic(DEADLETTER_TOPIC, value_serializer="raw", key_serializer="raw")

    async def publish_deadletters(letters: list[tuple[bytes, bytes]]) -> None:
        sent = [await deadletter.send(key=key, value=value) for key, value in letters]
        await asyncio.gather(*sent)  # delivered, not only buffered

    sink.publish_deadletters = publish_deadletters

    alerts_topic = app.topic(ALERTS_TOPIC, value_serializer="raw", key_serializer="raw")
    forwarding = AlertmanagerLog(settings.alertmanager) if settings.alertmanager else None

    async def publish_alerts(alerts: list[Any]) -> None:
        """To `sno.alerts` keyed by alert id (a consumer de-duplicates by it), then to Alertmanager."""
        sent = [await alerts_topic.send(key=alert.alert_id.encode(), value=orjson.dumps(alert.as_json()))
                for alert in alerts]
        await asyncio.gather(*sent)  # delivered, not only buffered
        if forwarding is not None:
            url = forwarding.url
            forwarding.record(await asyncio.get_running_loop().run_in_executor(
                None, lambda: post_alerts(url, alerts)))

    sink.publish_alerts = publish_alerts

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, revoked: set[Any], **_: Any) -> None:
        await sink.on_revoked(_input_tps(revoked))

    async def reseek(tp: tuple[str, int], offset: int) -> None:
        """Seek one input partition back (records arrived beyond a gap: the sink refused them)."""
        from faust.types import TP as FaustTP

        await app.consumer.seek(FaustTP(tp[0], tp[1]), offset)

    sink.reseek = reseek

    if settings.alerts:
        @app.timer(settings.alert_tick_seconds)
        async def _alert_tick() -> None:
            await sink.tick()

    _seek_to_ledger(app, sink)
    return app


def _input_tps(tps: Any) -> set[tuple[str, int]]:
    return {(tp.topic, tp.partition) for tp in tps if tp.topic in INPUT_TOPICS}


def _seek_to_ledger(app: faust.App, sink: Any) -> None:
    """After Faust seeks to the committed offsets, seek again to what the ClickHouse ledger holds.

    Faust calls `perform_seek` when a (re)assignment is ready. The committed offset can be ahead of the
    ledger (acks follow hand-over, not writes), behind it, or belong to another store altogether; the
    ledger is the truth, so every assigned input partition resumes right after its last counted offset.
    """
    consumer = app.consumer
    original = consumer.perform_seek

    async def perform_seek() -> None:
        await original()
        sink.generation = _generation(consumer)
        assignment = consumer.assignment()
        await sink.on_assigned(_input_tps(assignment), _partition_counts(consumer))
        for tp in assignment:
            if tp.topic in INPUT_TOPICS:
                await consumer.seek(tp, sink.positions.get((tp.topic, tp.partition), -1) + 1)

    consumer.perform_seek = perform_seek  # type: ignore[method-assign]


def _partition_counts(consumer: Any) -> dict[str, int] | None:
    """The input topics' partition counts in the cluster metadata of this assignment."""
    try:
        client = consumer._thread._ensure_consumer()
        counts = {t: len(client.partitions_for_topic(t) or ()) for t in INPUT_TOPICS}
    except Exception:  # not an aiokafka-driven consumer: keep what the sink has
        return None
    return {t: n for t, n in counts.items() if n}


def _generation(consumer: Any) -> int:
    """The consumer group generation of this assignment (fencing, streams/README.md); 0 when unknown."""
    try:
        return max(0, int(consumer._thread._ensure_consumer()._coordinator.generation))
    except Exception:  # not an aiokafka-driven consumer: no generation to fence with
        return 0


def _deliver_to(app: faust.App, sink: Any, on_batch: Callable[[int], None] | None
                ) -> Callable[[list[RawRecord]], Any]:
    """What the drain loop (streams/drain.py) hands each batch of raw records to: the sink."""

    async def deliver(records: list[RawRecord]) -> None:
        if app.sno_first_event_at is None:  # type: ignore[attr-defined]
            app.sno_first_event_at = time.monotonic()  # type: ignore[attr-defined]
        await sink.flush(records)
        if on_batch is not None:
            on_batch(len(records))

    return deliver

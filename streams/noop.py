"""The framework's ceiling for the benchmark: the pipeline's own Faust app, settings and raw serializer,
with a sink that only counts. `python -m streams.noop --broker B --events N` prints one JSON object."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from streams.settings import PipelineSettings


class CountingSink:
    """Stands in for ClickHouseSink: same interface, no work."""

    def __init__(self) -> None:
        self.positions: dict[tuple[str, int], int] = {}
        self.assigned: set[tuple[str, int]] = set()
        self.publish_deadletters: Any = None
        self.publish_alerts: Any = None
        self.publish_forwards: Any = None
        self.reseek: Any = None
        #: set by the app at each assignment (fencing); unused here
        self.generation = 0
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None

    async def on_assigned(self, tps: set[tuple[str, int]], owners: dict[str, int] | None = None) -> None:
        self.assigned = set(tps)

    async def on_revoked(self, revoked: Any = ()) -> None:
        return None

    async def tick(self, drained: bool = False) -> int:
        return 0

    async def flush(self, records: list[Any]) -> None:
        now = time.time()
        if self.first is None:
            self.first = now
        self.count += len(records)
        self.last = now


def _faust_defaults_app(broker: str, datadir: Path, sink: CountingSink) -> Any:
    """The same no-op agent on a Faust app as Faust ships it (acks and commits, the Monitor sensor,
    its fetch and timeout settings), for the benchmark's `faust_defaults_ceiling_eps`: what the
    pipeline's settings (streams/settings.py, streams/app.py) change, measured. Only the web server is
    off (it listens on a fixed port) and the group is new each run (so it reads from the start)."""
    import uuid

    import faust

    from sno.core.topics import INPUT_TOPICS

    app = faust.App(f"sno-noop-defaults-{uuid.uuid4().hex[:8]}", broker=f"kafka://{broker}",
                    datadir=str(datadir), web_enabled=False, consumer_auto_offset_reset="earliest")
    topics = app.topic(*INPUT_TOPICS, value_serializer="raw", key_serializer="raw")

    @app.agent(topics)
    async def agent(stream: Any) -> None:
        async for events in stream.take_events(1000, within=0.1):
            await sink.flush([(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                              for e in events])

    return app


def main() -> None:
    import faust

    from streams.app import build_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--faust-defaults", action="store_true",
                        help="Faust's own app with its shipped settings instead of the pipeline's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = PipelineSettings(broker=args.broker, store=Path(tmp), app_id="sno-noop-ceiling")
        settings.datadir.mkdir(parents=True, exist_ok=True)  # the worker changes into it
        sink = CountingSink()
        app = _faust_defaults_app(args.broker, Path(tmp), sink) if args.faust_defaults \
            else build_app(settings, sink)

        @app.timer(0.1)
        async def _done() -> None:
            if sink.count >= args.events:
                result = {"count": sink.count, "first": sink.first, "last": sink.last}
                Path(args.out).write_text(json.dumps(result))
                os.kill(os.getpid(), signal.SIGTERM)

        worker = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False,
                              workdir=settings.datadir)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()


if __name__ == "__main__":
    main()

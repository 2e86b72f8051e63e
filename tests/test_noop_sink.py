"""The benchmark's no-op sink (the framework's ceiling, `sno bench`) takes every call the app makes of the
real sink: when the real sink's interface changes, the ceiling must not crash on it."""

from __future__ import annotations

import inspect

from streams.noop import CountingSink
from streams.sink import ClickHouseSink


def test_the_no_op_sink_takes_the_same_calls_the_app_makes_of_the_real_sink() -> None:
    for name in ("on_assigned", "on_revoked", "flush", "tick"):
        real = inspect.signature(getattr(ClickHouseSink, name)).parameters
        noop = inspect.signature(getattr(CountingSink, name)).parameters
        assert list(noop) == list(real), name
    sink = CountingSink()
    for attribute in ("publish_alerts", "publish_deadletters", "publish_forwards", "reseek", "generation",
                      "positions"):
        assert hasattr(sink, attribute), attribute

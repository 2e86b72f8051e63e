"""The load run (issue 17, "Load"; streams/load_bench.py), small: the SNO peak of every service together
(R15, R18), paced for one minute into a live worker, is counted exactly once and the lag returns to 0.

The full run (`python -m streams.load_bench --factor 10 --minutes 10`) is measured by hand and its
figures are in streams/README.md; this test asserts no timing, only exactness and the drain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sno.core.calendar import Month
from sno.core.catalogue import load_catalogue
from streams.load_bench import load_run, peak_streams, summary


def test_the_peak_mix_takes_every_rate_limit_of_the_catalogue_and_nothing_else() -> None:
    """Each stream's rate is a limit of the month's norms (R15 capacity per minute, R18 per second, hour
    or night), so a changed catalogue changes the load; a service with no rate limit sends nothing."""
    catalogue = load_catalogue()
    now = datetime.now(UTC)
    streams = {s.name: s for s in peak_streams(catalogue, now)}
    digid = catalogue.select("digid", Month.of(now)).norms
    assert digid is not None and digid.performance is not None
    assert streams["authentication (digid)"].rate == digid.performance.capacity_per_minute / 60
    mo = catalogue.select("mijnoverheid", Month.of(now)).norms
    assert mo is not None and mo.mijnoverheid is not None
    assert streams["message (mijnoverheid)"].rate >= mo.mijnoverheid.messages_per_hour / 3600
    apis = {s.api for s in streams.values() if s.api}
    assert apis == {"validatieservice", *mo.mijnoverheid.abonnement_per_night}
    assert {s.event_type for s in streams.values()} == {"authentication", "transaction", "message",
                                                        "notification", "api_request"}


@pytest.mark.slow
def test_a_minute_at_the_sno_peak_is_counted_once_and_the_lag_drains_to_zero(tmp_path: Path) -> None:
    run = load_run(factor=1.0, minutes=1.0, folder=tmp_path, drain_timeout=300)
    result = summary(run)
    print("\nload run, 1 min at 1x the SNO peak:", {k: result[k] for k in (
        "target_events_per_second", "achieved_send_rate", "total_events", "counted", "duplicates",
        "lag_records", "lag_after_drain", "drain_seconds", "rss_mb")})
    assert result["total_events"] > 0
    assert result["counted"] == result["total_events"]
    assert result["duplicates"] == 0
    assert result["lag_after_drain"] == 0
    assert result["worker_exit"] == 0
    assert result["worker_error_lines"] == []

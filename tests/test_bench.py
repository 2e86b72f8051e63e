"""`sno bench`: medians of interleaved rounds with their spread (docs/interfaces.md, "Benchmark")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sno.bench import _spread
from tests.conftest import sno_env


def test_a_repeated_measure_is_reported_as_its_median_with_the_lowest_and_highest_beside_it() -> None:
    result: dict[str, object] = {}
    _spread(result, "pipeline_eps", [7_100.4, None, 6_900.0, 9_800.2])
    assert result == {"pipeline_eps": 7_100, "pipeline_eps_min": 6_900, "pipeline_eps_max": 9_800}
    _spread(result, "ratio", [0.5121, 0.7], digits=3)
    assert (result["ratio"], result["ratio_min"], result["ratio_max"]) == (0.606, 0.512, 0.7)
    _spread(result, "report_seconds", [None])
    assert result["report_seconds"] is None


@pytest.mark.slow
def test_sno_bench_with_two_rounds_reports_every_key_of_the_contract_with_its_spread(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "sno.cli", "bench", "--events", "3000", "--repeat", "2", "--json",
         "--history", str(history)],
        capture_output=True, timeout=900, env=sno_env(),
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout)
    assert result["repeat"] == 2 and result["events"] == 3000
    for key in ("raw_consume_eps", "faust_defaults_ceiling_eps", "faust_ceiling_eps", "pipeline_eps",
                "pipeline_unkeyed_eps", "ratio", "fold_utilisation", "report_seconds"):
        assert result[f"{key}_min"] <= result[key] <= result[f"{key}_max"], key
    assert result["ratio_max"] <= result["pipeline_eps_max"] / result["faust_ceiling_eps_min"]
    # each round's null-keyed run reads the input and its own forwarded copies, never an earlier round's
    assert 0 < result["unkeyed_forwarded"] < result["events"]
    assert result["unkeyed_records_read"] == result["events"] + result["unkeyed_forwarded"]
    # a share of the span, of one process with one thread doing the work: at most 1 (plus the clock
    # ticks /proc counts in)
    assert 0 < result["fold_utilisation_min"] <= result["fold_utilisation_max"] <= 1.02
    for key in ("producer_eps", "ingest_eps", "alert_latency_p50_ms", "alert_latency_p99_ms",
                "worker_peak_rss_mb"):
        assert result[key] is not None and result[key] > 0, key
    assert json.loads(history.read_text().splitlines()[-1]) == result

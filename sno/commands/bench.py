"""`sno bench`: the benchmark (docs/interfaces.md, "Benchmark"), as a table or one JSON object."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click

from sno.commands._options import one_line_errors

TARGETS = {
    "pipeline_eps": (">=", 10000),
    "ratio": (">=", 0.85),
    "fold_utilisation": (">=", 0.85),
    "alert_latency_p99_ms": ("<", 1000),
    "worker_peak_rss_mb": ("<", 400),
    "report_seconds": ("<", 2),
    "ingest_eps": (">=", 30000),
}


@click.command("bench")
@click.option("--events", "n", type=int, default=200_000, show_default=True, help="Events to produce.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Rounds of ceiling and pipeline, interleaved; rates are their medians (with _min/_max).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("sno-bench-history.jsonl"), show_default=True,
              help="JSON Lines file every run is appended to.")
@one_line_errors
def command(n: int, seed: int, repeat: int, as_json: bool, history: Path) -> None:
    """Measure the pipeline against the broker's and the framework's ceilings on this machine."""
    from sno.bench import append_history, run_bench

    latency = None
    with contextlib.suppress(ImportError):  # alert latency is measured once the alert engine is wired in
        from streams.alert_bench import alert_latency as latency  # type: ignore[no-redef]
    result = run_bench(n, seed=seed, repeat=repeat, say=lambda m: click.echo(f"· {m}", err=True),
                       alert_latency=latency)
    append_history(history, result)
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        if key in ("machine", "at") or key.endswith(("_min", "_max")):
            continue
        target = TARGETS.get(key)
        if key == "pipeline_unkeyed_eps" and isinstance(result.get("pipeline_eps"), int | float):
            target = (">=", round(result["pipeline_eps"] / 2))  # half of keyed (issue 18)
        mark = ""
        if target is not None and isinstance(value, int | float):
            op, limit = target
            ok = value >= limit if op == ">=" else value < limit
            mark = f"  target {op} {limit:,}: {'met' if ok else 'MISSED'}"
        shown = f"{value:,}" if isinstance(value, int | float) else str(value)
        low, high = result.get(f"{key}_min"), result.get(f"{key}_max")
        if low is not None and high is not None:
            mark = f"  ({low:,}–{high:,}){mark}"
        click.echo(f"{key:<28}{shown:>14}{mark}")
    click.echo(f"(appended to {history})")

"""`sno worker`: the streaming pipeline (Faust) until stopped, or until drained with `--drain`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from sno.commands._options import broker_option, clickhouse_option, fail, one_line_errors, store_option
from sno.runtime.broker import broker_or_local


@click.command("worker")
@broker_option
@clickhouse_option
@store_option
@click.option("--drain", is_flag=True, help="Exit 0 once consumer lag is zero and every rollup is written.")
@click.option(
    "--partitions",
    type=int,
    default=2,
    show_default=True,
    help="Partitions per input topic when the worker creates the topics (an id's owner is murmur2 of "
         "its key modulo the topic's partition count, as Kafka clients partition).",
)
@click.option("--batch-size", type=int, default=1000, show_default=True,
              help="Events per agent batch (folded together; queued batches are written together).")
@click.option("--web", is_flag=True, help="Serve Faust's web endpoints (metrics, table views) on --web-port.")
@click.option("--web-port", type=int, default=6066, show_default=True)
@click.option(
    "--status-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write progress counters here as JSON every 0.2 s (for scripts and tests).",
)
@click.option("--alertmanager", envvar="SNO_ALERTMANAGER", default=None, metavar="URL",
              help="Forward alerts to this Alertmanager (API v2) too [env SNO_ALERTMANAGER; the flag wins].")
@click.option("--no-alerts", is_flag=True, help="Do not judge breach alerts (rollups only).")
@click.option("--metrics-port", envvar="SNO_METRICS_PORT", type=click.IntRange(0, 65535), default=None,
              metavar="PORT", help="Serve Prometheus /metrics, /healthz and /readyz on this port (0: any "
              "free port) [env SNO_METRICS_PORT; default: not served].")
@click.option("--metrics-host", envvar="SNO_METRICS_HOST", default="0.0.0.0", show_default=True,
              help="Address the metrics port listens on [env SNO_METRICS_HOST].")
@click.option("--log-format", envvar="SNO_LOG_FORMAT", type=click.Choice(["text", "json"]), default=None,
              help="text, or json: one JSON object per line from every process [env SNO_LOG_FORMAT].")
@click.option("--loglevel", envvar="SNO_LOG_LEVEL", default="warning", show_default=True)
@click.option("--group", envvar="SNO_GROUP", default=None, metavar="NAME",
              help="Consumer group [env SNO_GROUP; default: sno-pipeline on a ClickHouse server, "
                   "sno-pipeline-<store id> on an embedded store]. Every assignment resumes from the "
                   "store's ledger, so a group of its own (a one-off --drain job) changes no count.")
@click.option("--broker-gone-seconds", envvar="SNO_BROKER_GONE_SECONDS", type=click.FloatRange(min=0,
              min_open=True), default=60.0, show_default=True, metavar="SECONDS",
              help="Exit non-zero when the Kafka cluster has not answered for this long (a supervisor "
                   "restarts the worker; the ledger keeps the restart exact); a cluster that comes back "
                   "with another cluster id ends the worker at once [env SNO_BROKER_GONE_SECONDS].")
@one_line_errors
def command(
    broker: str | None,
    store: str,
    drain: bool,
    status_file: Path | None,
    no_alerts: bool,
    log_format: str | None,
    broker_gone_seconds: float,
    **options: Any,
) -> None:
    """Run the pipeline: validate, de-duplicate and roll up every input topic into ClickHouse.

    ``options`` are the ones `PipelineSettings` takes as they are, under the same names (its fields say
    what each means); only the ones the command turns into something else are named here.
    """
    from sno.runtime import logs
    from sno.runtime.deadline import stop_seconds
    from sno.runtime.transport import KafkaSecurity, TransportError
    from streams.settings import PipelineSettings
    from streams.worker import run_worker

    fmt = logs.configure(log_format, options["loglevel"])
    try:
        security = KafkaSecurity.from_env()
        stop_seconds()  # SNO_STOP_SECONDS checked before anything starts
    except (TransportError, ValueError) as exc:
        fail(str(exc))
    with broker_or_local(broker) as bootstrap:
        if not broker:
            _say(fmt, f"started a local broker on {bootstrap} (set SNO_BROKER to use another)")
        settings = PipelineSettings(
            broker=bootstrap,
            store=Path(store),
            alerts=not no_alerts,
            log_format=fmt,
            kafka_security=security,
            **options,
        )
        result = run_worker(settings, drain=drain, status_file=status_file, progress=sys.stderr.isatty(),
                            broker_gone_seconds=broker_gone_seconds)
    if result.code:
        what = "the worker stopped before it was drained" if drain else "the worker stopped"
        fail(what + (f" ({result.error})" if result.error else ""), result.code)
    if drain:
        s = result.stats
        _say(fmt, f"drained: {s.processed} processed, {s.rejected} rejected, {s.duplicates} duplicates, "
             f"{s.forwarded} forwarded to their owner partition, {s.skipped} already counted; "
             f"first event after {result.first_event_seconds} s", prefix="")


def _say(fmt: str, message: str, prefix: str = "sno: ") -> None:
    """A line for the operator: plain on a terminal, a JSON log line with `--log-format json`."""
    if fmt == "json":
        logger = logging.getLogger("sno.worker")
        logger.setLevel(logging.INFO)  # said whatever --loglevel is, as the text line is
        logger.info(message)
    else:
        click.echo(prefix + message, err=True)

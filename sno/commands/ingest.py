"""`sno ingest FILE… [--broker]`: publish JSON Lines events to their topics.

The work is in `sno.ingest` (shared with `sno replay` and the benchmark); this module only turns its
outcome into output and an exit status. Rejected lines are not a failure (they are dead-lettered and
counted); only an unreachable broker, an unreadable file or an interruption ends the run with a non-zero
status, and then the one line says how many lines were published and which line to resume from
(`--from-line`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import click

from sno.ingest import STDIN, IngestError, IngestSummary, Interrupted, bootstrap_from_env, publish_files


@click.command(name="ingest")
@click.argument("files", nargs=-1, required=True, metavar="FILE…")
@click.option(
    "--broker",
    "broker",
    metavar="HOST:PORT[,…]",
    help="Kafka bootstrap servers (default: $SNO_BROKER).",
)
@click.option(
    "--from-line",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Start at line N of the first FILE (resume a run that stopped there; the others are read whole).",
)
def command(files: tuple[str, ...], broker: str | None, from_line: int) -> None:
    """Validate JSON Lines FILEs (`.gz` too; `-` is standard input) and publish each event to its
    topic; rejected lines go to sno.deadletter with their reason, file and line."""
    bootstrap = (broker or "").strip() or bootstrap_from_env()
    if bootstrap is None:
        click.echo(
            "error: no broker: pass --broker HOST:PORT or set SNO_BROKER (run `sno broker` for a local one)",
            err=True,
        )
        raise SystemExit(2)
    if files.count(STDIN) > 1:
        click.echo("error: standard input (-) can be read only once", err=True)
        raise SystemExit(2)
    # aiokafka logs each failed connection attempt; the user gets one line from us instead.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        summary = asyncio.run(_run(list(files), bootstrap, from_line))
    except Interrupted as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(130) from None
    except IngestError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:  # before publishing began: nothing was sent
        click.echo("error: interrupted before anything was published", err=True)
        raise SystemExit(130) from None
    click.echo(summary.render())


async def _run(files: list[str], bootstrap: str, from_line: int) -> IngestSummary:
    """The run, stopped by SIGTERM as by Ctrl-C: cancelled, so that it can say how far it got."""
    task: asyncio.Task[Any] | None = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await publish_files(files, bootstrap, progress=sys.stderr.isatty(), from_line=from_line)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)

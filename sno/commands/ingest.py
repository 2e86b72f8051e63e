"""`sno ingest FILE… [--broker]`: publish JSON Lines events to their topics.

The work is in `sno.ingest` (shared with `sno replay` and the benchmark); this module only turns its
outcome into output and an exit status. Rejected lines are not a failure (they are dead-lettered and
counted); only an unreachable broker or an unreadable file ends the run with a non-zero status.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from sno.ingest import STDIN, IngestError, bootstrap_from_env, publish_files


@click.command(name="ingest")
@click.argument("files", nargs=-1, required=True, metavar="FILE…")
@click.option(
    "--broker",
    "broker",
    metavar="HOST:PORT[,…]",
    help="Kafka bootstrap servers (default: $SNO_BROKER).",
)
def command(files: tuple[str, ...], broker: str | None) -> None:
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
        summary = asyncio.run(publish_files(list(files), bootstrap, progress=sys.stderr.isatty()))
    except IngestError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        raise SystemExit(130) from None
    click.echo(summary.render())

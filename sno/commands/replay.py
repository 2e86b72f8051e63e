"""`sno replay FILE…`: one shot, end to end (publish, drain, summary), on the embedded defaults."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sno.commands._options import broker_option, clickhouse_option, fail, one_line_errors, store_option


@click.command("replay")
@click.argument("files", nargs=-1, required=True)
@broker_option
@clickhouse_option
@store_option
@click.option("--chunk-lines", type=int, default=1_000_000, show_default=True,
              help="Lines per chunk on the embedded broker (it keeps records in memory).")
@click.option("--partitions", type=int, default=2, show_default=True, help="Partitions per input topic.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--from-line", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Start at line N of the first FILE (resume a run that stopped there).")
@one_line_errors
def command(files: tuple[str, ...], broker: str | None, clickhouse: str | None, store: str, chunk_lines: int,
            partitions: int, as_json: bool, from_line: int) -> None:
    """Publish FILE… (JSON Lines, .gz, - for stdin) and process every event into the store.

    Running it again on the same store with more files adds to what is there; events already counted
    (same event_id within 24 h) are counted once.
    """
    from sno.ingest import IngestError
    from sno.replay import replay

    try:
        summary = replay(files, store=Path(store), broker=broker, clickhouse=clickhouse,
                         chunk_lines=chunk_lines, partitions=partitions, progress=sys.stderr.isatty(),
                         from_line=from_line)
    except (IngestError, RuntimeError) as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    else:
        click.echo(summary.render())

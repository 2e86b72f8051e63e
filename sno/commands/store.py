"""`sno store …`: maintenance of the store (the embedded one, or a ClickHouse server).

`sno store prune --before YYYY-MM` applies the retention of sql/migrations/0007_retention.sql: rows older
than the month go, what exactness needs stays (sno/runtime/retention.py). The embedded store admits one
process: stop the worker first. On a ClickHouse server it may run while the workers do.
"""

from __future__ import annotations

import click

from sno.commands._options import clickhouse_option, fail, one_line_errors, store_option


@click.group("store")
def command() -> None:
    """Maintain the store: retention."""


@command.command("prune")
@clickhouse_option
@store_option
@click.option("--before", "before", required=True, metavar="YYYY-MM",
              help="Remove what is older than the first of this month (UTC); not the current month.")
@click.option("--rollups", is_flag=True,
              help="Also drop the rollups' month partitions (the reports' source: no data for them then).")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@one_line_errors
def prune(clickhouse: str | None, store: str, before: str, rollups: bool, dry_run: bool) -> None:
    """Remove rows older than a month, keeping each partition's last ledger write, the de-duplication
    window and the alerts still firing."""
    from sno.runtime.retention import parse_month
    from sno.runtime.retention import prune as run_prune
    from sno.runtime.store import open_store

    try:
        month = parse_month(before)
    except ValueError as exc:
        fail(str(exc))
    with open_store(clickhouse, store, holder="sno store prune") as st:
        try:
            actions = run_prune(st, month, rollups=rollups, dry_run=dry_run)
        except ValueError as exc:
            fail(str(exc))
    for action in actions:
        click.echo(("would remove: " if dry_run else "") + action.line())

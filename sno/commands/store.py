"""`sno store …`: the store itself: serving the embedded one to several processes, and its retention.

`sno store serve` serves the embedded store over ClickHouse's HTTP interface (sno/runtime/store_server.py).

`sno store prune --before YYYY-MM` applies the retention of sql/migrations/0007_retention.sql: rows older
than the month go, what exactness needs stays (sno/runtime/retention.py). The embedded store admits one
process: stop the worker first. On a ClickHouse server it may run while the workers do.
"""

from __future__ import annotations

import signal
from pathlib import Path

import click

from sno.commands._options import clickhouse_option, fail, one_line_errors, store_option


@click.group("store")
def command() -> None:
    """Serve the embedded store to several processes; maintain the store: retention."""


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


@command.command(name="serve")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --password-file.")
@click.option("--port", default=8123, show_default=True, type=int, help="Port (0: any free port).")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              envvar="SNO_STORE_PASSWORD_FILE", help="File holding the password clients must give "
              "(HTTP basic auth or X-ClickHouse-Key) [env SNO_STORE_PASSWORD_FILE].")
@one_line_errors
def serve(store: str, host: str, port: int, password_file: Path | None) -> None:
    """Serve the embedded store over ClickHouse's HTTP interface until stopped.

    Workers (`--clickhouse http://HOST:PORT`), `sno report`, `sno alerts` and any ClickHouse HTTP client
    then use one store at the same time.
    """
    from sno.runtime.store_server import StoreServer

    password = password_file.read_text(encoding="utf-8").strip() if password_file else None
    if password_file is not None and not password:
        fail(f"the password file {password_file} is empty")
    try:
        server = StoreServer(store, host, port, password)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    click.echo(f"serving the store {server.path} at {server.url} (ClickHouse HTTP interface)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()

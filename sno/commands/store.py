"""`sno store …`: commands on the store itself."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from sno.commands._options import fail, one_line_errors, store_option


@click.group(name="store")
def command() -> None:
    """Commands on the store (the embedded ClickHouse data)."""


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

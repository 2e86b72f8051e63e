"""`sno broker`: the bundled Kafka-compatible broker in the foreground, for development and tests."""

from __future__ import annotations

import signal
import threading

import click

from sno.commands._options import one_line_errors
from sno.runtime.broker import LocalBroker


@click.command("broker")
@click.option("--port", type=int, default=9092, show_default=True, help="Port on 127.0.0.1 (0 = any free).")
@click.option("--verbose", is_flag=True, help="Show the broker's own log.")
@one_line_errors
def command(port: int, verbose: bool) -> None:
    """Run the bundled Kafka-compatible broker (memory only) until interrupted."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalBroker(port=port, quiet=not verbose) as broker:
        click.echo(f"broker ready on {broker.bootstrap} (memory storage; Ctrl-C stops it)", err=True)
        click.echo(broker.bootstrap)
        try:
            while not stop.wait(0.5):
                if broker.process is None or broker.process.poll() is not None:
                    raise click.ClickException("the broker exited")
        except KeyboardInterrupt:
            pass

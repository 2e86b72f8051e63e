"""Options shared by the sub-commands: the table of docs/interfaces.md (flag / environment / default)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from sno.runtime.store import DEFAULT_STORE

broker_option = click.option(
    "--broker",
    envvar="SNO_BROKER",
    default=None,
    metavar="HOST:PORT[,…]",
    help="Kafka bootstrap servers [env SNO_BROKER; default: a local broker started by sno].",
)
clickhouse_option = click.option(
    "--clickhouse",
    envvar="SNO_CLICKHOUSE",
    default=None,
    metavar="DSN",
    help="ClickHouse DSN, e.g. http://user:pass@host:8123/db [env SNO_CLICKHOUSE; default: chDB on --store].",
)
store_option = click.option(
    "--store",
    envvar="SNO_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="PATH",
    type=click.Path(file_okay=False),
    help="Folder of the embedded ClickHouse store [env SNO_STORE].",
)


def fail(message: str, status: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: users get a sentence, never a traceback (with
    SNO_LOG_FORMAT=json, that line is a JSON log record like every other line of the process)."""
    if os.environ.get("SNO_LOG_FORMAT", "").strip().lower() == "json":
        import logging

        from sno.runtime.logs import configure

        configure("json")
        logging.getLogger("sno").error(message)
    else:
        click.echo(f"sno: {message}", err=True)
    sys.exit(status)


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's expected failures (broker, store) into one-line errors."""
    from sno.runtime.broker import BrokerError
    from sno.runtime.store import StoreError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (BrokerError, StoreError) as exc:
            fail(str(exc))

    return wrapper

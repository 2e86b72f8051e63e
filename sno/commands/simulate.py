"""`sno simulate`: write a month of realistic synthetic events as JSON Lines (see sno.simulate)."""

from __future__ import annotations

import contextlib
import gzip
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import click

from sno.core.calendar import Month
from sno.simulate import SERVICES, simulate

#: zlib level for `.gz` output: level 5 keeps up with the generator at a size close to level 9.
GZIP_LEVEL = 5


def _month(ctx: click.Context, param: click.Parameter, value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _share(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 1:
        raise click.BadParameter("must lie between 0 and 1")
    return value


@contextlib.contextmanager
def _open_output(path: str) -> Iterator[BinaryIO]:
    """The output stream: stdout for `-`, gzip for `*.gz` (no name or time in the header, so the bytes
    depend on the arguments only), a plain file otherwise."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
            ) as zipped:
                yield zipped  # type: ignore[misc]
        else:
            yield raw


@click.command("simulate")
@click.option("--month", required=True, callback=_month, metavar="YYYY-MM", help="The month to simulate.")
@click.option(
    "--service",
    "services",
    multiple=True,
    type=click.Choice(SERVICES),
    help="A service to simulate; repeat for more [default: all three].",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Volume relative to production (0.001 gives a small demo month).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed and arguments, same bytes.")
@click.option(
    "--invalid-share",
    type=float,
    default=0.0002,
    show_default=True,
    callback=_share,
    help="Share of lines that break the event contract.",
)
@click.option(
    "--duplicate-share",
    type=float,
    default=0.001,
    show_default=True,
    callback=_share,
    help="Share of events sent twice (same event_id).",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the first N days of the month.")
@click.option("--no-burst", is_flag=True, help="Leave out the minutes over DigiD's capacity limit.")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="JSON Lines file to write; gzip when it ends in .gz, `-` for stdout.",
)
def command(
    month: Month,
    services: tuple[str, ...],
    scale: float,
    seed: int,
    invalid_share: float,
    duplicate_share: float,
    days: int | None,
    no_burst: bool,
    output: str,
) -> None:
    """Write realistic synthetic events of all three services for one month."""
    try:
        with _open_output(output) as out:
            summary = simulate(
                month,
                services or SERVICES,
                scale,
                seed,
                out,
                invalid_share=invalid_share,
                duplicate_share=duplicate_share,
                days=days,
                capacity_burst=not no_burst,
            )
    except BrokenPipeError:
        # A reader such as `head` went away: stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        click.echo(f"sno: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    summary.file = "stdout" if output == "-" else output
    click.echo(summary.format(), err=True)

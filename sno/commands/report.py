"""`sno report`: the monthly Klantrapportage (R23) or the year overview, read from ClickHouse."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from sno.commands._options import clickhouse_option, fail, one_line_errors, store_option

#: Bad arguments exit with this status, as click's own usage errors do.
USAGE = 2
FORMAT_NAMES = ("json", "markdown", "html", "csv")


def _write(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


@click.command("report")
@click.option("--service", metavar="S", help="digid, digid-machtigen or mijnoverheid.")
@click.option("--month", metavar="YYYY-MM", help="The month of the Klantrapportage.")
@click.option("--year", metavar="YYYY", help="Instead of --month: every month's status per KPI of that year.")
@click.option("--environment", default="production", show_default=True, help="production or preproduction.")
@click.option(
    "--format",
    "fmt",
    default="json",
    show_default=True,
    metavar="|".join(FORMAT_NAMES),
    help="Output format; html is one self-contained file with charts.",
)
@click.option(
    "--public", is_flag=True, help="Leave out titles and descriptions of incidents and outages (R23)."
)
@click.option("-o", "--output", metavar="FILE", default=None, help="Write here instead of stdout.")
@store_option
@clickhouse_option
@one_line_errors
def command(
    service: str | None,
    month: str | None,
    year: str | None,
    environment: str,
    fmt: str,
    public: bool,
    output: str | None,
    store: str,
    clickhouse: str | None,
) -> None:
    """The monthly compliance report (Klantrapportage) of one service, from ClickHouse."""
    from sno.core.catalogue import load_catalogue
    from sno.report.load import ReportArgumentError, check_arguments

    if fmt not in FORMAT_NAMES:
        fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMAT_NAMES)}", USAGE)
    if not service:
        fail("--service is required (digid, digid-machtigen or mijnoverheid)", USAGE)
    if (month is None) == (year is None):
        fail("give exactly one of --month YYYY-MM and --year YYYY", USAGE)
    catalogue = load_catalogue()
    if year is not None:
        if not (year.isdigit() and len(year) == 4 and int(year) >= 1):
            fail(f"malformed year {year!r}; expected YYYY, e.g. 2026", USAGE)
        try:
            check_arguments(service, environment, f"{year}-12", catalogue)
        except ReportArgumentError as exc:
            fail(str(exc), USAGE)
        text = _year(service, environment, int(year), fmt, store, clickhouse)
    else:
        assert month is not None
        try:
            parsed = check_arguments(service, environment, month, catalogue)
        except ReportArgumentError as exc:
            fail(str(exc), USAGE)
        text = _month(service, environment, str(parsed), fmt, public, store, clickhouse)
    _write(text, output)


def _month(
    service: str, environment: str, month: str, fmt: str, public: bool, store: str, clickhouse: str | None
) -> str:
    from sno.core.calendar import Month
    from sno.core.catalogue import load_catalogue
    from sno.report.load import load_month
    from sno.report.render import render_month
    from sno.runtime.store import open_store

    with open_store(clickhouse=clickhouse, store=store, holder="sno report") as st:
        loaded = load_month(
            st, service, environment, Month.parse(month), load_catalogue(), days=fmt == "html"
        )
    return render_month(loaded, fmt, public=public)  # type: ignore[arg-type]


def _year(service: str, environment: str, year: int, fmt: str, store: str, clickhouse: str | None) -> str:
    from sno.core.catalogue import load_catalogue
    from sno.report.load import load_year
    from sno.report.render import render_year
    from sno.runtime.store import open_store

    with open_store(clickhouse=clickhouse, store=store, holder="sno report") as st:
        overview = load_year(st, service, environment, year, load_catalogue())
    return render_year(overview, fmt)  # type: ignore[arg-type]

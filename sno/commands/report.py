"""`sno report`: the monthly Klantrapportage (R23, R24), the year overview, or the reports due next."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path

import click

from sno.commands._options import clickhouse_option, fail, one_line_errors, store_option

#: Bad arguments exit with this status, as click's own usage errors do.
USAGE = 2
FORMAT_NAMES = ("json", "markdown", "html", "csv", "pdf")
LANGUAGES = ("nl", "en")


def require_store(store: str, clickhouse: str | None) -> None:
    """A read command never creates a store (issue 17): an embedded store folder that does not exist, or
    holds no ClickHouse data, is a one-line error instead of an empty store whose report says "100 %
    available". A ClickHouse server is the server's business: its tables are checked by the queries."""
    if clickhouse and not clickhouse.startswith("chdb://"):
        return
    path = Path(clickhouse[len("chdb://") :]) if clickhouse else Path(store)
    if not path.is_dir():
        fail(
            f"no store at {path}: give the --store (or SNO_STORE) that `sno replay` or `sno worker` wrote to"
        )
    if not (path / "clickhouse").is_dir():
        fail(
            f"{path} is not a sno store (it has no clickhouse/ folder): give the --store that `sno replay` "
            "or `sno worker` wrote to"
        )


def _write(data: str | bytes, output: str | None) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if output in (None, "-"):
        if isinstance(data, bytes) and sys.stdout.isatty():
            fail("a PDF is not written to a terminal: give -o FILE (or pipe it)", USAGE)
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return
    path = Path(output)
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(raw)
        tmp.replace(path)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


@click.command("report")
@click.option("--service", metavar="S", help="digid, digid-machtigen or mijnoverheid.")
@click.option("--month", metavar="YYYY-MM", help="The month of the Klantrapportage.")
@click.option("--year", metavar="YYYY", help="Instead of --month: every month's status per KPI of that year.")
@click.option(
    "--due",
    is_flag=True,
    help="Instead of a report: for each service, the month due next and its date (R23).",
)
@click.option(
    "--today", metavar="YYYY-MM-DD", default=None, hidden=True, help="With --due: the day to look from."
)
@click.option("--environment", default="production", show_default=True, help="production or preproduction.")
@click.option(
    "--format",
    "fmt",
    default=None,
    metavar="|".join(FORMAT_NAMES),
    help="Output format [default: json; with --due a table]; html is one self-contained file with charts, "
    "pdf the same paginated for A4.",
)
@click.option(
    "--lang",
    default=None,
    metavar="nl|en",
    help="Language of html, markdown, pdf and csv names [default: nl, the language of the Klantrapportage].",
)
@click.option(
    "--public",
    is_flag=True,
    help="Leave out titles, descriptions and analyses of incidents and outages (R23).",
)
@click.option("-o", "--output", metavar="FILE", default=None, help="Write here instead of stdout.")
@store_option
@clickhouse_option
@one_line_errors
def command(
    service: str | None,
    month: str | None,
    year: str | None,
    due: bool,
    today: str | None,
    environment: str,
    fmt: str | None,
    lang: str | None,
    public: bool,
    output: str | None,
    store: str,
    clickhouse: str | None,
) -> None:
    """The monthly compliance report (Klantrapportage) of one service, from ClickHouse."""
    from sno.core.catalogue import load_catalogue
    from sno.report.load import ReportArgumentError, check_arguments

    if fmt is None:
        fmt = "table" if due else "json"
    if fmt not in FORMAT_NAMES and not (due and fmt == "table"):
        fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMAT_NAMES)}", USAGE)
    lang = lang or "nl"
    if lang not in LANGUAGES:
        fail(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}", USAGE)
    catalogue = load_catalogue()
    if due:
        if month or year:
            fail("--due lists the reports due next; it takes no --month or --year", USAGE)
        _write(_due(catalogue, today, fmt, lang, service), output)
        return
    if not service:
        fail("--service is required (digid, digid-machtigen or mijnoverheid)", USAGE)
    if (month is None) == (year is None):
        fail("give exactly one of --month YYYY-MM and --year YYYY", USAGE)
    if year is not None:
        if not (year.isdigit() and len(year) == 4 and int(year) >= 1):
            fail(f"malformed year {year!r}; expected YYYY, e.g. 2026", USAGE)
        if fmt == "pdf":
            fail("the year overview has no pdf format; use html, markdown, csv or json", USAGE)
        try:
            check_arguments(service, environment, f"{year}-12", catalogue)
        except ReportArgumentError as exc:
            fail(str(exc), USAGE)
        require_store(store, clickhouse)
        _write(_year(service, environment, int(year), fmt, lang, store, clickhouse), output)
        return
    assert month is not None
    try:
        parsed = check_arguments(service, environment, month, catalogue)
    except ReportArgumentError as exc:
        fail(str(exc), USAGE)
    require_store(store, clickhouse)
    _write(_month(service, environment, str(parsed), fmt, lang, public, store, clickhouse), output)


def _month(
    service: str,
    environment: str,
    month: str,
    fmt: str,
    lang: str,
    public: bool,
    store: str,
    clickhouse: str | None,
) -> str | bytes:
    from sno.core.calendar import Month
    from sno.core.catalogue import load_catalogue
    from sno.report.load import load_month
    from sno.report.render import render_month
    from sno.runtime.store import open_store

    with open_store(clickhouse=clickhouse, store=store, holder="sno report") as st:
        loaded = load_month(
            st, service, environment, Month.parse(month), load_catalogue(), days=fmt in ("html", "pdf")
        )
    if fmt == "pdf":
        from sno.report.pdf import PdfError, render_pdf

        try:
            return render_pdf(loaded, public=public, lang=lang)
        except PdfError as exc:
            fail(str(exc))
    return render_month(loaded, fmt, public=public, lang=lang)  # type: ignore[arg-type]


def _year(
    service: str, environment: str, year: int, fmt: str, lang: str, store: str, clickhouse: str | None
) -> str:
    from sno.core.catalogue import load_catalogue
    from sno.report.load import load_year
    from sno.report.render import render_year
    from sno.runtime.store import open_store

    with open_store(clickhouse=clickhouse, store=store, holder="sno report") as st:
        overview = load_year(st, service, environment, year, load_catalogue())
    return render_year(overview, fmt, lang)  # type: ignore[arg-type]


def _due(catalogue: object, today_text: str | None, fmt: str, lang: str, service: str | None) -> str:
    """`sno report --due`: for each service the month whose report is due next and its date (R23)."""
    import orjson

    from sno.core.catalogue import Catalogue
    from sno.core.judge import KPI_IDS
    from sno.core.reporting import due_for
    from sno.report.i18n import messages
    from sno.report.names import SERVICE_NAMES

    assert isinstance(catalogue, Catalogue)
    if today_text is None:
        from sno.core.calendar import TZ

        today = datetime.now(TZ).date()
    else:
        try:
            today = date.fromisoformat(today_text)
        except ValueError:
            fail(f"malformed --today {today_text!r}; expected YYYY-MM-DD", USAGE)
    services = [service] if service else list(KPI_IDS)
    for s in services:
        if s not in KPI_IDS:
            fail(f"unknown service {s!r}; expected one of {', '.join(KPI_IDS)}", USAGE)
    rows = [due_for(s, today, catalogue) for s in services]
    if fmt == "json":
        return (
            orjson.dumps(
                [
                    {
                        "service": r.service,
                        "month": str(r.month),
                        "due_date": r.due.isoformat(),
                        "sno_version": r.sno_version,
                    }
                    for r in rows
                ],
                option=orjson.OPT_INDENT_2,
            ).decode()
            + "\n"
        )
    if fmt == "csv":
        lines = ["service,month,due_date,sno_version"]
        lines += [f"{r.service},{r.month},{r.due.isoformat()},{r.sno_version or ''}" for r in rows]
        return "\n".join(lines) + "\n"
    m = messages(lang)
    header = [m.t("due_service"), m.t("due_month"), m.t("due_date"), m.t("sno_version")]
    body = [
        [SERVICE_NAMES.get(r.service, r.service), m.month(str(r.month)), m.date(r.due), r.sno_version or "–"]
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    out = [m.t("due_heading"), ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    out += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    return "\n".join(out) + "\n"

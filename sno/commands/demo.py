"""`sno demo`: the main job end to end on the embedded defaults.

Simulate a month of all three services, replay it through broker → Faust worker → ClickHouse, judge the
month from the store, write the reports, and print a summary table and where everything is.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from sno.commands._options import one_line_errors

SERVICES = ("digid", "digid-machtigen", "mijnoverheid")
#: KPIs in the summary table, per service: the ones a customer asks about first.
HEADLINE = ("availability", "processing_time", "peak_per_minute", "incident_resolution_p1",
            "incident_resolution_p2", "incident_resolution_p3", "messages_peak_per_second",
            "messages_within_24h", "berichtpresentatie_within_200ms", "notifications_out_of_order")


@click.command("demo")
@click.option("--month", default="2026-04", show_default=True, help="Month to simulate (YYYY-MM).")
@click.option("--scale", type=float, default=0.001, show_default=True,
              help="Fraction of production volume (1.0 ≈ 1.5 M DigiD authentications a day).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("sno-demo"),
              show_default=True, help="Folder for the events, the store and the reports (emptied first).")
@one_line_errors
def command(month: str, scale: float, seed: int, out_dir: Path) -> None:
    """Simulate a month, replay it end to end, and write the monthly reports."""
    from sno.core.calendar import Month
    from sno.core.catalogue import load_catalogue
    from sno.replay import replay
    from sno.report.load import load_month
    from sno.runtime.store import open_store
    from sno.simulate import simulate

    started = time.monotonic()
    the_month = Month.parse(month)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    events = out_dir / f"events-{month}.jsonl.gz"
    store = out_dir / "store"

    click.echo(f"1/3 simulating {month} at scale {scale} → {events}", err=True)
    import gzip

    with gzip.open(events, "wb") as sink:
        sim = simulate(the_month, SERVICES, scale=scale, seed=seed, out=sink)
    click.echo(f"    {sim.lines:,} lines ({sim.valid_events:,} events, {sim.duplicates} duplicates, "
               f"{sim.invalid_lines} invalid)", err=True)

    click.echo("2/3 replaying through the broker, the Faust worker and ClickHouse", err=True)
    summary = replay([str(events)], store=store, progress=sys.stderr.isatty())
    click.echo("    " + summary.render().replace("\n", "\n    "), err=True)

    click.echo("3/3 judging the month and writing the reports", err=True)
    catalogue = load_catalogue()
    written: list[Path] = []
    with open_store(store=store) as st:
        months = {s: load_month(st, s, "production", the_month, catalogue) for s in SERVICES}
        written = _write_reports(months, out_dir, the_month)
    reports = {s: m.report for s, m in months.items()}

    click.echo("")
    click.echo(f"{'service':<16} {'KPI':<34} {'value':>18} {'norm':>18}  status")
    for service, report in reports.items():
        for kpi_id in HEADLINE:
            kpi = report.kpis.get(kpi_id)
            if kpi is None:
                continue
            value, norm = _fmt(kpi.value, kpi.unit), _fmt(kpi.norm, kpi.unit)
            click.echo(f"{service:<16} {kpi_id:<34} {value:>18} {norm:>18}  {kpi.status}")
    click.echo("")
    for path in written:
        click.echo(f"report: {path.resolve()}")
    click.echo(f"store:  {store.resolve()}   (sno report --store {store} --service digid --month {month})")
    click.echo(f"events: {events.resolve()}")
    click.echo(f"done in {time.monotonic() - started:.0f} s")


def _write_reports(months: dict[str, Any], out_dir: Path, month: object) -> list[Path]:
    """The Klantrapportage of each service as HTML (self-contained) and JSON."""
    from sno.report.render import render_month

    written = []
    for service, month_report in months.items():
        for fmt, suffix in (("html", "html"), ("json", "json")):
            path = out_dir / f"report-{service}-{month}.{suffix}"
            path.write_text(render_month(month_report, fmt), encoding="utf-8")
            written.append(path)
    return written


def _fmt(value: object, unit: str | None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}" if unit and unit != "%" else (f"{text} %" if unit == "%" else text)

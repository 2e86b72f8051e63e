"""Writing the Klantrapportage (R23) as JSON, Markdown, CSV and self-contained HTML, and the year overview.

JSON is the contract (docs/interfaces.md): ``Report.model_dump(mode="json")`` and nothing else, so a reader
can recompute every verdict from it. The other formats present the same document for people: Markdown and
CSV for e-mail and spreadsheets, HTML with charts. None of them computes a figure of its own beyond the
per-day breakdown the charts draw.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sno.core.calendar import Month
from sno.core.kpi import Kpi, Report
from sno.report import charts
from sno.report.load import MonthReport, YearOverview
from sno.report.names import SECTIONS, kpi_name

__all__ = ["FORMATS", "public_report", "render_month", "render_year"]

Format = Literal["json", "markdown", "html", "csv"]
FORMATS: tuple[Format, ...] = ("json", "markdown", "html", "csv")

#: Free-text keys that explain individual incidents and outages; a public report leaves them out (R23).
PRIVATE_KEYS = frozenset({"title", "description"})
_CORE_KEYS = ("value", "norm", "unit", "status")

#: Item columns per KPI, in reading order; KPIs not listed show every key in first-seen order.
ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "availability": (
        "kind",
        "id",
        "start",
        "end",
        "cause",
        "function",
        "maintenance_kind",
        "status",
        "component",
        "announced_at",
        "hours",
        "unavailable_hours",
        "maintenance_hours",
        "counted",
        "why",
        "title",
    ),
    "incident_resolution": (
        "id",
        "detected_at",
        "resolved_at",
        "hours",
        "basis",
        "target_hours",
        "within",
        "title",
    ),
    "incidents_open": ("id", "priority", "detected_at", "elapsed_hours", "title"),
}
HEADERS = {
    "hours": "counted hours",
    "unavailable_hours": "unavailable hours (U)",
    "maintenance_hours": "maintenance hours (M)",
    "target_hours": "target hours",
    "elapsed_hours": "elapsed hours",
    "maintenance_kind": "maintenance",
    "afnemer_id": "afnemer",
}


# --- the public version ---------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in PRIVATE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def public_report(report: Report) -> Report:
    """The public Klantrapportage: titles and descriptions of individual incidents and outages left out,
    and nothing else (R23). Every figure and verdict stays as it is."""
    data = report.model_dump(mode="json")
    data["kpis"] = {
        k: {**v, "items": _strip(v["items"])} if "items" in v else v for k, v in data["kpis"].items()
    }
    return Report.model_validate(data)


# --- shared presentation helpers ------------------------------------------------------------------------


_INSTANT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::00(?:\.0+)?)?(:\d{2}(?:\.\d+)?)?([+-]\d{2}:\d{2}|Z)$"
)


def _instant(text: str) -> str:
    """A local instant as people read it (R1): date, time and offset, seconds only when not zero."""
    m = _INSTANT.match(text)
    if m is None:
        return text
    day, hm, sec, offset = m.groups()
    return f"{day} {hm}{sec or ''} {offset}"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:,.0f}"
    return "" if value is None else str(value)


def show(value: Any, unit: str | None = None) -> str:
    """A value as people read it: grouped thousands, no trailing zeros, the unit after it."""
    if value is None:
        return "–"
    text = _number(value)
    if unit == "%":
        return f"{text} %"
    return text


def _extras(kpi: Kpi) -> dict[str, Any]:
    return dict(kpi.model_extra or {})


def details(kpi: Kpi) -> str:
    """The KPI's extra scalar keys (counts, hours, peak instant …) as one line; lists and nested
    tables are shown separately."""
    parts = []
    for key, value in _extras(kpi).items():
        if key == "items" or (isinstance(value, list) and value and isinstance(value[0], dict)):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_number(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) if value else "none"
        else:
            value = _number(value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _item_key(kpi_id: str) -> str:
    if kpi_id == "availability_website":
        return "availability"
    return "incident_resolution" if kpi_id.startswith("incident_resolution_") else kpi_id


def item_table(kpi_id: str, items: list[dict[str, Any]]) -> tuple[list[str], list[str], list[list[str]]]:
    """Columns (keys), their headers and the rows of a KPI's items; columns that are empty in every row
    are left out, so a public report simply has no title column."""
    preferred = ITEM_COLUMNS.get(_item_key(kpi_id))
    keys: list[str] = []
    for item in items:
        for k in item:
            if k not in keys:
                keys.append(k)
    if preferred is not None:
        keys = [k for k in preferred if k in keys] + [k for k in keys if k not in preferred]
    keys = [k for k in keys if any(item.get(k) not in (None, "") for item in items)]
    rows = []
    for item in items:
        row = []
        for k in keys:
            v = item.get(k)
            if isinstance(v, list):
                v = ", ".join(str(x) for x in v)
            elif isinstance(v, dict):
                v = ", ".join(f"{a} {_number(b)}" for a, b in v.items())
            row.append(_number(v) if not isinstance(v, str) else _instant(v))
        rows.append(row)
    return keys, [HEADERS.get(k, k.replace("_", " ")) for k in keys], rows


def sections(report: Report) -> list[dict[str, Any]]:
    """The report's KPIs grouped by section in reading order (R23), each with its items tables."""
    out = []
    for key, heading in SECTIONS.items():
        kpis = []
        for kpi_id, kpi in report.kpis.items():
            name = kpi_name(kpi_id)
            if name.section != key:
                continue
            items = _extras(kpi).get("items")
            table = item_table(kpi_id, items) if items else None
            kpis.append({"id": kpi_id, "name": name, "kpi": kpi, "details": details(kpi), "table": table})
        if kpis:
            out.append({"key": key, "heading": heading, "kpis": kpis})
    return out


def summary(report: Report) -> dict[str, int]:
    counts = {"met": 0, "breached": 0, "no_data": 0, "info": 0}
    for kpi in report.kpis.values():
        counts[kpi.status] += 1
    return counts


def _md(value: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["show"] = show
    env.globals["kpi_name"] = kpi_name
    return env


# --- the month ------------------------------------------------------------------------------------------

SERVICE_NAMES = {"digid": "DigiD", "digid-machtigen": "DigiD Machtigen", "mijnoverheid": "MijnOverheid"}


def _month_context(month: MonthReport, public: bool) -> dict[str, Any]:
    report = month.report
    return {
        "r": report,
        "service_name": SERVICE_NAMES.get(report.service, report.service),
        "public": public,
        "sections": sections(report),
        "summary": summary(report),
    }


def _csv_month(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "record",
            "service",
            "environment",
            "month",
            "sno_version",
            "kpi",
            "naam",
            "value",
            "norm",
            "unit",
            "status",
            "details",
        ]
    )
    base = [report.service, report.environment, report.month, report.sno_version or ""]
    for kpi_id, kpi in report.kpis.items():
        extra = _extras(kpi)
        w.writerow(
            [
                "kpi",
                *base,
                kpi_id,
                kpi_name(kpi_id).dutch,
                "" if kpi.value is None else kpi.value,
                "" if kpi.norm is None else kpi.norm,
                kpi.unit or "",
                kpi.status,
                orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode() if extra else "",
            ]
        )
    for nm in report.norms_not_measured:
        w.writerow(["not_measured", *base, "", nm.norm, "", "", "", nm.status, nm.stated])
    for note in report.notes:
        w.writerow(["note", *base, "", "", "", "", "", "", note])
    return buf.getvalue()


def _html_month(month: MonthReport, public: bool) -> str:
    report = month.report
    kpis = report.kpis
    svg: dict[str, Markup] = {}
    m = Month.parse(report.month)
    if month.days:
        avail = kpis.get("availability")
        if avail is not None and any(d.window_hours for d in month.days):
            svg["availability"] = Markup(
                charts.availability_chart(month.days, month.bands, avail.norm, m.start, m.end)
            )
        if "volume" in kpis and any(d.volume for d in month.days):
            unit_name = "transactions" if report.service == "digid-machtigen" else "authentications"
            peak = kpis.get("peak_per_minute")
            svg["volume"] = Markup(charts.volume_chart(month.days, peak.norm if peak else None, unit_name))
            processing = kpis.get("processing_time")
            if processing is not None and any(d.processing_count for d in month.days):
                svg["processing"] = Markup(
                    charts.share_chart(
                        month.days, processing.norm, "Processing-time share per day against the norm"
                    )
                )
        if any(d.messages_offered for d in month.days):
            svg["messages"] = Markup(charts.messages_chart(month.days))
    clocks = []
    for p in (1, 2, 3):
        k = kpis.get(f"incident_resolution_p{p}")
        for item in (_extras(k).get("items") or []) if k is not None else []:
            clocks.append({**item, "priority": f"P{p}"})
    if clocks:
        svg["incidents"] = Markup(charts.incident_chart(clocks))
    return _env().get_template("month.html.j2").render(**_month_context(month, public), charts=svg)


def render_month(month: MonthReport, fmt: Format, *, public: bool = False) -> str:
    """The month's report in one format; ``public`` leaves out incident and outage titles (R23)."""
    if public:
        month = MonthReport(report=public_report(month.report), days=month.days, bands=month.bands)
    report = month.report
    if fmt == "json":
        return orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        return _csv_month(report)
    if fmt == "markdown":
        return _env().get_template("month.md.j2").render(**_month_context(month, public))
    if fmt == "html":
        return _html_month(month, public)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- the year -------------------------------------------------------------------------------------------

STATUS_MARK = {"met": "✓ met", "breached": "✗ breached", "no_data": "– no data", "info": "info"}


def _year_rows(overview: YearOverview) -> Iterable[dict[str, Any]]:
    for kpi_id, cells in overview.kpis.items():
        yield {"id": kpi_id, "name": kpi_name(kpi_id), "cells": [cells[m] for m in overview.months]}


def render_year(overview: YearOverview, fmt: Format) -> str:
    """The year overview: every month's status per KPI in one table (R23), in any of the formats."""
    if fmt == "json":
        return orjson.dumps(overview.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            [
                "service",
                "environment",
                "month",
                "sno_version",
                "source",
                "kpi",
                "naam",
                "value",
                "norm",
                "unit",
                "status",
            ]
        )
        for kpi_id, cells in overview.kpis.items():
            for m in overview.months:
                c = cells[m]
                w.writerow(
                    [
                        overview.service,
                        overview.environment,
                        m,
                        overview.sno_versions.get(m) or "",
                        overview.sources[m],
                        kpi_id,
                        kpi_name(kpi_id).dutch,
                        "" if c.value is None else c.value,
                        "" if c.norm is None else c.norm,
                        c.unit or "",
                        c.status,
                    ]
                )
        return buf.getvalue()
    context = {
        "o": overview,
        "service_name": SERVICE_NAMES.get(overview.service, overview.service),
        "rows": list(_year_rows(overview)),
        "mark": STATUS_MARK,
        "short": {m: m[5:] for m in overview.months},
        "notes": sorted({n for notes in overview.notes.values() for n in notes}),
    }
    if fmt == "markdown":
        return _env().get_template("year.md.j2").render(**context)
    if fmt == "html":
        return _env().get_template("year.html.j2").render(**context)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

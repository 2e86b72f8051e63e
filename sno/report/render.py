"""Writing the Klantrapportage (R23, R24) as JSON, Markdown, CSV and self-contained HTML (and, through
``sno.report.pdf``, PDF), and the year overview.

JSON is the contract (docs/interfaces.md): ``Report.model_dump(mode="json")`` and nothing else, so a reader
can recompute every verdict from it; it is the same in every language. The other formats present the same
document for people, in the language chosen (Dutch by default, the language of the Klantrapportage), with
every word, number and date from one message catalogue (``sno.report.i18n``). None of them computes a
figure of its own beyond the per-day breakdown the charts draw.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sno.core.calendar import Month
from sno.core.kpi import Kpi, Report
from sno.core.rules.disruptions import PRIVATE_DISRUPTION_KEYS
from sno.core.rules.mijnoverheid import afnemer_months, not_all_processed
from sno.report import charts
from sno.report.i18n import Messages, messages
from sno.report.load import MonthReport, YearCell, YearOverview
from sno.report.names import SECTIONS, SERVICE_NAMES, section_of

__all__ = ["FORMATS", "ddos_left_out", "public_report", "render_month", "render_year"]

Format = Literal["json", "markdown", "html", "csv"]
FORMATS: tuple[Format, ...] = ("json", "markdown", "html", "csv")

#: Free-text keys that explain individual incidents and outages; a public report leaves them out (R23).
PRIVATE_KEYS = frozenset({"title", "description"})

#: Table columns: (item key, header key or None for the item key's own, how the cell is shown).
Column = tuple[str, str | None, str]

#: How an item key's cells are shown wherever a table has it, by the way of showing (``Cells.cell``).
_SHOWN_AS: dict[str, tuple[str, ...]] = {
    "id": ("id", "afnemer_id"),
    "period": ("period",),
    "text": ("priority", "title", "function"),
    "value": ("cause", "ddos", "counted", "component", "within", "notified_within_30_min"),
    "sentence": ("why",),
    "instant": ("announced_at", "detected_at", "resolved_at"),
    "date": ("date", "busiest_date"),
    "number": (
        "elapsed_hours",
        "maintenance_hours",
        "unavailable_hours",
        "offered",
        "processed",
        "rejected",
        "days",
        "busiest_offered",
        "days_not_all_processed",
    ),
    "hours": ("resolution_hours", "target_hours"),
    "maintenance_kind": ("maintenance_kind",),
}
_KIND_OF = {key: kind for kind, keys in _SHOWN_AS.items() for key in keys}
#: Item keys headed by another catalogue key than their own.
_HEADER_OF = {
    "maintenance_kind": "kind",
    "maintenance_hours": "col_m",
    "unavailable_hours": "col_u",
    "resolution_hours": "col_resolution",
    "target_hours": "col_target",
    "notified_within_30_min": "col_notice",
}


def _columns(keys: str, **own: tuple[str | None, str]) -> tuple[Column, ...]:
    """A table's columns in the order of ``keys``: each shown as everywhere, or as ``own`` says where the
    key means something of this table's own (``hours`` is U in an outage's table, the resolution time in
    an incident's)."""
    return tuple((k, *own[k]) if k in own else (k, _HEADER_OF.get(k), _KIND_OF[k]) for k in keys.split())


OUTAGE_COLUMNS = _columns(
    "id period cause ddos function hours counted why title", hours=("col_u", "number")
)
MAINTENANCE_COLUMNS = _columns(
    "id maintenance_kind component period announced_at maintenance_hours unavailable_hours why"
)
INCIDENT_COLUMNS = _columns(
    "id detected_at resolved_at hours target_hours within title", hours=("col_resolution", "hours")
)
OPEN_COLUMNS = _columns("id priority detected_at elapsed_hours title")
DISRUPTION_INCIDENT_COLUMNS = _columns(
    "id priority detected_at resolved_at resolution_hours target_hours within notified_within_30_min"
)
#: R23's daily counts as people read them: one row per afnemer over the month, and in full only the days
#: on which not every message offered was processed (CSV and JSON keep every day and afnemer).
AFNEMER_MONTH_COLUMNS = _columns(
    "afnemer_id days offered processed rejected busiest_date busiest_offered days_not_all_processed"
)
AFNEMER_DAY_COLUMNS = _columns("date afnemer_id offered processed rejected")


# --- the public version ---------------------------------------------------------------------------------


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in PRIVATE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def public_report(report: Report) -> Report:
    """The public Klantrapportage: titles, descriptions and analyses of individual incidents and outages
    left out, and nothing else (R23, R24). Every figure, verdict and disruption timeline stays."""
    data = report.model_dump(mode="json")
    data["kpis"] = {
        k: {**v, "items": _strip(v["items"])} if "items" in v else v for k, v in data["kpis"].items()
    }
    data["disruptions"] = [
        {k: v for k, v in d.items() if k not in PRIVATE_DISRUPTION_KEYS} for d in data["disruptions"]
    ]
    return Report.model_validate(data)


# --- cells --------------------------------------------------------------------------------------------


class Cells:
    """Turns report values into the words and numbers of one language (the catalogue's formats)."""

    def __init__(self, m: Messages, year: int) -> None:
        self.m = m
        self.year = year

    def cell(self, kind: str, item: dict[str, Any], key: str) -> str:
        m = self.m
        if kind == "period":
            if item.get("start") in (None, "") and item.get("end") in (None, ""):
                return ""
            return m.period(item.get("start"), item.get("end"), self.year)
        value = item.get(key)
        if value is None or value == "":
            return ""
        if kind == "instant":
            return m.when(value, self.year)
        if kind == "date":
            from datetime import date

            return m.date(date.fromisoformat(str(value)))
        if kind == "number":
            return m.number(value)
        if kind == "hours":
            return f"{m.number(value)} {m.t('hours_unit')}" if not isinstance(value, bool) else ""
        if kind == "sentence":
            return m.sentence(str(value))
        if kind == "maintenance_kind":  # planned / emergency, and cancelled when it was (R9)
            status = item.get("status")
            return m.value(value) + (f", {m.value(status)}" if status == "cancelled" else "")
        if kind == "value":
            return m.value(value)
        return self.generic(value)

    def generic(self, value: Any) -> str:
        """Any value of an item or detail: instants, numbers, enumerations, lists and small tables."""
        m = self.m
        if value is None:
            return "–"
        if isinstance(value, bool):
            return m.value(value)
        if isinstance(value, int | float):
            return m.number(value)
        if isinstance(value, list):
            return ", ".join(self.generic(v) for v in value) if value else m.t("none")
        if isinstance(value, dict):
            return ", ".join(f"{m.value(k)} {self.generic(v)}" for k, v in value.items())
        text = str(value)
        if _LOOKS_LIKE_INSTANT.match(text):
            return m.when(text, self.year)
        if _LOOKS_LIKE_DATE.match(text):
            from datetime import date

            return m.date(date.fromisoformat(text))
        return m.value(text)


_LOOKS_LIKE_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_LOOKS_LIKE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _table(cells: Cells, items: list[dict[str, Any]], columns: Iterable[Column]) -> dict[str, Any] | None:
    """Headers and rows of a list of items; columns empty in every row are left out, so a public report
    simply has no title column."""
    if not items:
        return None
    m = cells.m
    kept = []
    for key, header, kind in columns:
        rows = [cells.cell(kind, item, key) for item in items]
        if any(rows):
            label = m.t(header) if header in m.data["text"] else m.key(header or key)
            kept.append((label, rows, kind))
    if not kept:
        return None
    return {
        "title": None,
        "note": None,
        "headers": [label for label, _, _ in kept],
        "classes": [_CELL_CLASS.get(kind, "") for _, _, kind in kept],
        "numeric": [kind in ("number", "hours") for _, _, kind in kept],
        "rows": [list(r) for r in zip(*(rows for _, rows, _ in kept), strict=True)],
    }


#: The HTML class of a column by how its cells are shown: numbers right-aligned, instants kept on one line,
#: sentences given room to wrap.
_CELL_CLASS = {
    "number": "num",
    "hours": "num",
    "id": "nowrap",
    "instant": "nowrap",
    "date": "nowrap",
    "period": "nowrap",
    "sentence": "wide",
}


def _generic_columns(items: list[dict[str, Any]]) -> list[Column]:
    keys: list[str] = []
    for item in items:
        for k in item:
            if k not in keys:
                keys.append(k)
    return [(k, None, "generic") for k in keys]


def _extras(kpi: Kpi) -> dict[str, Any]:
    return dict(kpi.model_extra or {})


def _details(cells: Cells, kpi: Kpi) -> list[tuple[str, str]]:
    """The KPI's extra scalar keys (counts, hours, peak instant …) as label and value; lists of items are
    shown as tables instead."""
    m = cells.m
    out = []
    for key, value in _extras(kpi).items():
        if key == "items" or (isinstance(value, list) and value and isinstance(value[0], dict)):
            continue
        if key == "norm_comparison":  # shown with the norm itself (≥ 99,5 %)
            continue
        if key == "why":
            out.append((m.key(key), m.sentence(str(value))))
        elif key in ("basis", "comparison"):
            out.append((m.key(key), m.value(value)))
        else:
            out.append((m.key(key), cells.generic(value)))
    return out


def _kpi_tables(cells: Cells, kpi_id: str, kpi: Kpi) -> list[dict[str, Any]]:
    """The KPI's items as one or more tables; availability splits outages from maintenance."""
    items = _extras(kpi).get("items") or []
    if not items:
        return []
    m = cells.m
    if kpi_id in ("availability", "availability_website"):
        out = []
        outages = [i for i in items if i.get("kind") == "outage"]
        maint = [i for i in items if i.get("kind") == "maintenance"]
        for title, rows, columns in (
            (m.t("outages"), outages, OUTAGE_COLUMNS),
            (m.t("maintenance"), maint, MAINTENANCE_COLUMNS),
        ):
            table = _table(cells, rows, columns)
            if table is not None:
                out.append({**table, "title": title})
        return out
    if kpi_id == "messages_per_afnemer":
        return _afnemer_tables(cells, items)
    if kpi_id.startswith("incident_resolution_"):
        columns: Iterable[Column] = INCIDENT_COLUMNS
    elif kpi_id == "incidents_open":
        columns = OPEN_COLUMNS
    else:
        columns = _generic_columns(items)
    table = _table(cells, items, columns)
    return [{**table, "title": None}] if table is not None else []


def _afnemer_tables(cells: Cells, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """R23's daily counts per afnemer for people: a row per afnemer over the month (``afnemer_months``),
    then in full the days on which not every message offered was processed (``not_all_processed``), and a
    line saying that every day's figures are in the CSV and JSON. A table of every day and afnemer runs to
    afnemers × days rows (46 A4 pages at the demo month's 257 afnemers); these to afnemers + those days.
    Both facts are the core's (sno/core/rules/mijnoverheid.py): nothing is counted here."""
    m = cells.m
    months = _table(cells, [asdict(a) for a in afnemer_months(items)], AFNEMER_MONTH_COLUMNS)
    missed = [i for i in items if not_all_processed(i)]
    days = _table(cells, missed, AFNEMER_DAY_COLUMNS) or {**_NO_ROWS}
    elsewhere = m.plural("afnemer_days_elsewhere", len(items), rows=m.number(len(items)))
    note = elsewhere if missed else f"{m.t('afnemer_days_missed_none')} {elsewhere}"
    return [
        *([{**months, "title": m.t("afnemer_month")}] if months is not None else []),
        {**days, "title": m.t("afnemer_days_missed"), "note": note},
    ]


#: A table without rows: its title and note are shown, no header.
_NO_ROWS: dict[str, Any] = {
    "title": None,
    "note": None,
    "headers": [],
    "classes": [],
    "numeric": [],
    "rows": [],
}


def ddos_left_out(report: Report) -> list[str]:
    """The ids of the month's DDoS outages (``ddos: true``, marked so in the availability items): R24
    writes no analysis for them, though they count in availability as their cause says (R8)."""
    ids: list[str] = []
    for kpi_id in ("availability", "availability_website"):
        kpi = report.kpis.get(kpi_id)
        for item in (_extras(kpi).get("items") or []) if kpi is not None else []:
            if item.get("kind") == "outage" and item.get("ddos") and item["id"] not in ids:
                ids.append(str(item["id"]))
    return ids


def _ddos_line(m: Messages, report: Report) -> str | None:
    """The sentence saying which DDoS outages the Verstoringsanalyse leaves out (R24), if any were."""
    ids = ddos_left_out(report)
    return m.plural("ddos_left_out", len(ids), ids=", ".join(ids)) if ids else None


def _disruptions(cells: Cells, report: Report) -> list[dict[str, Any]]:
    """The Verstoringsanalyse (R24) as people read it: one block per disruption."""
    m = cells.m
    out = []
    for n, d in enumerate(report.disruptions, start=1):
        facts = [
            (m.t("outage_ids"), ", ".join(d["outage_ids"])),
            (m.t("counted_hours"), f"{m.number(d['counted_hours'])} {m.t('hours_unit')}"),
        ]
        if d.get("availability_effect") is not None:
            facts.append(
                (
                    m.t("effect"),
                    m.t(
                        "effect_value", value=m.number(d["availability_effect"]), kpi=m.kpi(d["kpi"]).lower()
                    ),
                )
            )
        cause = m.value(d["cause"]) if d.get("cause") else "–"
        facts.append((m.t("cause"), cause))
        if d.get("excluded"):
            facts.append((m.t("excluded"), m.t("yes")))
        facts.append((m.t("touched_maintenance"), ", ".join(d["maintenance_ids"]) or m.t("none")))
        if d.get("titles"):
            facts.append((m.t("titles"), "; ".join(d["titles"])))
        out.append(
            {
                "title": m.t("disruption", n=n),
                "period": m.period(d["start"], d["end"], cells.year),
                "facts": facts,
                "incidents": _table(cells, d["incidents"], DISRUPTION_INCIDENT_COLUMNS),
                "analysis": d.get("analysis"),
            }
        )
    return out


def _sections(cells: Cells, report: Report) -> list[dict[str, Any]]:
    """The report's KPIs grouped by section in reading order (R23), each with its details and tables."""
    m = cells.m
    out = []
    for key in SECTIONS:
        kpis = []
        for kpi_id, kpi in report.kpis.items():
            if section_of(kpi_id) != key:
                continue
            kpis.append(
                {
                    "id": kpi_id,
                    "name": m.kpi(kpi_id),
                    "kpi": kpi,
                    "value": m.show(kpi.value, kpi.unit),
                    "norm": m.norm(kpi.norm, kpi.unit, kpi.norm_comparison),
                    "status": m.status(kpi.status),
                    "details": _details(cells, kpi),
                    "tables": _kpi_tables(cells, kpi_id, kpi),
                }
            )
        if kpis:
            out.append({"key": key, "heading": m.section(key), "kpis": kpis})
    return out


def summary(report: Report) -> dict[str, int]:
    counts = {"met": 0, "breached": 0, "no_data": 0, "info": 0}
    for kpi in report.kpis.values():
        counts[kpi.status] += 1
    return counts


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=])|^(\s*\d+)([.)])")


def _md(value: Any) -> str:
    """Text of the report in Markdown: every character Markdown or HTML would act on inside a line is
    escaped, so a title like ``<img src=x onerror=…>`` or ``[click](javascript:…)`` reads as the text it
    is (issue 17: no raw HTML passes through); line breaks are flattened (a table cell is one line)."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_start(value: Any) -> str:
    """As ``_md``, for text that starts a line or a list item: a leading ``#``, ``-``, ``+``, ``=`` or
    ``1.`` would make it a heading or a list, so it is escaped too."""
    escaped = _md(value)
    return _MD_LINE_START.sub(lambda g: f"{g[1]}\\{g[2]}" if g[2] is not None else f"{g[3]}\\{g[4]}", escaped)


def _md_block(value: Any) -> str:
    """A free-text paragraph (an owner's analysis) in Markdown: escaped as ``_md_start``, paragraphs kept."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", str(value)) if p.strip()]
    return "\n\n".join(_md_start(p) for p in paragraphs)


def _css_string(text: str) -> Markup:
    """A CSS string literal (for the PDF's page header): quotes and backslashes escaped, and ``<`` so the
    text cannot end the style element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return Markup(f'"{escaped}"')


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
    env.filters["md_block"] = _md_block
    env.filters["md_start"] = _md_start
    env.filters["css_string"] = _css_string
    return env


# --- the month ------------------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sno-kpi")
    except PackageNotFoundError:
        return "dev"


def _month_context(month: MonthReport, public: bool, lang: str) -> dict[str, Any]:
    from datetime import date

    report = month.report
    m = messages(lang)
    cells = Cells(m, Month.parse(report.month).year)
    service_name = SERVICE_NAMES.get(report.service, report.service)
    due = m.date(date.fromisoformat(report.due_date)) if report.due_date else "–"
    return {
        "r": report,
        "m": m,
        "lang": lang,
        "service_name": service_name,
        "month_name": m.month(report.month),
        "environment": m.environment(report.environment),
        "version": report.sno_version or m.t("sno_none"),
        "due": due,
        "public": public,
        "sections": _sections(cells, report),
        "summary": summary(report),
        "notes": [m.sentence(n) for n in report.notes],
        "overview": [
            {
                "id": kpi_id,
                "name": m.kpi(kpi_id),
                "value": m.show(kpi.value, kpi.unit),
                "norm": m.norm(kpi.norm, kpi.unit, kpi.norm_comparison),
                "status": kpi.status,
                "status_text": m.status(kpi.status),
            }
            for kpi_id, kpi in report.kpis.items()
        ],
        "disruptions": _disruptions(cells, report),
        "ddos_line": _ddos_line(m, report),
        "made_by": m.t("made_by", version=_version()),
    }


#: The CSV columns that say whose month a row is about, in the month's and the year's files alike.
_CSV_WHERE = ("service", "environment", "month", "sno_version")


def _csv_kpi_header(lang: str) -> list[str]:
    """The CSV columns of one KPI's figure; its name column is named in the language chosen."""
    return ["kpi", "naam" if lang == "nl" else "name", "value", "norm", "unit", "status"]


def _csv_kpi(m: Messages, kpi_id: str, kpi: Kpi | YearCell) -> list[Any]:
    """One KPI's figure as CSV cells under ``_csv_kpi_header``: numbers as they are, nothing as empty."""
    value = "" if kpi.value is None else kpi.value
    return [kpi_id, m.kpi(kpi_id), value, "" if kpi.norm is None else kpi.norm, kpi.unit or "", kpi.status]


def _csv_month(report: Report, lang: str) -> str:
    """One row per KPI, norm not measured, note and disruption (R23, R24); numbers stay machine-readable
    (a point as decimal sign), the name column is in the language chosen."""
    m = messages(lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["record", *_CSV_WHERE, *_csv_kpi_header(lang), "details"])
    base = [report.service, report.environment, report.month, report.sno_version or ""]
    for kpi_id, kpi in report.kpis.items():
        extra = _extras(kpi)
        details = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode() if extra else ""
        w.writerow(["kpi", *base, *_csv_kpi(m, kpi_id, kpi), details])
    for nm in report.norms_not_measured:
        w.writerow(["not_measured", *base, "", nm.norm, "", "", "", nm.status, nm.stated])
    for note in report.notes:
        w.writerow(["note", *base, "", "", "", "", "", "", m.sentence(note)])
    w.writerow(["due_date", *base, "", "", report.due_date or "", "", "", "", ""])
    ddos = ddos_left_out(report)
    if ddos:
        line = _ddos_line(m, report)
        w.writerow(["disruptions_left_out", *base, "", m.t("disruptions"), len(ddos), "", "", "", line])
    for d in report.disruptions:
        w.writerow(
            [
                "disruption",
                *base,
                d["kpi"],
                m.t("disruptions"),
                d["counted_hours"],
                "",
                "h",
                "",
                orjson.dumps(
                    {k: v for k, v in d.items() if k != "kpi"}, option=orjson.OPT_SORT_KEYS
                ).decode(),
            ]
        )
    return buf.getvalue()


def month_charts(month: MonthReport, lang: str) -> dict[str, Markup]:
    """The month's inline SVG charts, labelled in the language chosen (R23)."""
    report = month.report
    m = messages(lang)
    kpis = report.kpis
    svg: dict[str, Markup] = {}
    mo = Month.parse(report.month)
    if month.days:
        avail = kpis.get("availability")
        if avail is not None and any(d.window_hours for d in month.days):
            svg["availability"] = Markup(
                charts.availability_chart(m, month.days, month.bands, avail.norm, mo.start, mo.end)
            )
        if "volume" in kpis and any(d.volume for d in month.days):
            unit_name = m.t("transactions" if report.service == "digid-machtigen" else "authentications")
            peak = kpis.get("peak_per_minute")
            svg["volume"] = Markup(charts.volume_chart(m, month.days, peak.norm if peak else None, unit_name))
            processing = kpis.get("processing_time")
            if processing is not None and any(d.processing_count for d in month.days):
                svg["processing"] = Markup(
                    charts.share_chart(m, month.days, processing.norm, m.t("chart_processing"))
                )
        if any(d.messages_offered for d in month.days):
            svg["messages"] = Markup(charts.messages_chart(m, month.days))
    clocks = []
    for p in (1, 2, 3):
        k = kpis.get(f"incident_resolution_p{p}")
        for item in (_extras(k).get("items") or []) if k is not None else []:
            clocks.append({**item, "priority": f"P{p}"})
    if clocks:
        svg["incidents"] = Markup(charts.incident_chart(m, clocks))
    return svg


def html_month(month: MonthReport, public: bool, lang: str, *, pdf: bool = False) -> str:
    """The month as one self-contained HTML page; ``pdf`` adds the A4 page rules, the running header
    (service, month, SNO version, due date) and page numbers for a PDF renderer."""
    context = _month_context(month, public, lang)
    m: Messages = context["m"]
    header = " · ".join(
        [
            f"{context['service_name']} {context['environment']}",
            context["month_name"],
            f"{m.t('sno_version')} {context['version']}",
            f"{m.t('due')} {context['due']}",
        ]
        + ([m.t("public_tag")] if public else [])
    )
    return (
        _env()
        .get_template("month.html.j2")
        .render(**context, charts=month_charts(month, lang), pdf=pdf, page_header=header)
    )


def _public_month(month: MonthReport, public: bool) -> MonthReport:
    if not public:
        return month
    return MonthReport(report=public_report(month.report), days=month.days, bands=month.bands)


def render_month(month: MonthReport, fmt: Format, *, public: bool = False, lang: str = "nl") -> str:
    """The month's report in one format and language; ``public`` leaves out incident and outage titles
    and analyses (R23, R24). JSON is the same in every language."""
    month = _public_month(month, public)
    report = month.report
    if fmt == "json":
        return orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        return _csv_month(report, lang)
    if fmt == "markdown":
        return _env().get_template("month.md.j2").render(**_month_context(month, public, lang))
    if fmt == "html":
        return html_month(month, public, lang)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- the year -------------------------------------------------------------------------------------------

STATUS_MARK = {"met": "✓", "breached": "✗", "no_data": "–", "info": "i"}


def _year_rows(overview: YearOverview, m: Messages) -> Iterable[dict[str, Any]]:
    for kpi_id, cells in overview.kpis.items():
        yield {"id": kpi_id, "name": m.kpi(kpi_id), "cells": [cells[mo] for mo in overview.months]}


def render_year(overview: YearOverview, fmt: Format, lang: str = "nl") -> str:
    """The year overview: every month's status per KPI in one table (R23), in any of the formats."""
    m = messages(lang)
    if fmt == "json":
        return orjson.dumps(overview.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([*_CSV_WHERE, "source", *_csv_kpi_header(lang)])
        for kpi_id, cells in overview.kpis.items():
            for mo in overview.months:
                where = [overview.service, overview.environment, mo, overview.sno_versions.get(mo) or ""]
                w.writerow([*where, overview.sources[mo], *_csv_kpi(m, kpi_id, cells[mo])])
        return buf.getvalue()
    show: Callable[[Any, str | None], str] = m.show
    context = {
        "o": overview,
        "m": m,
        "lang": lang,
        "service_name": SERVICE_NAMES.get(overview.service, overview.service),
        "environment": m.environment(overview.environment),
        "rows": list(_year_rows(overview, m)),
        "mark": {k: f"{v} {m.status(k)}" for k, v in STATUS_MARK.items()},
        "short": {mo: m.months_short[int(mo[5:7]) - 1] for mo in overview.months},
        "notes": sorted({m.sentence(n) for notes in overview.notes.values() for n in notes}),
        "show": show,
    }
    if fmt == "markdown":
        return _env().get_template("year.md.j2").render(**context)
    if fmt == "html":
        return _env().get_template("year.html.j2").render(**context)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

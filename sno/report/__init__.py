"""The monthly Klantrapportage (R23) and the year overview, read from the pipeline's ClickHouse tables.

``load`` judges a month with the core (``judge_month``) from the stored rollups and adds the per-day
figures its charts need; ``render`` writes JSON (the contract of docs/interfaces.md), Markdown, CSV and one
self-contained HTML file.
"""

from sno.report.load import (
    MonthReport,
    ReportArgumentError,
    YearOverview,
    check_arguments,
    load_month,
    load_year,
)
from sno.report.render import FORMATS, public_report, render_month, render_year

__all__ = [
    "FORMATS",
    "MonthReport",
    "ReportArgumentError",
    "YearOverview",
    "check_arguments",
    "load_month",
    "load_year",
    "public_report",
    "render_month",
    "render_year",
]

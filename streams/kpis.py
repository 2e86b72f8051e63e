"""Refreshing `sno_kpi_monthly` for the months that batches touched.

The judgement is the report's own (`sno.report.load.load_month`), so the table and `sno report` never
disagree. It is a derived table: rebuilt from the rollups at any time, so it needs no exactly-once care.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from sno.core.calendar import Month
from sno.core.catalogue import Catalogue, load_catalogue
from sno.core.kpi import Report
from sno.report.load import load_month
from sno.runtime.store import Store

COLUMNS = ("service", "environment", "month", "kpi", "value", "norm", "unit", "status", "count", "within",
           "sno_version", "extra", "computed_at")


_COLUMNS_OF_THEIR_OWN = ("value", "norm", "unit", "status", "count", "within")


@lru_cache(maxsize=1)
def _catalogue() -> Catalogue:
    return load_catalogue()


def kpi_rows(report: Report, computed_at: datetime) -> list[tuple[Any, ...]]:
    month = Month.parse(report.month).first_day
    rows = []
    for kpi_id, kpi in sorted(report.kpis.items()):
        data = kpi.model_dump(mode="json")
        extra = {k: v for k, v in data.items() if k not in _COLUMNS_OF_THEIR_OWN}
        value = kpi.value if isinstance(kpi.value, int | float) else None
        norm = kpi.norm if isinstance(kpi.norm, int | float) else None
        rows.append((report.service, report.environment, month, kpi_id,
                     None if value is None else float(value), None if norm is None else float(norm),
                     kpi.unit or "", kpi.status, _int(data.get("count")), _int(data.get("within")),
                     report.sno_version or "", orjson.dumps(extra).decode(), computed_at))
    return rows


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and value >= 0 else None


def refresh_monthly_kpis(store: Store, touched: Iterable[tuple[str, str, str]]) -> int:
    """Judge every touched (service, environment, month) and write its KPI rows; returns rows written."""
    catalogue = _catalogue()
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for service, environment, month in sorted(set(touched)):
        report = load_month(store, service, environment, Month.parse(month), catalogue, days=False).report
        rows += kpi_rows(report, now)
    store.insert("sno_kpi_monthly", rows, COLUMNS)
    return len(rows)

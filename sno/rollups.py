"""Reading the pipeline's tables back into the core's inputs (`MonthInputs`, `Snapshots`).

The report, the monthly KPI table and the tests all judge a month from what ClickHouse holds through
these two functions, so "the pipeline's numbers" and "the core's numbers" are one computation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.validate import Accepted, validate
from sno.core.buckets import FAMILIES, MonthInputs
from sno.core.calendar import TZ, Month
from sno.core.snapshots import Snapshots
from sno.runtime.store import Store

#: Snapshot kinds in the order they are fed to the core; forecasts by arrival time.
SNAPSHOT_KINDS = ("incident", "outage", "maintenance", "forecast")


def _time_column(name: str) -> str:
    return FAMILIES[name].keys[3]


def read_inputs(store: Store, *, service: str | None = None, environment: str | None = None,
                start: datetime | date | None = None, end: datetime | date | None = None,
                families: tuple[str, ...] | None = None) -> MonthInputs:
    """Sum every bucket row of the given scope (all of it when no scope is given)."""
    inputs = MonthInputs()
    for name in families or tuple(FAMILIES):
        family = FAMILIES[name]
        time_col = _time_column(name)
        keys = ", ".join(family.keys)
        sums = ", ".join(f"sum({v})" for v in family.values)
        where, params = _scope(service, environment, time_col, start, end, name)
        sql = f"SELECT {keys}, {sums} FROM sno_{name} {where} GROUP BY {keys}"
        n = len(family.keys)
        for row in store.query(sql, params):
            inputs.add(name, tuple(_aware(v) for v in row[:n]), row[n:])
    return inputs


Bound = datetime | date | None


def _scope(service: str | None, environment: str | None, time_col: str, start: Bound, end: Bound,
           name: str) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if service is not None:
        clauses.append("service = {service:String}")
        params["service"] = service
    if environment is not None:
        clauses.append("environment = {environment:String}")
        params["environment"] = environment
    is_day = FAMILIES[name].resolution == "day"
    kind = "Date" if is_day else "DateTime64(6, 'UTC')"
    for op, bound, value in ((">=", "start", start), ("<", "end", end)):
        if value is None:
            continue
        if is_day and isinstance(value, datetime):
            value = value.astimezone(TZ).date()  # day buckets are local dates (R1)
        clauses.append(f"{time_col} {op} {{{bound}:{kind}}}")
        params[bound] = value
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _aware(value: Any) -> Any:
    """ClickHouse returns DateTime('UTC') columns as naive datetimes; they are UTC instants."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def read_month_inputs(store: Store, service: str, environment: str, month: Month) -> MonthInputs:
    """The rows of one service, environment and month (R2: local month boundaries)."""
    return read_inputs(store, service=service, environment=environment, start=month.start, end=month.end)


def read_snapshots(store: Store, service: str | None = None) -> Snapshots:
    """Every stored snapshot and forecast, fed to the core in `updated_at` order (latest wins)."""
    snaps = Snapshots()
    where = "WHERE service = {service:String}" if service is not None else ""
    rows = store.query(
        f"SELECT DISTINCT kind, updated_at, payload FROM sno_snapshots {where} ORDER BY updated_at",
        {"service": service} if service is not None else {},
    )
    for _kind, _at, payload in rows:
        result = validate(payload.encode())
        if isinstance(result, Accepted):
            snaps.add(result.record)
    return snaps

"""The report JSON of docs/interfaces.md as pydantic models (R23).

The report is the product an auditor reads, so its shape is fixed here once: ``Report.model_dump(
mode="json")`` *is* the ``sno report --format json`` document. Floats are rounded to four decimals on the
way in, so no writer (JSON, Markdown, HTML, CSV) can show more precision than the contract allows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Status = Literal["met", "breached", "no_data", "info"]
#: How a value is held against its norm: ``ge`` at least (≥ 99,5 %), ``le`` at most (≤ 3 %), ``gt`` more
#: than (> 7,8), ``lt`` less than. A KPI with a norm carries it as ``norm_comparison`` (docs/interfaces.md).
Comparison = Literal["ge", "le", "gt", "lt"]
DECIMALS = 4


def rounded(value: Any) -> Any:
    """Round every float, also inside lists and dicts, to at most four decimals (docs/interfaces.md)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        r = round(value, DECIMALS)
        return 0.0 if r == 0 else r
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


class Kpi(BaseModel):
    """One KPI: measured value, norm, unit and verdict; rule-specific keys are kept as extras (R23)."""

    model_config = ConfigDict(extra="allow")

    value: float | int | None
    norm: float | int | None = None
    unit: str | None = None
    status: Status

    @model_validator(mode="before")
    @classmethod
    def _round(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: rounded(v) for k, v in data.items()}
        return data

    @property
    def norm_comparison(self) -> Comparison | None:
        """The norm's direction (``ge``, ``le``, ``gt``, ``lt``) as its rule judged it; None if no norm."""
        found = (self.model_extra or {}).get("norm_comparison")
        return found  # type: ignore[no-any-return]

    @model_validator(mode="after")
    def _no_data_has_no_value(self) -> Kpi:
        if self.status == "no_data" and self.value is not None:
            raise ValueError("a KPI with status no_data has value null")
        return self


class NotMeasured(BaseModel):
    """A norm no event can measure, reported as stated (section 8, R22)."""

    model_config = ConfigDict(extra="forbid")

    norm: str
    stated: str
    status: Literal["info"] = "info"


class Report(BaseModel):
    """The monthly compliance report of one service and environment (R23, docs/interfaces.md)."""

    model_config = ConfigDict(extra="forbid")

    service: str
    environment: str
    month: str
    sno_version: str | None
    kpis: dict[str, Kpi]
    norms_not_measured: list[NotMeasured] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    #: The last workday (R3) of the next month, ``YYYY-MM-DD``: the day the report is due (R23).
    due_date: str | None = None
    #: The Verstoringsanalyse (R24), one object per disruption in start order (sno/core/rules/disruptions).
    disruptions: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("disruptions", mode="before")
    @classmethod
    def _round_disruptions(cls, value: Any) -> Any:
        return rounded(value) if isinstance(value, list) else value


def judged(value: float | None, norm: float | None, op: Comparison, **extra: Any) -> Kpi:
    """A KPI judged against its norm: ``met`` when ``value op norm``; no value → ``no_data``, no norm →
    ``info``. A norm is reported with ``op`` beside it (``norm_comparison``), also when there is no value.

    The comparison is on the value rounded as reported, so a reader recomputing the verdict from the
    report always agrees with it.
    """
    unit = extra.pop("unit", None)
    if norm is not None:
        extra = {"norm_comparison": op, **extra}
    if value is None:
        return Kpi(value=None, norm=norm, unit=unit, status="no_data", **extra)
    if norm is None:
        return Kpi(value=value, norm=None, unit=unit, status="info", **extra)
    v = rounded(float(value)) if isinstance(value, float) else value
    ok = {"ge": v >= norm, "le": v <= norm, "gt": v > norm, "lt": v < norm}[op]
    return Kpi(value=value, norm=norm, unit=unit, status="met" if ok else "breached", **extra)


def info(value: float | int | None, unit: str | None = None, **extra: Any) -> Kpi:
    """A KPI without a norm (status ``info``), or ``no_data`` when there is no value."""
    return Kpi(value=value, norm=None, unit=unit, status="info" if value is not None else "no_data", **extra)


def no_data(norm: float | int | None = None, unit: str | None = None, **extra: Any) -> Kpi:
    """A KPI with nothing to judge (status ``no_data``, value null)."""
    return Kpi(value=None, norm=norm, unit=unit, status="no_data", **extra)


def share(within: int, count: int) -> float | None:
    """``within`` as a percentage of ``count``; None when there is nothing to count."""
    return None if count == 0 else within / count * 100.0


def within_share(within: int, count: int, norm: float | None, **extra: Any) -> Kpi:
    """The SNO's commonest KPI: the share of ``count`` things done ``within`` their limit, in %, judged
    at least ``norm`` (R11, R13, R14, R18, R20, R21); ``count`` and ``within`` stand beside it, so a reader
    can recompute the share, then whatever else the rule reports."""
    return judged(share(within, count), norm, "ge", unit="%", count=count, within=within, **extra)

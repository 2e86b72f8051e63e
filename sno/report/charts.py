"""Inline SVG charts for the HTML report (R23): drawn here, in Python, so the page needs no network and
no script at view time, and every norm line comes from the report itself, never from a constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from sno.report.i18n import Messages
from sno.report.load import Band, DayFigures

__all__ = ["availability_chart", "incident_chart", "messages_chart", "share_chart", "volume_chart"]

WIDTH = 880
LEFT, RIGHT, TOP = 64, 16, 14
COLORS = {
    "bar": "#2f6fb0",
    "bar_light": "#9dbfe3",
    "breach": "#c0392b",
    "norm": "#d35400",
    "grid": "#e3e7ec",
    "axis": "#5b6673",
    "maintenance": "#5d8fc9",
    "unavailable": "#c0392b",
    "excluded": "#a7b0ba",
    "ok": "#2e8b57",
    "rejected": "#c0392b",
}
FONT = 'font-family="Segoe UI, Helvetica, Arial, sans-serif"'


def _fmt(value: float, m: Messages | None = None) -> str:
    """Axis labels: thousands with a thin separator, decimals (in the language's sign) only where the
    scale needs them."""
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", "\u202f")
    if float(value).is_integer():
        return f"{value:.0f}"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", m.decimal) if m is not None else text


def _nice_step(span: float, ticks: int = 4) -> float:
    raw = span / max(ticks, 1)
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" {FONT} '
        f'font-size="11">' + "".join(body) + "</svg>"
    )


class _Frame:
    """A plot area with a linear y axis and one slot per day on the x axis."""

    def __init__(self, m: Messages, top: int, height: int, lo: float, hi: float, n: int) -> None:
        self.m = m
        self.top, self.height, self.lo, self.hi, self.n = top, height, lo, hi, max(n, 1)
        self.plot_w = WIDTH - LEFT - RIGHT

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.top + self.height - (v - self.lo) / (self.hi - self.lo) * self.height

    def slot(self, i: int) -> tuple[float, float]:
        w = self.plot_w / self.n
        return LEFT + i * w, w

    def grid(self, unit: str = "", step: float | None = None) -> list[str]:
        step = step or _nice_step(self.hi - self.lo)
        out = []
        v = math.ceil(self.lo / step) * step
        while v <= self.hi + 1e-9:
            y = self.y(v)
            out.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{COLORS["grid"]}"/>'
            )
            out.append(
                f'<text x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end" fill="{COLORS["axis"]}">'
                f"{escape(_fmt(v, self.m))}{escape(unit)}</text>"
            )
            v += step
        return out

    def day_labels(self, days: Sequence[date], y: float) -> list[str]:
        out = []
        for i, d in enumerate(days):
            if d.day == 1 or d.day % 5 == 0 or len(days) <= 10:
                x, w = self.slot(i)
                out.append(
                    f'<text x="{x + w / 2:.1f}" y="{y:.1f}" text-anchor="middle" fill="{COLORS["axis"]}">'
                    f"{d.day}</text>"
                )
        return out

    def hline(self, v: float, label: str) -> list[str]:
        y = self.y(v)
        return [
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLORS["norm"]}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>',
            # A white halo under the label, drawn as its own text: renderers without `paint-order`
            # (WeasyPrint) would otherwise paint the halo over the letters.
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#fff" '
            f'font-weight="600" stroke="#fff" stroke-width="3">{escape(label)}</text>',
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="{COLORS["norm"]}" '
            f'font-weight="600">{escape(label)}</text>',
        ]


def _legend(m: Messages, x: float, y: float, **entries: str) -> list[str]:
    """A legend row: for each colour of ``COLORS`` (by its name) a swatch and its catalogue text."""
    out = []
    for color_name, key in entries.items():
        color, text = COLORS[color_name], m.t(key)
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="11" height="11" rx="2" fill="{color}"/>')
        out.append(f'<text x="{x + 16:.1f}" y="{y:.1f}" fill="{COLORS["axis"]}">{escape(text)}</text>')
        x += 22 + 6.2 * len(text)
    return out


def availability_chart(
    m: Messages,
    days: Sequence[DayFigures],
    bands: Sequence[Band],
    norm: float | None,
    month_start: datetime,
    month_end: datetime,
) -> str:
    """Availability per local day (R6 over the day) against the monthly norm, and the month's timeline
    with counted unavailability, valid maintenance and excluded outages as bands (R6–R9)."""
    values = [d.availability for d in days]
    known = [v for v in values if v is not None]
    low = min([*known, *([norm] if norm is not None else []), 100.0])
    lo = max(0.0, 100.0 - max(1.0, (100.0 - low) * 1.25))
    frame = _Frame(m, TOP, 150, lo, 100.0, len(days))
    body = frame.grid("%")
    for i, (d, v) in enumerate(zip(days, values, strict=True)):
        x, w = frame.slot(i)
        if v is None:
            body.append(
                f'<rect x="{x + w * 0.15:.1f}" y="{frame.top + frame.height - 3}" '
                f'width="{w * 0.7:.1f}" height="3" '
                f'fill="{COLORS["excluded"]}"><title>{escape(m.date(d.day))}: {escape(m.t("no_window"))}'
                "</title></rect>"
            )
            continue
        color = COLORS["breach"] if norm is not None and round(v, 4) < norm else COLORS["bar"]
        y = frame.y(v)
        body.append(
            f'<rect x="{x + w * 0.15:.1f}" y="{y:.1f}" width="{w * 0.7:.1f}" '
            f'height="{frame.top + frame.height - y:.1f}" fill="{color}" rx="1.5">'
            f"<title>{escape(m.date(d.day))}: {m.number(v)} % ({escape(m.t('legend_unavailable'))} "
            f"{m.number(d.unavailable_hours, 2)} {m.t('hours_unit')}, {escape(m.t('legend_maintenance'))} "
            f"{m.number(d.maintenance_hours, 2)} {m.t('hours_unit')})</title></rect>"
        )
    if norm is not None:
        body += frame.hline(norm, m.t("legend_norm", value=f"{m.number(norm)} %"))
    body += frame.day_labels([d.day for d in days], frame.top + frame.height + 14)
    # The timeline: the whole month as one strip, bands at their real instants (R1: DST days differ).
    strip_y, strip_h = frame.top + frame.height + 26, 18
    total = (month_end - month_start).total_seconds() or 1.0
    body.append(
        f'<rect x="{LEFT}" y="{strip_y}" width="{frame.plot_w}" height="{strip_h}" fill="#eef5ee" '
        f'stroke="{COLORS["grid"]}"/>'
    )
    for b in bands:
        x0 = LEFT + (b.start - month_start).total_seconds() / total * frame.plot_w
        x1 = LEFT + (b.end - month_start).total_seconds() / total * frame.plot_w
        label = m.t(
            {
                "unavailable": "legend_unavailable",
                "maintenance": "legend_maintenance",
                "excluded": "legend_excluded",
            }[b.kind]
        )
        period = m.period(b.start.isoformat(), b.end.isoformat())
        body.append(
            f'<rect x="{x0:.1f}" y="{strip_y}" width="{max(x1 - x0, 1.5):.1f}" height="{strip_h}" '
            f'fill="{COLORS[b.kind]}"><title>{escape(label)}: {escape(period)}</title></rect>'
        )
    body.append(
        f'<text x="{LEFT - 6}" y="{strip_y + 13}" text-anchor="end" fill="{COLORS["axis"]}">'
        f"{escape(m.t('legend_timeline'))}</text>"
    )
    legend_y = strip_y + strip_h + 20
    body += _legend(
        m,
        LEFT,
        legend_y,
        bar="legend_per_day",
        breach="legend_below",
        unavailable="legend_unavailable",
        maintenance="legend_maintenance",
        excluded="legend_excluded",
    )
    return _svg(legend_y + 10, body, m.t("chart_availability"))


def volume_chart(m: Messages, days: Sequence[DayFigures], capacity: float | None, unit_name: str) -> str:
    """Daily volume, and each day's busiest minute against the capacity per minute (R15, R16)."""
    volumes = [d.volume or 0 for d in days]
    top_v = max([*volumes, 1])
    step = _nice_step(top_v)
    upper = math.ceil(top_v / step) * step
    f1 = _Frame(m, TOP + 6, 120, 0, upper, len(days))
    body = f1.grid(step=step)
    for i, (d, v) in enumerate(zip(days, volumes, strict=True)):
        x, w = f1.slot(i)
        y = f1.y(v)
        body.append(
            f'<rect x="{x + w * 0.15:.1f}" y="{y:.1f}" width="{w * 0.7:.1f}" '
            f'height="{f1.top + f1.height - y:.1f}" '
            f'fill="{COLORS["bar"]}" rx="1.5"><title>{escape(m.date(d.day))}: {m.number(v)} '
            f"{escape(unit_name)}</title></rect>"
        )
    body.append(
        f'<text x="{LEFT}" y="{TOP}" fill="{COLORS["axis"]}" '
        f'font-weight="600">{escape(m.t("per_day", unit=unit_name))}</text>'
    )
    peaks = [d.peak_per_minute or 0 for d in days]
    top_p = max([*peaks, *([capacity] if capacity else []), 1]) * 1.1
    step2 = _nice_step(top_p)
    upper2 = math.ceil(top_p / step2) * step2
    top2 = f1.top + f1.height + 40
    f2 = _Frame(m, top2, 110, 0, upper2, len(days))
    body += f2.grid(step=step2)
    body.append(
        f'<text x="{LEFT}" y="{top2 - 4}" fill="{COLORS["axis"]}" font-weight="600">'
        f"{escape(m.t('legend_busiest'))}</text>"
    )
    for i, (d, p) in enumerate(zip(days, peaks, strict=True)):
        x, w = f2.slot(i)
        over = capacity is not None and p > capacity
        y = f2.y(p)
        body.append(
            f'<rect x="{x + w * 0.3:.1f}" y="{y:.1f}" width="{w * 0.4:.1f}" '
            f'height="{f2.top + f2.height - y:.1f}" '
            f'fill="{COLORS["breach"] if over else COLORS["bar_light"]}" rx="1">'
            f"<title>{escape(m.date(d.day))}: {m.number(p)}; {escape(m.key('minutes_over'))} "
            f"{d.minutes_over}</title></rect>"
        )
    if capacity is not None:
        body += f2.hline(capacity, m.t("legend_capacity", value=m.number(capacity)))
    body += f2.day_labels([d.day for d in days], f2.top + f2.height + 14)
    return _svg(f2.top + f2.height + 22, body, m.t("chart_volume"))


def share_chart(m: Messages, days: Sequence[DayFigures], norm: float | None, label: str) -> str:
    """The share processed within the limit per day against the report's norm (R14, R16)."""
    shares = [d.processing_share for d in days]
    known = [s for s in shares if s is not None]
    low = min([*known, *([norm] if norm is not None else []), 100.0])
    lo = max(0.0, 100.0 - max(1.0, (100.0 - low) * 1.25))
    frame = _Frame(m, TOP, 150, lo, 100.0, len(days))
    body = frame.grid("%")
    points = []
    for i, (d, s) in enumerate(zip(days, shares, strict=True)):
        if s is None:
            continue
        x, w = frame.slot(i)
        cx, cy = x + w / 2, frame.y(s)
        points.append(f"{cx:.1f},{cy:.1f}")
        color = COLORS["breach"] if norm is not None and round(s, 4) < norm else COLORS["bar"]
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.2" '
            f'fill="{color}"><title>{escape(m.date(d.day))}: {m.number(s)} % '
            f"({m.number(d.processing_within)} {escape(m.t('of'))} {m.number(d.processing_count)})"
            "</title></circle>"
        )
    if len(points) > 1:
        body.insert(
            len(body) - len(points),
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLORS["bar_light"]}" '
            'stroke-width="1.5"/>',
        )
    if norm is not None:
        body += frame.hline(norm, m.t("legend_norm", value=f"{m.number(norm)} %"))
    body += frame.day_labels([d.day for d in days], frame.top + frame.height + 14)
    return _svg(frame.top + frame.height + 22, body, label)


def incident_chart(m: Messages, items: Sequence[dict[str, Any]]) -> str:
    """Each resolved incident's clock against its target (R11): the bar is the hours used, the mark the
    target; red when over it. Ids only, never titles, so the chart is the same in a public report."""
    rows = len(items)
    row_h = 22
    height = TOP + rows * row_h + 34
    longest = (
        max([1.0, *(float(i["hours"]) for i in items), *(float(i["target_hours"]) for i in items)]) * 1.08
    )
    label_w = 150
    plot_w = WIDTH - LEFT - RIGHT - label_w
    x0 = LEFT + label_w

    def x(h: float) -> float:
        return x0 + h / longest * plot_w

    step = _nice_step(longest, 6)
    longest = math.ceil(longest / step) * step  # the axis ends on a tick, so every target has its gridline
    body = []
    v = 0.0
    while v <= longest:
        body.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{TOP}" y2="{TOP + rows * row_h}" '
            f'stroke="{COLORS["grid"]}"/>'
        )
        body.append(
            f'<text x="{x(v):.1f}" y="{TOP + rows * row_h + 14}" text-anchor="middle" '
            f'fill="{COLORS["axis"]}">'
            f"{escape(_fmt(v, m))} {m.t('hours_unit')}</text>"
        )
        v += step
    for n, item in enumerate(items):
        y = TOP + n * row_h
        used, target = float(item["hours"]), float(item["target_hours"])
        color = COLORS["bar"] if item["within"] else COLORS["breach"]
        name = f"{item.get('priority', '')} {item['id']}".strip()
        body.append(
            f'<text x="{x0 - 8}" y="{y + 14}" text-anchor="end" fill="{COLORS["axis"]}">{escape(name)}</text>'
        )
        body.append(
            f'<rect x="{x0}" y="{y + 4}" width="{max(x(used) - x0, 1.5):.1f}" height="13" rx="2" '
            f'fill="{color}">'
            f"<title>{escape(name)}: {m.number(used, 2)} {escape(m.value(item['basis']))}, "
            f"{escape(m.t('legend_target'))} {m.number(target)}</title></rect>"
        )
        body.append(
            f'<line x1="{x(target):.1f}" x2="{x(target):.1f}" y1="{y + 1}" y2="{y + 20}" '
            f'stroke="{COLORS["norm"]}" '
            f'stroke-width="2.5"/>'
        )
    body += _legend(
        m, x0, TOP + rows * row_h + 30, bar="legend_within", breach="legend_over", norm="legend_target"
    )
    return _svg(height + 6, body, m.t("chart_incidents"))


def messages_chart(m: Messages, days: Sequence[DayFigures]) -> str:
    """MijnOverheid messages offered per day, split into processed, rejected and the rest (R23)."""
    offered = [d.messages_offered or 0 for d in days]
    top_v = max([*offered, 1])
    step = _nice_step(top_v)
    frame = _Frame(m, TOP, 150, 0, math.ceil(top_v / step) * step, len(days))
    body = frame.grid(step=step)
    for i, d in enumerate(days):
        x, w = frame.slot(i)
        base = frame.top + frame.height
        parts = [
            (d.messages_processed or 0, COLORS["bar"]),
            (d.messages_rejected or 0, COLORS["rejected"]),
            (
                max((d.messages_offered or 0) - (d.messages_processed or 0) - (d.messages_rejected or 0), 0),
                COLORS["bar_light"],
            ),
        ]
        tip = escape(
            f"{m.date(d.day)}: {m.key('offered')} {m.number(d.messages_offered or 0)}, "
            f"{m.key('processed')} {m.number(d.messages_processed or 0)}, "
            f"{m.key('rejected')} {m.number(d.messages_rejected or 0)}"
        )
        for value, color in parts:
            if value <= 0:
                continue
            h = base - frame.y(value) if value else 0
            h = value / (frame.hi - frame.lo) * frame.height
            body.append(
                f'<rect x="{x + w * 0.15:.1f}" y="{base - h:.1f}" width="{w * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{tip}</title></rect>'
            )
            base -= h
    body += frame.day_labels([d.day for d in days], frame.top + frame.height + 14)
    legend_y = frame.top + frame.height + 34
    body += _legend(
        m, LEFT, legend_y, bar="legend_processed", rejected="legend_rejected", bar_light="legend_pending"
    )
    return _svg(legend_y + 10, body, m.t("chart_messages"))

"""Inline SVG charts for the HTML report (R23): drawn here, in Python, so the page needs no network and
no script at view time, and every norm line comes from the report itself, never from a constant.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from sno.core.calendar import TZ
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


def _fmt(value: float) -> str:
    """Axis labels: thousands with a thin separator, decimals only where the scale needs them."""
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", "\u202f")
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


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

    def __init__(self, top: int, height: int, lo: float, hi: float, n: int) -> None:
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
                f"{escape(_fmt(v))}{escape(unit)}</text>"
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
            f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="{COLORS["norm"]}" '
            f'font-weight="600" stroke="#fff" stroke-width="3" paint-order="stroke">{escape(label)}</text>',
        ]


def _legend(x: float, y: float, entries: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for color, text in entries:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="11" height="11" rx="2" fill="{color}"/>')
        out.append(f'<text x="{x + 16:.1f}" y="{y:.1f}" fill="{COLORS["axis"]}">{escape(text)}</text>')
        x += 22 + 6.2 * len(text)
    return out


def availability_chart(
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
    frame = _Frame(TOP, 150, lo, 100.0, len(days))
    body = frame.grid("%")
    for i, (d, v) in enumerate(zip(days, values, strict=True)):
        x, w = frame.slot(i)
        if v is None:
            body.append(
                f'<rect x="{x + w * 0.15:.1f}" y="{frame.top + frame.height - 3}" '
                f'width="{w * 0.7:.1f}" height="3" '
                f'fill="{COLORS["excluded"]}"><title>{d.day.isoformat()}: no availability '
                "window</title></rect>"
            )
            continue
        color = COLORS["breach"] if norm is not None and round(v, 4) < norm else COLORS["bar"]
        y = frame.y(v)
        body.append(
            f'<rect x="{x + w * 0.15:.1f}" y="{y:.1f}" width="{w * 0.7:.1f}" '
            f'height="{frame.top + frame.height - y:.1f}" fill="{color}" rx="1.5">'
            f"<title>{d.day.isoformat()}: {v:.4f} % (unavailable {d.unavailable_hours:.2f} h, "
            f"maintenance {d.maintenance_hours:.2f} h)</title></rect>"
        )
    if norm is not None:
        body += frame.hline(norm, f"norm {_fmt(norm)} %")
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
        start = b.start.astimezone(TZ).strftime("%d %b %H:%M")
        end = b.end.astimezone(TZ).strftime("%d %b %H:%M")
        body.append(
            f'<rect x="{x0:.1f}" y="{strip_y}" width="{max(x1 - x0, 1.5):.1f}" height="{strip_h}" '
            f'fill="{COLORS[b.kind]}"><title>{escape(b.kind)}: {start} – {end}</title></rect>'
        )
    body.append(
        f'<text x="{LEFT - 6}" y="{strip_y + 13}" text-anchor="end" fill="{COLORS["axis"]}">timeline</text>'
    )
    legend_y = strip_y + strip_h + 20
    body += _legend(
        LEFT,
        legend_y,
        [
            (COLORS["bar"], "availability per day"),
            (COLORS["breach"], "day below the norm"),
            (COLORS["unavailable"], "unavailable (U)"),
            (COLORS["maintenance"], "valid maintenance (M)"),
            (COLORS["excluded"], "excluded outage (R8)"),
        ],
    )
    return _svg(legend_y + 10, body, "Availability per day with outage and maintenance bands")


def volume_chart(days: Sequence[DayFigures], capacity: float | None, unit_name: str) -> str:
    """Daily volume, and each day's busiest minute against the capacity per minute (R15, R16)."""
    volumes = [d.volume or 0 for d in days]
    top_v = max([*volumes, 1])
    step = _nice_step(top_v)
    upper = math.ceil(top_v / step) * step
    f1 = _Frame(TOP, 120, 0, upper, len(days))
    body = f1.grid(step=step)
    for i, (d, v) in enumerate(zip(days, volumes, strict=True)):
        x, w = f1.slot(i)
        y = f1.y(v)
        body.append(
            f'<rect x="{x + w * 0.15:.1f}" y="{y:.1f}" width="{w * 0.7:.1f}" '
            f'height="{f1.top + f1.height - y:.1f}" '
            f'fill="{COLORS["bar"]}" rx="1.5"><title>{d.day.isoformat()}: {v:,} '
            f"{escape(unit_name)}</title></rect>"
        )
    body.append(
        f'<text x="{LEFT}" y="{TOP - 2}" fill="{COLORS["axis"]}" '
        f'font-weight="600">{escape(unit_name)} per day</text>'
    )
    peaks = [d.peak_per_minute or 0 for d in days]
    top_p = max([*peaks, *([capacity] if capacity else []), 1]) * 1.1
    step2 = _nice_step(top_p)
    upper2 = math.ceil(top_p / step2) * step2
    top2 = f1.top + f1.height + 40
    f2 = _Frame(top2, 110, 0, upper2, len(days))
    body += f2.grid(step=step2)
    body.append(
        f'<text x="{LEFT}" y="{top2 - 4}" fill="{COLORS["axis"]}" font-weight="600">busiest minute '
        "per day</text>"
    )
    for i, (d, p) in enumerate(zip(days, peaks, strict=True)):
        x, w = f2.slot(i)
        over = capacity is not None and p > capacity
        y = f2.y(p)
        body.append(
            f'<rect x="{x + w * 0.3:.1f}" y="{y:.1f}" width="{w * 0.4:.1f}" '
            f'height="{f2.top + f2.height - y:.1f}" '
            f'fill="{COLORS["breach"] if over else COLORS["bar_light"]}" rx="1">'
            f"<title>{d.day.isoformat()}: {p:,} in one minute; {d.minutes_over} minute(s) over "
            "capacity</title></rect>"
        )
    if capacity is not None:
        body += f2.hline(capacity, f"capacity {_fmt(capacity)} per minute")
    body += f2.day_labels([d.day for d in days], f2.top + f2.height + 14)
    return _svg(f2.top + f2.height + 22, body, "Daily volume and busiest minute against the capacity")


def share_chart(days: Sequence[DayFigures], norm: float | None, label: str) -> str:
    """The share processed within the limit per day against the report's norm (R14, R16)."""
    shares = [d.processing_share for d in days]
    known = [s for s in shares if s is not None]
    low = min([*known, *([norm] if norm is not None else []), 100.0])
    lo = max(0.0, 100.0 - max(1.0, (100.0 - low) * 1.25))
    frame = _Frame(TOP, 150, lo, 100.0, len(days))
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
            f'fill="{color}"><title>{d.day.isoformat()}: {s:.4f} % '
            f"({d.processing_within:,} of {d.processing_count:,})</title></circle>"
        )
    if len(points) > 1:
        body.insert(
            len(body) - len(points),
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLORS["bar_light"]}" '
            'stroke-width="1.5"/>',
        )
    if norm is not None:
        body += frame.hline(norm, f"norm {_fmt(norm)} %")
    body += frame.day_labels([d.day for d in days], frame.top + frame.height + 14)
    return _svg(frame.top + frame.height + 22, body, label)


def incident_chart(items: Sequence[dict[str, Any]]) -> str:
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
            f"{escape(_fmt(v))} h</text>"
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
            f"<title>{escape(name)}: {used:.2f} {escape(item['basis'])} hours of {target:g}</title></rect>"
        )
        body.append(
            f'<line x1="{x(target):.1f}" x2="{x(target):.1f}" y1="{y + 1}" y2="{y + 20}" '
            f'stroke="{COLORS["norm"]}" '
            f'stroke-width="2.5"/>'
        )
    body += _legend(
        x0,
        TOP + rows * row_h + 30,
        [(COLORS["bar"], "within target"), (COLORS["breach"], "over target"), (COLORS["norm"], "target")],
    )
    return _svg(height + 6, body, "Incident clocks against their targets")


def messages_chart(days: Sequence[DayFigures]) -> str:
    """MijnOverheid messages offered per day, split into processed, rejected and the rest (R23)."""
    offered = [d.messages_offered or 0 for d in days]
    top_v = max([*offered, 1])
    step = _nice_step(top_v)
    frame = _Frame(TOP, 150, 0, math.ceil(top_v / step) * step, len(days))
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
        tip = (
            f"{d.day.isoformat()}: offered {d.messages_offered or 0:,}, processed "
            f"{d.messages_processed or 0:,}, "
            f"rejected {d.messages_rejected or 0:,}"
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
        LEFT,
        legend_y,
        [
            (COLORS["bar"], "processed"),
            (COLORS["rejected"], "rejected"),
            (COLORS["bar_light"], "accepted, not processed"),
        ],
    )
    return _svg(legend_y + 10, body, "Messages offered per day")

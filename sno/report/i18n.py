"""The report's words and number and date formats, one message catalogue per language (nl, en).

Why a plain catalogue file (``messages/<lang>.toml``) rather than gettext/Babel: the report has two
languages, a few hundred messages and three number/date formats (decimal sign, thousands sign, month
names). A TOML file per language is read by ``tomllib`` from the standard library, needs no compile step
(.po → .mo) and no extra dependency with its own locale data, and an auditor or translator can read and
correct it without tools. A test holds the two catalogues to the same keys, and another renders every
report with the Dutch one and fails on any English sentence of the core that it could not translate.

The core explains in English sentences with values in them (``"planned window 3 of its month, beyond
the limit of 2: counts as unavailability (R9)"``); JSON keeps them as they are. ``[sentence]`` holds their
translations as templates with ``{placeholders}``: a sentence is matched whole, then piece by piece
between ``"; "``, and the values inside are translated in turn (a cause, an environment, a date).
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sno.core.calendar import TZ
from sno.report.names import SERVICE_NAMES

__all__ = ["LANGUAGES", "Messages", "messages"]

LANGUAGES = ("nl", "en")
_FOLDER = Path(__file__).parent / "messages"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    last = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : m.start()]))
        parts.append(f"(?P<{m[1]}>.+?)")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


class Messages:
    """One language's catalogue: words by key, and the formats of numbers, dates and instants."""

    def __init__(self, lang: str, data: dict[str, Any]) -> None:
        self.lang = lang
        self.data = data
        fmt = data["format"]
        self.decimal: str = fmt["decimal"]
        self.group: str = fmt["group"]
        self.months: list[str] = fmt["months"]
        self.months_short: list[str] = fmt["months_short"]
        self._sentences = [(_pattern(src), dst) for src, dst in data.get("sentence", {}).items()]
        #: English sentences and units this catalogue could not translate (a test requires none).
        self.untranslated: set[str] = set()

    @classmethod
    def load(cls, lang: str) -> Messages:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
        with (_FOLDER / f"{lang}.toml").open("rb") as fh:
            return cls(lang, tomllib.load(fh))

    # --- words -------------------------------------------------------------------------------------

    def t(self, key: str, **values: Any) -> str:
        """The text under ``[text] key``, with ``{placeholders}`` filled in."""
        text = self.data["text"][key]
        return text.format(**values) if values else text

    def plural(self, key: str, n: int, **values: Any) -> str:
        """``key_one`` when ``n`` is 1, else ``key_other``, with ``{n}`` and the other placeholders filled."""
        return self.t(f"{key}_one" if n == 1 else f"{key}_other", n=n, **values)

    def status(self, status: str) -> str:
        return self.data["status"].get(status, status)

    def section(self, key: str) -> str:
        return self.data["section"].get(key, key)

    def kpi(self, kpi_id: str) -> str:
        """The KPI's name; an id the catalogue does not know (a new rule) still reads as words."""
        return self.data["kpi"].get(kpi_id) or kpi_id.replace("_", " ").capitalize()

    def key(self, key: str) -> str:
        """A detail key or column header."""
        return self.data["key"].get(key) or key.replace("_", " ")

    def environment(self, env: str) -> str:
        return self.data["environment"].get(env, env)

    def unit(self, unit: str | None) -> str:
        if unit is None:
            return ""
        found = self.data["unit"].get(unit)
        if found is None:
            self.untranslated.add(unit)
            return unit
        return found

    def value(self, value: Any) -> str:
        """An enumerated value (a cause, a basis, a channel, yes/no) in words."""
        if isinstance(value, bool):
            return self.data["value"]["true" if value else "false"]
        text = str(value)
        return self.data["value"].get(text, text)

    def sentence(self, text: str) -> str:
        """An English sentence of the core in this language (see the module doc); JSON keeps the original."""
        if not self._sentences:
            return text
        found = self._match(text)
        if found is not None:
            return found
        if "; " in text:
            return "; ".join(self.sentence(piece) for piece in text.split("; "))
        self.untranslated.add(text)
        return text

    def _match(self, text: str) -> str | None:
        for pattern, template in self._sentences:
            m = pattern.match(text)
            if m is not None:
                return template.format(**{k: self._inner(v) for k, v in m.groupdict().items()})
        return None

    def _inner(self, value: str) -> str:
        if value in SERVICE_NAMES:
            return SERVICE_NAMES[value]
        if _ISO_DATE.match(value):
            return self.date(date.fromisoformat(value))
        if value in self.data["value"]:
            return self.value(value)
        found = self._match(value)
        if found is not None:
            return found
        # a sentence with "; " inside, or a plain value (an id, a time span) that stays as it is
        return self.sentence(value) if "; " in value else value

    # --- numbers and dates --------------------------------------------------------------------------

    def number(self, value: Any, decimals: int = 4) -> str:
        """A number as people read it in this language: grouped thousands, no trailing zeros."""
        if value is None:
            return "–"
        if isinstance(value, bool):
            return self.value(value)
        if isinstance(value, int):
            text = f"{value:,}"
        elif isinstance(value, float):
            text = f"{value:,.{decimals}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        else:
            return str(value)
        return text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)

    def show(self, value: Any, unit: str | None = None) -> str:
        """A KPI value or norm with its unit: ``99,65 %``, ``10.000 per minuut``, ``–`` for none."""
        if value is None:
            return "–"
        text = self.number(value)
        word = self.unit(unit)
        return f"{text} {word}" if word else text

    def norm(self, value: Any, unit: str | None, comparison: str | None) -> str:
        """A norm with its direction as the rule judges it: ``≥ 99,5 %``, ``≤ 3 %``, ``> 7,8 (score 1–10)``;
        as ``show`` when the KPI has no norm or states no direction."""
        shown = self.show(value, unit)
        return f"{self.value(comparison)} {shown}" if value is not None and comparison else shown

    def date(self, day: date) -> str:
        """A date in words: ``12 mei 2026`` / ``12 May 2026``."""
        return self.data["format"]["date"].format(
            day=day.day, month=self.months[day.month - 1], year=day.year
        )

    def month(self, text: str) -> str:
        """``YYYY-MM`` as ``april 2026``."""
        year, month = int(text[:4]), int(text[5:7])
        return f"{self.months[month - 1]} {year}"

    def when(self, value: Any, year: int | None = None, seconds: bool | None = None) -> str:
        """A local instant (R1) for a table: ``10 apr 14:00`` (the year only when it is not ``year``); the
        seconds when it has any, or as ``seconds`` says (a period shows both ends alike)."""
        instant = _local(value)
        if instant is None:
            return "" if value in (None, "") else str(value)
        day = f"{instant.day} {self.months_short[instant.month - 1]}"
        if year is None or instant.year != year:
            day += f" {instant.year}"
        with_seconds = bool(instant.second) if seconds is None else seconds
        return f"{day} {instant.strftime('%H:%M:%S' if with_seconds else '%H:%M')}"

    def period(self, start: Any, end: Any, year: int | None = None) -> str:
        """``10 apr 14:00 – 15:30``; the end's day only when it differs; ``nog gaande`` when open. Both
        ends to the second when either has seconds (``11:34:20 – 11:37:00``, not ``11:34:20 – 11:37``)."""
        ends = [_local(v) for v in (start, end) if v not in (None, "")]
        seconds = any(i is not None and i.second for i in ends)
        first = self.when(start, year, seconds)
        if end in (None, ""):
            return f"{first} – {self.t('ongoing')}"
        last = self.when(end, year, seconds)
        a, b = first.rsplit(" ", 1), last.rsplit(" ", 1)
        if len(a) == 2 and len(b) == 2 and a[0] == b[0]:
            return f"{first} – {b[1]}"
        return f"{first} – {last}"

    # --- sizes, for the closing note and the tests ----------------------------------------------

    def size(self) -> int:
        """The number of messages in the catalogue (every string and list entry that is shown)."""
        return sum(len(v) for k, v in self.data.items() if k != "format") + len(self.data["format"])


def _local(value: Any) -> datetime | None:
    """An ISO instant with offset in Dutch local time (R1); None for anything else."""
    if value in (None, ""):
        return None
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return instant.astimezone(TZ) if instant.tzinfo is not None else None


@cache
def messages(lang: str) -> Messages:
    """The catalogue of ``lang``, read once per process."""
    return Messages.load(lang)

"""The Klantrapportage in Dutch and English (issue 15), its due date (R23), the months with nothing to judge
(R5, issue 17) and Markdown that passes no raw HTML through (issue 17), on reports made by the pure core.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.validate import Accepted, validate
from sno.core.buckets import MonthInputs
from sno.core.calendar import Month, WorkCalendar
from sno.core.catalogue import load_catalogue
from sno.core.judge import KPI_IDS, judge_month, reference_report
from sno.core.reporting import NO_EVENTS_NOTE, due_date, due_for, month_has_input, next_due, without_events
from sno.core.snapshots import Snapshots
from sno.report.i18n import LANGUAGES, Messages, messages
from sno.report.load import MonthReport
from sno.report.render import render_month, render_year

CATALOGUE = load_catalogue()
MESSAGES = Path(__file__).parents[1] / "sno" / "report" / "messages"
GOLDEN_KPI = Path(__file__).parent / "golden" / "kpi"


def _keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for k, v in data.items():
        if isinstance(v, dict):
            out |= _keys(v, f"{prefix}{k}.")
        else:
            out.add(f"{prefix}{k}")
    return out


def _catalogue(lang: str) -> dict[str, Any]:
    with (MESSAGES / f"{lang}.toml").open("rb") as fh:
        return tomllib.load(fh)


def _accepted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        result = validate(orjson.dumps(e))
        assert isinstance(result, Accepted), result
        out.append(result.record)
    return out


# --- the catalogues ---------------------------------------------------------------------------------------


def test_the_dutch_and_english_catalogues_have_the_same_messages() -> None:
    """One message per key in each language; [sentence] apart (the core writes English: Dutch translates
    every sentence, English lists only the few whose values it words as the report does)."""
    nl, en = _catalogue("nl"), _catalogue("en")
    nl_sentences, en_sentences = nl.pop("sentence"), en.pop("sentence")
    assert _keys(nl) == _keys(en)
    assert set(en_sentences) <= set(nl_sentences)
    assert len(nl["format"]["months"]) == len(en["format"]["months"]) == 12


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_kpi_id_of_every_service_has_a_name_in_each_language(lang: str) -> None:
    """JSON keeps the ids (docs/interfaces.md); people read the name from the catalogue, never an id."""
    names = _catalogue(lang)["kpi"]
    ids = {k for ids in KPI_IDS.values() for k in ids} | {
        "capacity_forecast_afnemers",
        "support_phone_answer_time_long",
    }
    assert sorted(ids - set(names)) == []


def test_numbers_and_dates_follow_the_language() -> None:
    """Dutch: decimal comma, thousands point, month names (`99,65 %`, `12 mei 2026`); English the reverse."""
    nl, en = messages("nl"), messages("en")
    assert nl.show(99.65, "%") == "99,65 %" and en.show(99.65, "%") == "99.65 %"
    assert nl.show(10000, "per minute") == "10.000 per minuut" and en.number(10000) == "10,000"
    assert nl.date(date(2026, 5, 12)) == "12 mei 2026" and en.date(date(2026, 5, 12)) == "12 May 2026"
    assert nl.period("2026-04-10T14:00:00+02:00", "2026-04-10T15:30:00+02:00", 2026) == "10 apr 14:00 – 15:30"
    assert nl.period("2026-03-31T23:00:00+02:00", None, 2026) == "31 mrt 23:00 – nog gaande"
    assert nl.when("2026-04-10T12:00:00Z", 2026) == "10 apr 14:00"  # local time (R1)
    # Both ends of a period to the same precision: seconds on both when either has them.
    assert nl.period("2026-04-21T11:34:20+02:00", "2026-04-21T11:37:00+02:00", 2026) == (
        "21 apr 11:34:20 – 11:37:00"
    )
    assert en.period("2026-04-21T11:34:00+02:00", "2026-04-22T09:00:05+02:00", 2026) == (
        "21 Apr 11:34:00 – 22 Apr 09:00:05"
    )
    # A norm shows the direction its rule judges it by (docs/interfaces.md `norm_comparison`).
    assert nl.norm(99.5, "%", "ge") == "≥ 99,5 %" and en.norm(3.0, "%", "le") == "≤ 3 %"
    assert nl.norm(7.8, "score 1-10", "gt") == "> 7,8 (score 1–10)" and nl.norm(None, "%", "ge") == "–"


@pytest.mark.parametrize("service", sorted(KPI_IDS))
def test_every_norm_states_the_direction_its_rule_judges_it_by(service: str) -> None:
    """"norm 3 %" says nothing of which side is met: every KPI with a norm carries the comparison its rule
    applied (``norm_comparison``, also when there is no value to judge), and the report shows it."""
    report = judge_month(service, "production", Month(2026, 4), MonthInputs(), Snapshots(), CATALOGUE)
    with_norm = {k: v for k, v in report.kpis.items() if v.norm is not None}
    assert with_norm
    assert {k: v.norm_comparison for k, v in with_norm.items() if v.norm_comparison is None} == {}
    text = render_month(MonthReport(report=report), "markdown")
    assert "norm ≥ " in text and "norm ≤ " in text
    if service == "digid-machtigen":
        for shown in ("norm ≥ 99,5 %", "norm ≤ 3 %", "norm \\> 7,8 (score 1–10)", "norm ≤ 1.000 per minuut"):
            assert shown in text, shown
    assert '"norm_comparison": "ge"' in render_month(MonthReport(report=report), "json")


def test_the_auditor_recognises_the_sno_words_in_the_dutch_report() -> None:
    """The SNO texts' own terms: beschikbaarheid, oplostijden, onderhoudsvenster, kantooruren."""
    text = (MESSAGES / "nl.toml").read_text(encoding="utf-8").lower()
    for word in (
        "beschikbaarheid",
        "oplostijd",
        "onderhoudsvenster",
        "kantooruren",
        "klokuren",
        "verstoringsanalyse",
        "spoedonderhoud",
        "afgebroken gesprekken in het wachtveld",  # the SNO's definition of the call abandon rate
    ):
        assert word in text, word


def test_every_note_of_the_norm_catalogue_has_a_dutch_translation() -> None:
    """R5 notes come from the norm files in English; the Dutch report must not show them untranslated."""
    nl = Messages.load("nl")
    texts = [NO_EVENTS_NOTE]
    for versions in CATALOGUE.versions.values():
        for v in versions:
            texts += [n.text for n in v.notes] + ([v.past_term_note] if v.past_term_note else [])
    for service in KPI_IDS:
        texts += CATALOGUE.select(service, Month(2000, 1)).notes  # before every first version (R5)
    for text in texts:
        assert nl.sentence(text) != text, text
    assert nl.untranslated == set()


def test_the_dutch_report_of_every_golden_case_leaves_no_english_sentence_untranslated() -> None:
    """Every explanation the core writes for the hand-computed cases (maintenance verdicts, exclusions,
    N.v.t., ongoing outages …) has its Dutch sentence in the catalogue."""
    nl = Messages.load("nl")
    import sno.report.render as render

    original = render.messages
    render.messages = lambda lang: nl if lang == "nl" else original(lang)  # type: ignore[assignment]
    try:
        for case in sorted(GOLDEN_KPI.glob("*.json")):
            data = orjson.loads(case.read_bytes())
            report = reference_report(
                _accepted(data["events"]), data["service"], data["environment"], data["month"], CATALOGUE
            )
            text = render_month(MonthReport(report=report), "markdown")
            assert "None" not in text, case.name
    finally:
        render.messages = original  # type: ignore[assignment]
    assert nl.untranslated == set()


# --- months with nothing to judge -----------------------------------------------------------------------


def test_a_month_before_the_first_sno_version_is_a_report_with_every_kpi_no_data_and_the_r5_note() -> None:
    """R5, docs/interfaces.md: Machtigen 2.1 starts in February 2026, so January is all no_data, with a note
    (in Dutch in the Dutch report) and its due date, not an error."""
    report = judge_month(
        "digid-machtigen", "production", Month(2026, 1), MonthInputs(), Snapshots(), CATALOGUE
    )
    assert report.sno_version is None and {k.status for k in report.kpis.values()} == {"no_data"}
    assert any("No SNO version" in n for n in report.notes)
    assert report.due_date == "2026-02-27"  # Friday; 28 February 2026 is a Saturday
    text = render_month(MonthReport(report=report), "markdown")
    assert "geen SNO-versie van DigiD Machtigen in werking" in text and "27 februari 2026" in text
    assert "aan te toetsen (R5)" in text
    english = render_month(MonthReport(report=report), "markdown", lang="en")
    assert "No SNO version of DigiD Machtigen is in force on 1 January 2026" in english
    assert "no norms to judge this month against (R5)" in english and "digid-machtigen is" not in english


def test_a_month_without_a_single_event_is_no_data_with_a_note_not_100_percent_met() -> None:
    """Issue 17: judging nothing gives availability 100 % "met"; a month the store knows nothing about is
    no_data for every KPI, with a note."""
    empty = judge_month("digid", "production", Month(2026, 7), MonthInputs(), Snapshots(), CATALOGUE)
    assert empty.kpis["availability"].status == "met"  # what the bare judgement says, and why it misleads
    assert not month_has_input("digid", "production", Month(2026, 7), MonthInputs(), Snapshots())
    report = without_events(empty)
    assert {k.status for k in report.kpis.values()} == {"no_data"}
    assert report.kpis["availability"].norm == 99.5 and NO_EVENTS_NOTE in report.notes
    assert "geen enkele gebeurtenis vastgelegd" in render_month(MonthReport(report=report), "markdown")


def test_an_outage_running_on_from_the_month_before_is_input_of_the_month() -> None:
    """R2: an outage started in March and still ongoing touches April, so April is judged, not no_data."""
    (outage,) = _accepted(
        [
            {
                "type": "outage",
                "event_id": "o",
                "service": "digid",
                "outage_id": "O-1",
                "updated_at": "2026-03-31T22:00:00+02:00",
                "started_at": "2026-03-31T21:00:00+02:00",
            }
        ]
    )
    snaps = Snapshots.from_events([outage])
    assert month_has_input("digid", "production", Month(2026, 4), MonthInputs(), snaps)
    assert not month_has_input("digid", "preproduction", Month(2026, 4), MonthInputs(), snaps)
    assert not month_has_input("digid", "production", Month(2026, 2), MonthInputs(), snaps)


def test_an_incident_merely_still_open_from_an_earlier_month_is_no_input_of_the_month() -> None:
    """Issue 17: an incident detected in April and never resolved says nothing about July; July is
    no_data, while April (detected) and the month it is resolved in are judged."""
    (incident,) = _accepted([
        {"type": "incident", "event_id": "i", "service": "digid", "incident_id": "I-1", "status": "open",
         "updated_at": "2026-04-29T16:05:00+02:00", "impact": "midden", "urgency": "midden",
         "detected_at": "2026-04-29T16:00:00+02:00"}
    ])
    snaps = Snapshots.from_events([incident])
    assert month_has_input("digid", "production", Month(2026, 4), MonthInputs(), snaps)
    assert not month_has_input("digid", "production", Month(2026, 7), MonthInputs(), snaps)


# --- the due date (R23) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "due"),
    [
        ("2026-04", date(2026, 5, 29)),  # 30 and 31 May 2026 are a weekend
        ("2026-03", date(2026, 4, 30)),  # a Thursday
        ("2018-02", date(2018, 3, 29)),  # 30 March 2018 is Goede Vrijdag (R3), the 31st a Saturday
        (
            "2026-11",
            date(2026, 12, 31),
        ),  # the day after Tweede Kerstdag … is not the last: 31 Dec is a Thursday
        ("2026-12", date(2027, 1, 29)),  # across the year
    ],
)
def test_the_report_is_due_on_the_last_workday_of_the_next_month(month: str, due: date) -> None:
    """R23 (DigiD 3.0 §4): "uiterlijk de laatste werkdag van de maand" after the month, workdays by R3."""
    assert due_date(Month.parse(month), WorkCalendar()) == due


def test_the_report_due_next_is_last_months_until_its_day_has_passed() -> None:
    """`sno report --due`: on 12 May the April report is due (29 May); on 30 May, a Saturday after that
    day, the next one due is May's, on 30 June 2026."""
    assert next_due(date(2026, 5, 12), WorkCalendar()) == (Month(2026, 4), date(2026, 5, 29))
    assert next_due(date(2026, 5, 29), WorkCalendar()) == (Month(2026, 4), date(2026, 5, 29))
    assert next_due(date(2026, 5, 30), WorkCalendar()) == (Month(2026, 5), date(2026, 6, 30))
    due = due_for("digid-machtigen", date(2026, 2, 10), CATALOGUE)
    assert (str(due.month), due.sno_version) == ("2026-01", None)  # before Machtigen 2.1 (R5)


# --- Markdown passes no raw HTML (issue 17) --------------------------------------------------------------


def test_a_hostile_title_is_text_in_markdown_and_escaped_in_html() -> None:
    """An outage titled with HTML and a Markdown link is shown as the text it is, in both formats."""
    hostile = "<img src=x onerror=alert(1)> [klik](javascript:alert(2)) **vet** | pijp"
    events = _accepted(
        [
            {
                "type": "outage",
                "event_id": "o",
                "service": "digid",
                "outage_id": "O-1",
                "updated_at": "2026-04-10T16:00:00+02:00",
                "started_at": "2026-04-10T14:00:00+02:00",
                "ended_at": "2026-04-10T15:00:00+02:00",
                "cause": "logius",
                "title": hostile,
                "analysis": "# Kop\n\n<script>alert(3)</script>",
            }
        ]
    )
    report = reference_report(events, "digid", "production", "2026-04", CATALOGUE)
    md = render_month(MonthReport(report=report), "markdown")
    assert not re.search(r"(?<!\\)[<>]", md), "an unescaped < or > in the Markdown"
    assert not re.search(r"(?<!\\)\]\(", md), "a live Markdown link"
    assert r"\<img src=x onerror=alert(1)\>" in md and r"\[klik\]" in md
    assert not re.search(r"^# Kop", md, re.MULTILINE) and r"\# Kop" in md
    html = render_month(MonthReport(report=report), "html")
    assert "<img src=x" not in html and "<script>alert" not in html and "&lt;img src=x" in html


def test_the_year_overview_is_in_the_language_chosen() -> None:
    """R23: the manager's table reads in Dutch by default and in English on request."""
    from sno.report.load import YearCell, YearOverview

    months = [f"2026-{m:02d}" for m in range(1, 13)]
    overview = YearOverview(
        "digid",
        "production",
        2026,
        months,
        dict.fromkeys(months, "3.0"),
        dict.fromkeys(months, "judged"),
        {"availability": {m: YearCell(99.9, 99.5, "%", "met") for m in months}},
        {m: [] for m in months},
    )
    assert "Beschikbaarheid" in render_year(overview, "markdown") and "✓ voldaan" in render_year(
        overview, "html"
    )
    assert "Availability" in render_year(overview, "markdown", "en")

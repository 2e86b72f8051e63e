"""The Verstoringsanalyse (R24) from events, through the pure core (``reference_report``), and in every
format of the report: DDoS outages left out, overlapping outages grouped, incidents and maintenance
linked, figures from the availability rule's own sets, and the public version without titles or texts.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.validate import Accepted, validate
from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report
from sno.core.kpi import Report
from sno.report.load import MonthReport
from sno.report.render import public_report, render_month

CATALOGUE = load_catalogue()
MONTH = "2026-04"  # 720 hours, no DST change (R1)


def _accepted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n, e in enumerate(events):
        e = {"event_id": f"ev-{n}", "environment": "production", **e}
        result = validate(orjson.dumps(e))
        assert isinstance(result, Accepted), result
        out.append(result.record)
    return out


def _outage(oid: str, start: str, end: str | None, cause: str = "logius", **extra: Any) -> dict[str, Any]:
    return {
        "type": "outage",
        "service": extra.pop("service", "digid"),
        "outage_id": oid,
        "updated_at": end or start,
        "started_at": start,
        "ended_at": end,
        "cause": cause,
        **extra,
    }


def _incident(
    iid: str, detected: str, resolved: str | None, impact: str, urgency: str, **extra: Any
) -> dict[str, Any]:
    e = {
        "type": "incident",
        "service": extra.pop("service", "digid"),
        "incident_id": iid,
        "updated_at": resolved or detected,
        "status": "resolved" if resolved else "open",
        "impact": impact,
        "urgency": urgency,
        "detected_at": detected,
        "cause": "logius",
        **extra,
    }
    if resolved:
        e["resolved_at"] = resolved
    return e


def _p1_during_the_outage(**extra: Any) -> dict[str, Any]:
    """INC-1: a P1 detected five minutes into OUT-1 (10 April, 14:00–15:30) and resolved 1.5 h later."""
    return _incident(
        "INC-1", "2026-04-10T14:05:00+02:00", "2026-04-10T15:35:00+02:00", "hoog", "hoog", **extra
    )


def _report(events: list[dict[str, Any]], service: str = "digid") -> Report:
    return reference_report(_accepted(events), service, "production", MONTH, CATALOGUE)


def test_a_ddos_outage_counts_in_availability_but_gets_no_disruption_analysis() -> None:
    """R24: a DDoS attack is left out of the analysis; R8: it still counts as its cause (logius) says."""
    report = _report(
        [
            _outage(
                "DDOS-1",
                "2026-04-03T10:00:00+02:00",
                "2026-04-03T12:00:00+02:00",
                ddos=True,
                title="DDoS-aanval",
                analysis="aanvalsverkeer gefilterd",
            ),
            _outage("OUT-1", "2026-04-20T10:00:00+02:00", "2026-04-20T11:00:00+02:00"),
        ]
    )
    assert report.kpis["availability"].model_extra["unavailable_hours"] == 3.0  # type: ignore[index]
    assert [d["outage_ids"] for d in report.disruptions] == [["OUT-1"]]
    assert report.disruptions[0]["counted_hours"] == 1.0
    assert report.disruptions[0]["availability_effect"] == pytest.approx(1 / 720 * 100, abs=1e-4)


def _ddos(oid: str, day: int, **extra: Any) -> dict[str, Any]:
    """A DDoS attack of two hours on ``day`` April, cause logius (so it counts as unavailability, R8)."""
    return _outage(
        oid, f"2026-04-{day:02d}T10:00:00+02:00", f"2026-04-{day:02d}T12:00:00+02:00", ddos=True, **extra
    )


def test_a_month_whose_only_disruption_was_a_ddos_attack_says_it_was_left_out_in_every_format() -> None:
    """R24: the analysis leaves a DDoS attack out, and the report says so (which one, that R24 leaves it
    out, that it still counts as its cause says) instead of "no disruption"; the outage table marks it.
    In every format for people and both languages, the public version included (R23 strips free texts
    only); JSON marks the outage item ``ddos: true``."""
    report = _report([_ddos("DDOS-1", 3, title="Aanval")])
    assert report.disruptions == []
    assert report.kpis["availability"].model_extra["unavailable_hours"] == 2.0  # type: ignore[index]
    (item,) = report.kpis["availability"].model_extra["items"]  # type: ignore[index]
    assert item["ddos"] is True
    month = MonthReport(report=report)
    said = {
        "nl": ("afgezien van DDoS-aanvallen", "Eén verstoring was een DDoS-aanval (DDOS-1)", "R24",
               "telt wel mee in de beschikbaarheid"),
        "en": ("Apart from DDoS attacks", "One outage was a DDoS attack (DDOS-1)", "R24",
               "still counts in availability"),
    }
    for public in (False, True):
        for lang, words in said.items():
            for fmt in ("markdown", "html", "csv"):
                text = render_month(month, fmt, public=public, lang=lang)  # type: ignore[arg-type]
                for w in words[1:] if fmt == "csv" else words:  # CSV has no "no disruption" line
                    assert w in text, (public, lang, fmt, w)
                assert "Deze maand was er geen verstoring" not in text
                assert "There was no disruption" not in text
            md = render_month(month, "markdown", public=public, lang=lang)
            header = next(line for line in md.splitlines() if line.startswith("| id | ") and "U (" in line)
            row = next(line for line in md.splitlines() if line.startswith("| DDOS-1 |"))
            ddos_word = {"nl": "DDoS-aanval", "en": "DDoS attack"}[lang]
            yes = {"nl": "ja", "en": "yes"}[lang]
            cells = [c.strip() for c in row.strip("| ").split("|")]
            assert cells[header.strip("| ").split(" | ").index(ddos_word)] == yes
    assert '"ddos": true' in render_month(month, "json", public=True)


def test_ddos_attacks_beside_a_disruption_are_counted_in_the_analysis_intro() -> None:
    """R24: with a disruption to analyse and two DDoS attacks, the analysis of OUT-1 is there and the
    intro names both attacks; a month without DDoS has no such sentence and no DDoS column."""
    report = _report(
        [
            _ddos("DDOS-1", 3),
            _ddos("DDOS-2", 5),
            _outage("OUT-1", "2026-04-20T10:00:00+02:00", "2026-04-20T11:00:00+02:00"),
        ]
    )
    assert [d["outage_ids"] for d in report.disruptions] == [["OUT-1"]]
    month = MonthReport(report=report)
    md = render_month(month, "markdown")
    assert "2 verstoringen waren DDoS-aanvallen (DDOS-1, DDOS-2)" in md and "Verstoring 1" in md
    assert "2 outages were DDoS attacks (DDOS-1, DDOS-2)" in render_month(month, "html", lang="en")
    plain = MonthReport(report=_report([_outage("OUT-1", "2026-04-20T10:00:00+02:00", None)]))
    for fmt in ("markdown", "html", "csv"):
        assert "DDoS-aanval" not in render_month(plain, fmt).replace(  # type: ignore[arg-type]
            "DDoS-aanvallen zijn niet opgenomen", ""
        ), fmt


def test_overlapping_outages_are_one_disruption_counted_once() -> None:
    """R24 with R6: OUT-A 10:00–12:00 and OUT-B 11:00–13:00 overlap, so they are one disruption of 3 h
    (their union), not 4 h; OUT-C the next day is a disruption of its own."""
    report = _report(
        [
            _outage(
                "OUT-A",
                "2026-04-08T10:00:00+02:00",
                "2026-04-08T12:00:00+02:00",
                title="A",
                analysis="Analyse A.",
            ),
            _outage(
                "OUT-B",
                "2026-04-08T11:00:00+02:00",
                "2026-04-08T13:00:00+02:00",
                title="B",
                analysis="Analyse B.",
            ),
            _outage("OUT-C", "2026-04-09T10:00:00+02:00", "2026-04-09T10:30:00+02:00"),
        ]
    )
    first, second = report.disruptions
    assert first["outage_ids"] == ["OUT-A", "OUT-B"]
    assert (first["start"], first["end"]) == ("2026-04-08T10:00:00+02:00", "2026-04-08T13:00:00+02:00")
    assert first["counted_hours"] == 3.0
    assert first["titles"] == ["A", "B"] and first["analysis"] == "Analyse A.\n\nAnalyse B."
    assert second["outage_ids"] == ["OUT-C"] and second["counted_hours"] == 0.5
    assert report.kpis["availability"].model_extra["unavailable_hours"] == 3.5  # type: ignore[index]


def test_an_excluded_outage_overlapping_a_counted_one_is_grouped_but_not_counted() -> None:
    """R8 in R24: an internet outage overlapping a Logius one is part of the disruption (excluded: true),
    its own time is not counted; an excluded outage alone is no disruption at all (U = 0)."""
    report = _report(
        [
            _outage("OUT-L", "2026-04-08T10:00:00+02:00", "2026-04-08T11:00:00+02:00"),
            _outage("OUT-I", "2026-04-08T10:30:00+02:00", "2026-04-08T12:00:00+02:00", cause="internet"),
            _outage("OUT-X", "2026-04-15T10:00:00+02:00", "2026-04-15T12:00:00+02:00", cause="internet"),
        ]
    )
    (only,) = report.disruptions
    assert only["outage_ids"] == ["OUT-L", "OUT-I"]
    assert (only["counted_hours"], only["cause"], only["excluded"]) == (1.0, "logius", True)


def test_the_incidents_overlapping_a_disruption_are_linked_with_their_clocks() -> None:
    """R24 with R10, R11, R13: a P1 detected during the outage, resolved 1.5 h later and notified after
    20 minutes is linked within target and notified in time; a P3 of another week is not linked."""
    report = _report(
        [
            _outage("OUT-1", "2026-04-10T14:00:00+02:00", "2026-04-10T15:30:00+02:00"),
            _p1_during_the_outage(notified_at="2026-04-10T14:25:00+02:00"),
            _incident("INC-2", "2026-04-20T10:00:00+02:00", "2026-04-20T11:00:00+02:00", "laag", "laag"),
        ]
    )
    (d,) = report.disruptions
    (inc,) = d["incidents"]
    assert inc["id"] == "INC-1" and inc["priority"] == "P1"
    assert (inc["resolution_hours"], inc["target_hours"], inc["within"]) == (1.5, 6, True)
    assert inc["notified_within_30_min"] is True


def test_maintenance_touched_is_listed_and_its_valid_part_is_not_counted() -> None:
    """R24 with R9: an outage from 04:00 to 08:00 starting inside a valid 00:00–06:00 window counts only
    from 06:00 (2 h) and names the window it touched."""
    report = _report(
        [
            {
                "type": "maintenance",
                "service": "digid",
                "maintenance_id": "MNT-1",
                "updated_at": "2026-04-01T09:00:00+02:00",
                "kind": "planned",
                "status": "scheduled",
                "announced_at": "2026-04-01T09:00:00+02:00",
                "starts_at": "2026-04-13T00:00:00+02:00",
                "ends_at": "2026-04-13T06:00:00+02:00",
            },
            _outage("OUT-1", "2026-04-13T04:00:00+02:00", "2026-04-13T08:00:00+02:00"),
        ]
    )
    (d,) = report.disruptions
    assert d["maintenance_ids"] == ["MNT-1"] and d["counted_hours"] == 2.0
    assert d["availability_effect"] == pytest.approx(2 / (720 - 6) * 100, abs=1e-4)


def test_an_ongoing_outage_is_a_disruption_without_an_end() -> None:
    """R24: "end (or ongoing)": an outage still open at the month's end counts to the month's end (R2)."""
    report = _report([_outage("OUT-1", "2026-04-30T22:00:00+02:00", None)])
    (d,) = report.disruptions
    assert d["end"] is None and d["counted_hours"] == 2.0


def test_a_month_without_disruption_has_an_empty_analysis_that_says_so() -> None:
    """R24: "Without such a disruption the section says so", in every language."""
    report = _report(
        [_outage("OUT-X", "2026-04-15T10:00:00+02:00", "2026-04-15T12:00:00+02:00", cause="internet")]
    )
    assert report.disruptions == []
    month = MonthReport(report=report)
    assert "geen verstoring met meetbare onbeschikbaarheid" in render_month(month, "markdown")
    assert "no disruption with counted unavailability" in render_month(month, "markdown", lang="en")


def test_a_website_outage_is_analysed_against_the_website_availability() -> None:
    """R7 in R24: a DigiD outage with function website affects availability_website, not availability."""
    report = _report(
        [_outage("WEB-1", "2026-04-15T09:00:00+02:00", "2026-04-15T10:00:00+02:00", function="website")]
    )
    (d,) = report.disruptions
    assert d["kpi"] == "availability_website" and d["counted_hours"] == 1.0
    # The effect names the KPI it lowers once ("beschikbaarheid" was in the label and the value).
    month = MonthReport(report=report)
    dutch = render_month(month, "markdown")
    assert "- Effect: 0,1389 procentpunt lagere beschikbaarheid www.digid.nl" in dutch
    assert "- Effect: availability www.digid.nl 0.1389 percentage points lower" in render_month(
        month, "markdown", lang="en"
    )
    assert "- Betrokken verstoringen: WEB-1" in dutch


def test_the_public_version_keeps_the_timeline_and_figures_without_titles_or_analysis() -> None:
    """R23, R24: the public report keeps start, end, hours, effect, cause, incidents and maintenance, and
    leaves out titles and analysis texts, in JSON and in every format for people."""
    report = _report(
        [
            _outage(
                "OUT-1",
                "2026-04-10T14:00:00+02:00",
                "2026-04-10T15:30:00+02:00",
                title="Verlopen certificaat",
                analysis="Oorzaak: de bewaking ontbrak.",
            ),
            _p1_during_the_outage(title="Inloggen onmogelijk"),
        ]
    )
    public = public_report(report)
    (full,), (kept,) = report.disruptions, public.disruptions
    assert {k: v for k, v in full.items() if k not in ("titles", "analysis")} == kept
    assert "titles" not in kept and "analysis" not in kept
    month, public_month = MonthReport(report=report), MonthReport(report=public)
    for fmt in ("json", "markdown", "csv", "html"):
        private_text = render_month(month, fmt)  # type: ignore[arg-type]
        public_text = render_month(month, fmt, public=True)  # type: ignore[arg-type]
        for secret in ("Verlopen certificaat", "de bewaking ontbrak", "Inloggen onmogelijk"):
            assert secret in private_text, (fmt, secret)
            assert secret not in public_text, (fmt, secret)
        assert "OUT-1" in public_text and "INC-1" in public_text
    assert render_month(public_month, "json") == render_month(month, "json", public=True)


def test_a_version_1_outage_without_the_new_fields_is_valid_and_not_ddos() -> None:
    """Contract 1.1: `ddos` defaults to false and `analysis` to none, so every version 1 event stays valid."""
    (record,) = _accepted([_outage("OUT-1", "2026-04-10T14:00:00+02:00", "2026-04-10T15:30:00+02:00")])
    assert record["ddos"] is False and record["analysis"] is None
    bad = validate(
        orjson.dumps({**_outage("O", "2026-04-10T14:00:00+02:00", None), "event_id": "x", "ddos": "yes"})
    )
    assert not isinstance(bad, Accepted)

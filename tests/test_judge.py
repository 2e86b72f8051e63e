"""The month's judgement and the report JSON (R5, R22, R23, docs/interfaces.md)."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sno.core.buckets import MonthInputs
from sno.core.calendar import Month
from sno.core.catalogue import load_catalogue
from sno.core.judge import KPI_IDS, judge_month, reference_report
from sno.core.snapshots import Snapshots

CEST = timezone(timedelta(hours=2))
CATALOGUE = load_catalogue()
T = datetime(2026, 4, 14, 10, 0, tzinfo=CEST)

SERVICES = ("digid", "digid-machtigen", "mijnoverheid")


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after a heading of docs/interfaces.md."""
    section = text.split(heading + "\n", 1)[1]
    rows = [line for line in section.split("\n\n#", 1)[0].splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def interface_kpi_ids() -> dict[str, set[str]]:
    """docs/interfaces.md "KPIs": the ids every report of a service carries, read from the document (the
    ids it gives only under a condition, "digid under 2.8" and the ``_long`` phone norm, left out), so
    that the expectation is the contract's, not a copy of ``KPI_IDS``."""
    text = (Path(__file__).parent.parent / "docs/interfaces.md").read_text(encoding="utf-8")
    rows = _table(text, "### MijnOverheid KPIs, exactly")
    mijnoverheid = {i for cells in rows for i in re.findall(r"`(\w+)`", cells[0])}
    out: dict[str, set[str]] = {service: set() for service in SERVICES}
    for first, services, *_ in _table(text, "### KPIs"):
        if "under" in services:
            continue
        names = re.findall(r"`(\w+)`", first)
        # `incident_resolution_p1`, `_p2`: a suffix continues the first id; no id at all: the table below
        ids = {names[0].rsplit("_", 1)[0] + n if n[0] == "_" else n for n in names} if names else mijnoverheid
        listed = re.sub(r"\(.*\)", "", services).replace(",", " ").split()
        for service in SERVICES if listed == ["all"] else listed:
            out[service] |= {i for i in ids if not i.endswith("_long")}
    return out


def sample_events() -> list[dict]:
    common = {"service": "digid", "environment": "production", "afnemer_id": None}
    events = [
        {
            "type": "outage",
            "event_id": "o1",
            **common,
            "outage_id": "OUT-1",
            "updated_at": T,
            "started_at": T,
            "ended_at": T + timedelta(minutes=37),
            "cause": None,
            "function": None,
            "title": "x",
        },
        {
            "type": "incident",
            "event_id": "i1",
            **common,
            "incident_id": "INC-1",
            "updated_at": T,
            "status": "resolved",
            "impact": "hoog",
            "urgency": "hoog",
            "detected_at": T,
            "notified_at": T + timedelta(minutes=10),
            "resolved_at": T + timedelta(hours=2),
            "cause": None,
            "title": None,
        },
    ]
    for i in range(300):
        start = T + timedelta(seconds=i * 7)
        events.append(
            {
                "type": "authentication",
                "event_id": f"a{i}",
                **common,
                "afnemer_id": f"0000000100000000000{i % 3}",
                "started_at": start,
                "completed_at": start + timedelta(milliseconds=900 + i * 17),
                "outcome": "success",
                "level": None,
            }
        )
    return events


@pytest.mark.parametrize("service", ["digid", "digid-machtigen", "mijnoverheid"])
def test_every_kpi_id_of_the_interface_is_in_the_report(service: str) -> None:
    """docs/interfaces.md: each service's report carries its KPI ids (support_* for all)."""
    report = judge_month(service, "production", Month(2026, 4), MonthInputs(), Snapshots(), CATALOGUE)
    ids = set(report.kpis)
    expected = interface_kpi_ids()[service]
    assert len(expected) >= 15 and expected <= ids
    assert any(k.startswith("support_") for k in ids)
    assert set(KPI_IDS[service]) == expected


def test_a_month_without_an_sno_version_has_every_kpi_without_data_and_a_note() -> None:
    """R5: Machtigen in January 2026 has no norms."""
    report = judge_month(
        "digid-machtigen", "production", Month(2026, 1), MonthInputs(), Snapshots(), CATALOGUE
    )
    assert report.sno_version is None
    assert all(k.status == "no_data" and k.value is None for k in report.kpis.values())
    assert interface_kpi_ids()["digid-machtigen"] <= set(report.kpis)
    assert report.notes and "2026-02-01" in report.notes[0]


def test_the_report_json_has_the_shape_of_the_interface_and_at_most_four_decimals() -> None:
    """docs/interfaces.md/R23: top-level keys, KPI keys and rounding."""
    report = reference_report(sample_events(), "digid", "production", "2026-04", CATALOGUE)
    data = json.loads(json.dumps(report.model_dump(mode="json")))
    assert list(data) == [
        "service",
        "environment",
        "month",
        "sno_version",
        "kpis",
        "norms_not_measured",
        "notes",
        "due_date",
        "disruptions",
    ]
    assert (data["service"], data["month"], data["sno_version"]) == ("digid", "2026-04", "3.0")
    availability = data["kpis"]["availability"]
    assert list(availability)[:4] == ["value", "norm", "unit", "status"]
    assert availability["value"] == round((720 - 37 / 60) / 720 * 100, 4)
    assert availability["status"] == "met" and availability["unavailable_hours"] == round(37 / 60, 4)

    def floats(node):
        if isinstance(node, float):
            yield node
        elif isinstance(node, dict):
            for v in node.values():
                yield from floats(v)
        elif isinstance(node, list):
            for v in node:
                yield from floats(v)

    assert all(round(f, 4) == f for f in floats(data))


def test_norms_not_measured_are_listed_as_stated_with_status_info() -> None:
    """Section 8 / R22: DigiD's 24 h data loss; MijnOverheid's 400 suppliers and RPO 0 minutes."""
    digid = judge_month("digid", "production", Month(2026, 4), MonthInputs(), Snapshots(), CATALOGUE)
    mo = judge_month("mijnoverheid", "production", Month(2026, 4), MonthInputs(), Snapshots(), CATALOGUE)
    assert {"norm": "Maximum periode gegevensverlies", "stated": "24 uur", "status": "info"} in [
        n.model_dump() for n in digid.norms_not_measured
    ]
    stated = {n.stated for n in mo.norms_not_measured}
    assert {"400", "0 minuten", "4 uur", "7 dagen"} <= stated
    assert mo.notes and "past" in mo.notes[0]


def test_the_reference_report_ignores_arrival_order_and_duplicates() -> None:
    """docs/events.md: the same events shuffled and partly re-delivered give the same report."""
    events = sample_events()
    expected = reference_report(events, "digid", "production", "2026-04", CATALOGUE).model_dump(mode="json")
    again = events + events[:50]
    random.Random(3).shuffle(again)
    assert (
        reference_report(again, "digid", "production", "2026-04", CATALOGUE).model_dump(mode="json")
        == expected
    )
    assert expected["kpis"]["volume"]["value"] == 300


def test_judging_from_rows_read_back_equals_the_reference_report() -> None:
    """The stream stores (family, key, values) rows; the month judged from them equals the reference."""
    events = sample_events()
    reference = reference_report(events, "digid", "production", "2026-04", CATALOGUE)
    stored = list(MonthInputs.from_events(events, CATALOGUE).iter_rows())
    inputs = MonthInputs()
    for family, key, values in reversed(stored):
        inputs.add(family, key, values)
    report = judge_month(
        "digid",
        "production",
        Month(2026, 4),
        inputs,
        Snapshots.from_events(events),
        CATALOGUE,
        year_inputs=inputs,
    )
    assert report.model_dump(mode="json") == reference.model_dump(mode="json")


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="environment"):
        judge_month("digid", "acceptance", Month(2026, 4), MonthInputs(), Snapshots(), CATALOGUE)

"""The norm catalogue is data (R5): versions, validity, notes, strict validation, and a new version
applied without a code change."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from sno.core.calendar import Month
from sno.core.catalogue import NORMS_FOLDER, load_catalogue
from sno.core.judge import reference_report

CEST = timezone(timedelta(hours=2))
CET = timezone(timedelta(hours=1))


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_the_shipped_catalogue_holds_the_four_sno_versions_with_their_start_dates(catalogue) -> None:
    """R5: DigiD 2.8 and 3.0, Machtigen 2.1 and MijnOverheid 2020, each from its stated date."""
    starts = {
        (v.service, v.version): v.valid_from.isoformat() for vs in catalogue.versions.values() for v in vs
    }
    assert starts == {
        ("digid", "2.8"): "2017-12-01",
        ("digid", "3.0"): "2021-05-21",
        ("digid-machtigen", "2.1"): "2026-02-01",
        ("mijnoverheid", "2020"): "2020-01-01",
    }


def test_a_month_is_judged_by_the_version_in_force_on_its_first_day(catalogue) -> None:
    """R5: May 2021 starts before 3.0 (21 May), so 2.8 judges it; June 2021 is 3.0."""
    assert catalogue.select("digid", Month(2021, 5)).version == "2.8"
    assert catalogue.select("digid", Month(2021, 6)).version == "3.0"
    assert catalogue.select("digid", Month(2017, 12)).version == "2.8"
    assert catalogue.select("mijnoverheid", Month(2026, 4)).version == "2020"


def test_months_after_version_2_9_appeared_say_that_2_8_is_applied_in_its_place(catalogue) -> None:
    """R5: 2.9 (October 2019) is not in hand; its months carry a note, earlier 2.8 months do not."""
    assert catalogue.select("digid", Month(2018, 6)).notes == []
    note = catalogue.select("digid", Month(2020, 6)).notes
    assert len(note) == 1 and "2.9" in note[0] and "2.8" in note[0]
    assert catalogue.select("digid", Month(2021, 6)).notes == []


def test_mijnoverheid_after_2020_carries_a_note_that_it_is_past_its_stated_term(catalogue) -> None:
    """R5: 'tot 01-01-2021 geldig'; no later text, so it stays applied with a note."""
    assert catalogue.select("mijnoverheid", Month(2020, 12)).notes == []
    notes = catalogue.select("mijnoverheid", Month(2021, 1)).notes
    assert len(notes) == 1 and "past" in notes[0]


def test_a_month_before_the_first_version_has_no_norms_and_says_so(catalogue) -> None:
    """R5: Machtigen before February 2026 has no version; the selection is falsy with a note."""
    sel = catalogue.select("digid-machtigen", Month(2026, 1))
    assert not sel
    assert sel.norms is None and sel.version is None
    assert "2026-02-01" in sel.notes[0]


def test_an_unknown_service_is_refused(catalogue) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        catalogue.select("digid-x", Month(2026, 4))


def test_the_numbers_are_those_of_the_dutch_texts(catalogue) -> None:
    """R4, R7, R11, R14, R15, R17, R20, R21 checked against the seeds, one figure per rule."""
    d28 = catalogue.select("digid", Month(2019, 1)).norms
    d30 = catalogue.select("digid", Month(2026, 4)).norms
    m21 = catalogue.select("digid-machtigen", Month(2026, 4)).norms
    mo = catalogue.select("mijnoverheid", Month(2026, 4)).norms
    assert (d28.office_hours.from_, d28.office_hours.to) == (time(8), time(18))
    assert (d30.office_hours.from_, d30.office_hours.to) == (time(8), time(17))
    assert (mo.office_hours.from_, mo.office_hours.to) == (time(8), time(17))
    assert d30.availability["preproduction"].norm == 99.0 and m21.availability["preproduction"].norm == 99.5
    assert mo.availability["production"].norm == 99.0
    assert (mo.incidents.production.p2.hours, mo.incidents.production.p3.hours) == (20, 30)
    assert d30.incidents.preproduction.p1 is None
    assert d30.performance.processing_comparison == "le" and m21.performance.processing_comparison == "lt"
    assert (d30.performance.capacity_per_minute, m21.performance.capacity_per_minute) == (10000, 1000)
    assert d28.capacity_forecast is not None and d30.capacity_forecast is None
    assert (m21.support.phone.answer_seconds, m21.support.phone.satisfaction_above) == (40, 7.8)
    assert d28.support.phone.answer_long_seconds == 600 and d30.support.phone.answer_long_seconds is None
    assert (mo.support.afnemer.workdays, mo.support.afnemer.norm) == (2, 80.0)
    assert "dependency" in m21.excluded_causes and "dependency" not in d30.excluded_causes
    assert mo.mijnoverheid.abonnement_per_night == {
        "abonnement-alles": 225,
        "abonnement-bsn-lijst": 150,
        "abonnement-mutatiebasis": 150,
    }


def _copy_norms(tmp_path: Path) -> Path:
    folder = tmp_path / "norms"
    shutil.copytree(NORMS_FOLDER, folder)
    return folder


def test_an_unknown_key_in_a_norm_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    """R5: a typo must fail loudly instead of silently dropping a norm."""
    folder = _copy_norms(tmp_path)
    path = folder / "digid-3.0.toml"
    path.write_text(path.read_text().replace("[performance]\n", "[performance]\nprocesing_limit = 3\n"))
    with pytest.raises(ValueError, match=r"digid-3\.0\.toml"):
        load_catalogue(folder)


def test_a_norm_out_of_range_is_rejected(tmp_path: Path) -> None:
    """R7: a percentage above 100 is not a norm."""
    folder = _copy_norms(tmp_path)
    path = folder / "digid-3.0.toml"
    text = path.read_text().replace('norm = 99.5\nstated = "99.5 %"', 'norm = 995\nstated = "99.5 %"', 1)
    path.write_text(text)
    with pytest.raises(ValueError, match="less than or equal to 100"):
        load_catalogue(folder)


def _auth(event_id: str, start: datetime, seconds: float) -> dict:
    return {
        "type": "authentication",
        "event_id": event_id,
        "service": "digid",
        "environment": "production",
        "afnemer_id": None,
        "started_at": start,
        "completed_at": start + timedelta(seconds=seconds),
        "outcome": "success",
        "level": None,
    }


def test_a_new_sno_version_file_is_selected_and_applied_without_code_changes(tmp_path: Path) -> None:
    """R5: a fictitious DigiD 4.0 from 2027-01-01 with a 2-second processing limit takes over January
    2027, while December 2026 stays under 3.0's 4 seconds."""
    folder = _copy_norms(tmp_path)
    text = (folder / "digid-3.0.toml").read_text()
    text = text.replace('version = "3.0"', 'version = "4.0"').replace(
        "valid_from = 2021-05-21", "valid_from = 2027-01-01"
    )
    text = text.replace("processing_limit_seconds = 4.0", "processing_limit_seconds = 2.0")
    (folder / "digid-4.0.toml").write_text(text)
    catalogue = load_catalogue(folder)
    assert catalogue.select("digid", Month(2027, 1)).version == "4.0"
    assert catalogue.select("digid", Month(2026, 12)).version == "3.0"
    events = [
        _auth("dec", datetime(2026, 12, 10, 12, 0, tzinfo=CET), 3.0),
        _auth("jan", datetime(2027, 1, 10, 12, 0, tzinfo=CET), 3.0),
    ]
    december = reference_report(events, "digid", "production", "2026-12", catalogue)
    january = reference_report(events, "digid", "production", "2027-01", catalogue)
    assert december.sno_version == "3.0" and december.kpis["processing_time"].value == 100.0
    assert january.sno_version == "4.0" and january.kpis["processing_time"].value == 0.0


def test_no_sno_number_appears_in_the_python_code_of_the_core() -> None:
    """R5: every norm comes from the TOML files; these figures must not be hard-coded anywhere."""
    figures = [
        "99.5", "99.9", "10000", "10_000", "2500000", "2_500_000", "150000", "150_000", "125000",
        "3000000", "500000", "500_000", "5000000", "1000000", "7.5", "7.8", "85.0", "225",
    ]  # fmt: skip
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(f) for f in figures) + r")(?![\w.])")
    core = NORMS_FOLDER.parent
    offenders = []
    for path in core.rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if '"""' in code or code.strip().startswith(('"', "'")):
                continue
            if pattern.search(code):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []

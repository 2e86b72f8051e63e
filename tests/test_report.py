"""`sno report` end to end: a fixed event file through the real broker and worker into embedded ClickHouse,
then every format compared with committed golden files (R5–R23).

Regenerate the golden files with `SNO_UPDATE_GOLDEN=1 pytest tests/test_report.py` and read every diff
before committing it: the JSON must still equal `reference_report` and the hand-computed figures below.
"""

from __future__ import annotations

import builtins
import functools
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.validate import Accepted, validate
from sno.core.buckets import MonthInputs
from sno.core.calendar import Month
from sno.core.catalogue import load_catalogue
from sno.core.judge import judge_month, reference_report
from sno.core.reporting import NO_EVENTS_NOTE
from sno.core.rules.mijnoverheid import MessageTotals, MijnOverheidMeasures
from sno.core.snapshots import Snapshots
from sno.report.i18n import Messages, messages
from sno.report.load import MonthReport, check_arguments, load_month, load_year, read_month_compact
from sno.report.pdf import CHROMIUM_FLAGS, PdfError, chromium_path, render_pdf
from sno.report.render import html_month, render_month, render_year
from sno.rollups import read_month_inputs, read_snapshots
from sno.runtime.broker import LocalBroker
from sno.runtime.store import StoreLock, open_store
from tests.conftest import sno_env
from tests.kafka_util import produce_lines
from tests.test_pipeline import run_worker

GOLDEN = Path(__file__).parent / "golden" / "reports"
EVENTS = GOLDEN / "events.jsonl"
MONTH = "2026-04"
SERVICES = ("digid", "digid-machtigen", "mijnoverheid")
UPDATE = os.environ.get("SNO_UPDATE_GOLDEN") == "1"
SUFFIX = {"json": "json", "markdown": "md", "csv": "csv"}


def _lines() -> list[bytes]:
    return EVENTS.read_bytes().splitlines()


def _titles() -> list[str]:
    return sorted({obj["title"] for obj in map(orjson.loads, _lines()) if obj.get("title")})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden events published to a broker of this module's own and drained by `sno worker`."""
    path = tmp_path_factory.mktemp("report") / "store"
    with LocalBroker() as broker:
        produce_lines(broker.bootstrap, _lines())
        done = run_worker(broker.bootstrap, path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return path


def _sno(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sno.cli", *args], capture_output=True, timeout=120, cwd=cwd, env=sno_env()
    )


def _month_report(store: Path, service: str, month: str = MONTH, days: bool = True):  # type: ignore[no-untyped-def]
    return _loaded(str(store), service, month, days)


@functools.cache
def _loaded(store: str, service: str, month: str, days: bool):  # type: ignore[no-untyped-def]
    """Each month read once per module: fewer openings of the embedded engine in this one process (the
    reports are read-only values; tests render them, never change them)."""
    with open_store(store=store) as st:
        return load_month(st, service, "production", Month.parse(month), load_catalogue(), days=days)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{name} is missing: run with SNO_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


# --- the golden files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("fmt", ["json", "markdown", "csv"])
def test_every_format_of_the_golden_month_equals_its_committed_file(
    store: Path, service: str, fmt: str
) -> None:
    """R23: the Klantrapportage in JSON, Markdown and CSV is exactly the reviewed golden file."""
    loaded = _month_report(store, service, days=False)
    _check_golden(f"{service}-{MONTH}.{SUFFIX[fmt]}", render_month(loaded, fmt))  # type: ignore[arg-type]


@pytest.mark.parametrize("service", SERVICES)
def test_the_public_markdown_equals_its_committed_file(store: Path, service: str) -> None:
    """R23: the public version, reviewed once, stays as it was."""
    loaded = _month_report(store, service, days=False)
    _check_golden(f"{service}-{MONTH}.public.md", render_month(loaded, "markdown", public=True))


@pytest.mark.parametrize("service", SERVICES)
def test_the_english_markdown_equals_its_committed_file(store: Path, service: str) -> None:
    """Issue 15: `--lang en` is the same report with every word, number and date in English."""
    loaded = _month_report(store, service, days=False)
    _check_golden(f"{service}-{MONTH}.en.md", render_month(loaded, "markdown", lang="en"))


@pytest.mark.parametrize("service", SERVICES)
def test_the_report_from_the_pipeline_equals_the_reference_report_on_the_same_events(
    store: Path, service: str
) -> None:
    """The pipeline's tables and the core straight from events agree on every KPI (R5–R23)."""
    events = [r.record for r in map(validate, _lines()) if isinstance(r, Accepted)]
    expected = reference_report(events, service, "production", MONTH, load_catalogue()).model_dump(
        mode="json"
    )
    assert _month_report(store, service, days=False).report.model_dump(mode="json") == expected
    assert orjson.loads((GOLDEN / f"{service}-{MONTH}.json").read_bytes()) == expected


def test_the_compact_month_inputs_judge_the_same_as_every_stored_row(store: Path) -> None:
    """Summing away the afnemer dimension in SQL changes no KPI (R14–R18), for every service."""
    catalogue = load_catalogue()
    month = Month.parse(MONTH)
    with open_store(store=store) as st:
        for service in SERVICES:
            snaps = read_snapshots(st, service)
            full = judge_month(
                service,
                "production",
                month,
                read_month_inputs(st, service, "production", month),
                snaps,
                catalogue,
            )
            compact = judge_month(
                service,
                "production",
                month,
                read_month_compact(st, service, "production", month),
                snaps,
                catalogue,
            )
            assert compact == full


# --- figures computed by hand ----------------------------------------------------------------------------


def test_digid_availability_and_processing_time_match_the_hand_computation(store: Path) -> None:
    """R6, R7, R8, R9, R14 worked out by hand from events.jsonl (April 2026, 30 days of 24 h = 720 h):

    - outage OUT-D-1 14:00–15:30 on 10 April, cause logius: U = 1.5 h; OUT-D-2 (cause internet) is excluded;
      OUT-D-3 (function website) counts only for www.digid.nl: U_website = 1 h.
    - planned window MNT-D-1 on 13 April 00:00–04:00, announced on the 1st, first of the month: M = 4 h.
    - availability = (720 − 1.5 − 4) / (720 − 4) × 100 = 714.5 / 716 × 100 = 99.79050… → 99.7905 (met).
    - website = (720 − 1 − 4) / 716 × 100 = 99.86033… → 99.8603 (met).
    - 200 authentications (one re-sent duplicate counts once); two take 5 s, one exactly 4 s (≤ 4 s is
      within for DigiD): 198 / 200 = 99.0 % < 99.5 % → breached.
    """
    kpis = _month_report(store, "digid", days=False).report.model_dump(mode="json")["kpis"]
    assert kpis["availability"]["value"] == pytest.approx(99.7905, abs=1e-4)
    assert (kpis["availability"]["hours"], kpis["availability"]["unavailable_hours"]) == (720.0, 1.5)
    assert kpis["availability"]["maintenance_hours"] == 4.0
    assert kpis["availability_website"]["value"] == pytest.approx(99.8603, abs=1e-4)
    assert kpis["volume"]["value"] == 200
    assert (kpis["processing_time"]["count"], kpis["processing_time"]["within"]) == (200, 198)
    assert kpis["processing_time"]["value"] == 99.0
    assert kpis["processing_time"]["status"] == "breached"


def test_digid_incident_clocks_match_the_hand_computation(store: Path) -> None:
    """R10–R13 by hand: P1 INC-D-1 resolved in 1.5 clock hours (notified after 20 min): within, 100 %.
    P2 INC-D-2 from Tue 14 April 09:00 to Wed 15 April 12:00: 8 + 4 = 12 office hours (08–17) > 10: 0 %.
    INC-D-4 (P3, detected 29 April 16:00) is open at the month's end: 32 clock hours elapsed."""
    kpis = _month_report(store, "digid", days=False).report.model_dump(mode="json")["kpis"]
    assert (kpis["incident_resolution_p1"]["value"], kpis["incident_notification_p1"]["value"]) == (
        100.0,
        100.0,
    )
    assert kpis["incident_resolution_p2"]["items"][0]["hours"] == 12.0
    assert kpis["incident_resolution_p2"]["status"] == "breached"
    assert [(i["id"], i["elapsed_hours"]) for i in kpis["incidents_open"]["items"]] == [("INC-D-4", 32.0)]


def test_mijnoverheid_message_kpis_match_the_hand_computation(store: Path) -> None:
    """R18 by hand: 60 messages, 5 rejected; of 55 accepted, 50 processed after 1 h and 5 after 30 h:
    50 / 55 = 90.90909… → 90.9091 % (breached, norm 100). 30 of 60 carry an attachment: 50 % (met, ≤ 95);
    one attachment of 600,000 bytes is over 500 kB: 1 (breached, norm 0). Notification 11 was sent at 12:13,
    before notification 10 (queued earlier) at 12:14: one out of order."""
    kpis = _month_report(store, "mijnoverheid", days=False).report.model_dump(mode="json")["kpis"]
    assert kpis["messages_within_24h"]["value"] == pytest.approx(90.9091, abs=1e-4)
    assert (kpis["messages_within_24h"]["count"], kpis["messages_within_24h"]["within"]) == (55, 50)
    assert kpis["attachments_share"]["value"] == 50.0
    assert (kpis["attachments_over_500kb"]["value"], kpis["attachments_over_500kb"]["status"]) == (
        1,
        "breached",
    )
    assert kpis["notifications_out_of_order"]["value"] == 1
    assert kpis["messages_per_afnemer"]["messages_offered"] == 60


def test_machtigen_exactly_four_seconds_is_not_within_the_limit(store: Path) -> None:
    """R14 by hand: 40 transactions, one of exactly 4 s; Machtigen's limit is < 4 s: 39 / 40 = 97.5 %."""
    kpis = _month_report(store, "digid-machtigen", days=False).report.model_dump(mode="json")["kpis"]
    assert (kpis["processing_time"]["value"], kpis["processing_time"]["status"]) == (97.5, "breached")


def test_the_daily_figures_add_up_to_the_month(store: Path) -> None:
    """The charts' days (R1) sum to the month's KPIs: volume and processing counts (R14–R16),
    unavailable and maintenance hours (R6), messages offered (R23)."""
    digid = _month_report(store, "digid")
    kpis = digid.report.model_dump(mode="json")["kpis"]
    assert len(digid.days) == 30
    assert sum(d.volume or 0 for d in digid.days) == kpis["volume"]["value"]
    assert sum(d.processing_count for d in digid.days) == kpis["processing_time"]["count"]
    assert sum(d.processing_within for d in digid.days) == kpis["processing_time"]["within"]
    assert sum(d.unavailable_hours for d in digid.days) == pytest.approx(
        kpis["availability"]["unavailable_hours"]
    )
    assert sum(d.maintenance_hours for d in digid.days) == pytest.approx(
        kpis["availability"]["maintenance_hours"]
    )
    assert sum(d.window_hours for d in digid.days) == pytest.approx(720.0)
    assert digid.days[9].availability == pytest.approx((24 - 1.5) / 24 * 100)
    mo = _month_report(store, "mijnoverheid")
    assert sum(d.messages_offered or 0 for d in mo.days) == 60


# --- public, HTML, command line --------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_public_report_contains_no_title_of_any_incident_or_outage(store: Path, service: str) -> None:
    """R23: titles are left out of the public version in every format, and only they."""
    loaded = _month_report(store, service)
    titles = _titles()
    for fmt in ("json", "markdown", "csv", "html"):
        private = render_month(loaded, fmt)  # type: ignore[arg-type]
        public = render_month(loaded, fmt, public=True)  # type: ignore[arg-type]
        assert any(t in private for t in titles), f"the {fmt} report shows no title: the check proves nothing"
        assert [t for t in titles if t in public] == []
    data = orjson.loads(render_month(loaded, "json", public=True))
    full = orjson.loads(render_month(loaded, "json"))
    assert {k: v["value"] for k, v in data["kpis"].items()} == {
        k: v["value"] for k, v in full["kpis"].items()
    }


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_html_report_is_self_contained_with_its_sections_and_charts(store: Path, lang: str) -> None:
    """R23, R24: one file, no network at view time, every section, and the charts people look at, labelled
    in the language chosen."""
    m = messages(lang)
    html = render_month(_month_report(store, "digid"), "html", lang=lang)
    for section in (
        "summary",
        "kpis",
        "section-availability",
        "disruptions",
        "section-incidents",
        "section-performance",
        "section-support",
        "not-measured",
    ):
        assert f'id="{section}"' in html
    for key in ("chart_availability", "chart_volume", "chart_processing", "chart_incidents"):
        assert f'aria-label="{m.t(key)}"' in html
    assert m.t("legend_norm", value=m.show(99.5, "%")) in html  # the norms drawn from the report
    assert f'<html lang="{lang}">' in html
    assert "<script" not in html and "<link" not in html
    assert re.findall(r"https?://[^\"' ]+", html) == ["http://www.w3.org/2000/svg"] * html.count("<svg")
    mo = render_month(_month_report(store, "mijnoverheid"), "html", lang=lang)
    assert f'aria-label="{m.t("chart_messages")}"' in mo


def test_the_dutch_report_from_the_pipeline_leaves_no_english_sentence_untranslated(store: Path) -> None:
    """Issue 15: every explanation of the golden month reads in Dutch (the catalogue's [sentence])."""
    import sno.report.render as render

    nl = Messages.load("nl")
    original = render.messages
    render.messages = lambda lang: nl if lang == "nl" else original(lang)  # type: ignore[assignment]
    try:
        for service in SERVICES:
            for fmt in ("markdown", "html"):
                render_month(_month_report(store, service), fmt)  # type: ignore[arg-type]
    finally:
        render.messages = original  # type: ignore[assignment]
    assert nl.untranslated == set()


def test_the_disruption_analysis_comes_through_the_pipeline_with_the_owners_text(store: Path) -> None:
    """R24 from the store: OUT-D-1 (1.5 h, P1 INC-D-1 linked) with its analysis; MijnOverheid's only
    outage was a DDoS attack, so it has no analysis although its 2 hours count in availability (R8)."""
    digid = _month_report(store, "digid", days=False).report
    first = digid.disruptions[0]
    assert (first["outage_ids"], first["counted_hours"]) == (["OUT-D-1"], 1.5)
    assert [i["id"] for i in first["incidents"]] == ["INC-D-1"]
    assert "certificaat" in (first["analysis"] or "")
    mo = _month_report(store, "mijnoverheid", days=False).report
    assert mo.disruptions == [] and mo.kpis["availability"].model_extra["unavailable_hours"] == 2.0  # type: ignore[index]
    assert digid.due_date == "2026-05-29"


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason="Chromium is not installed (/usr/bin/chromium)"
)
def test_the_html_report_renders_in_headless_chromium(store: Path, tmp_path: Path) -> None:
    """Smoke test: a real browser renders the page to a non-trivial PNG."""
    page = tmp_path / "report.html"
    page.write_text(render_month(_month_report(store, "digid"), "html"), encoding="utf-8")
    png = tmp_path / "report.png"
    subprocess.run(
        [
            "/usr/bin/chromium",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1100,2600",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert png.exists() and png.stat().st_size > 20_000
    keep = os.environ.get("SNO_REPORT_PNG")
    if keep:
        shutil.copy(png, keep)


def _pdf_text(pdf: bytes, tmp_path: Path, name: str) -> tuple[str, str]:
    """The PDF's text as `pdftotext -layout` reads it back, and `pdfinfo`'s report."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, timeout=60)
    return text.stdout.decode(), info.stdout.decode()


NEEDS_POPPLER = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed"
)


@NEEDS_POPPLER
@pytest.mark.parametrize("engine", ["weasyprint", "chromium"])
def test_the_pdf_is_a4_with_its_header_page_numbers_sections_and_public_variant(
    store: Path, tmp_path: Path, engine: str
) -> None:
    """Issue 15: the PDF read back has on every page the header (service, month, SNO version, due date)
    and "pagina N van M", A4 pages, the analysis (R24) and the figures in Dutch; the public variant has
    none of the titles or analysis texts (R23)."""
    if engine == "chromium" and chromium_path() is None:
        pytest.skip("Chromium is not installed")
    loaded = _month_report(store, "digid")
    text, info = _pdf_text(render_pdf(loaded, engine=engine), tmp_path, engine)
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])  # type: ignore[index]
    assert pages >= 2
    assert re.search(r"Page size:.*\(A4\)", info), info
    flat = re.sub(r"\s+", " ", text)
    for n in range(1, pages + 1):
        assert f"pagina {n} van {pages}" in flat
    assert flat.count("SNO-versie 3.0 · Uiterste opleverdatum 29 mei 2026") >= pages
    for words in (
        "Klantrapportage DigiD — april 2026",
        "Verstoringsanalyse",
        "99,7905 %",
        "Oplostijd prioriteit 2",
        "niet voldaan",
        "Het servercertificaat van de inlogvoorziening",
    ):
        assert words in flat, words
    assert any(t in flat for t in _titles())
    public, _ = _pdf_text(render_pdf(loaded, public=True, engine=engine), tmp_path, f"{engine}-public")
    public_flat = re.sub(r"\s+", " ", public)
    assert "openbare versie" in public_flat and "Verstoring 1" in public_flat
    assert [t for t in _titles() if t in public_flat] == []
    assert "servercertificaat" not in public_flat
    english, _ = _pdf_text(render_pdf(loaded, lang="en", engine=engine), tmp_path, f"{engine}-en")
    assert "page 1 of" in re.sub(r"\s+", " ", english) and "99.7905 %" in english


@NEEDS_POPPLER
def test_sno_report_writes_a_pdf_that_pdftoppm_renders(store: Path, tmp_path: Path) -> None:
    """The command writes the PDF (bytes, to -o) and a page renders to an image people can look at."""
    out = tmp_path / "digid.pdf"
    done = _sno(
        "report",
        "--service",
        "digid",
        "--month",
        MONTH,
        "--store",
        str(store),
        "--format",
        "pdf",
        "-o",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("page*.png")
    assert png.stat().st_size > 10_000
    keep = os.environ.get("SNO_REPORT_PDF_PNG")
    if keep:
        shutil.copy(png, keep)


#: What cffi says when WeasyPrint is installed but GObject/Pango is not (python:3.11-slim, deploy/Dockerfile
#: before the libraries were added): the OSError ``import weasyprint`` raises there.
NO_PANGO = (
    "cannot load library 'libgobject-2.0-0': libgobject-2.0-0: cannot open shared object file: "
    "No such file or directory.  Additionally, ctypes.util.find_library() did not manage to locate a "
    "library called 'libgobject-2.0-0'"
)


def _weasyprint_without_pango(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake: ``import weasyprint`` raises the OSError of a machine without Pango. This machine has Pango,
    and uninstalling a system library for one test cannot be done, so the import itself is replaced."""
    real = builtins.__import__

    def fake(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise OSError(NO_PANGO)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_without_pango_or_chromium_the_pdf_fails_with_one_line_saying_what_to_install(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeasyPrint installed without Pango raises OSError at import (a fake here, see the helper): with no
    Chromium either, the PDF fails with one line naming the Debian packages and the Chromium way."""
    loaded = _month_report(store, "digid")
    _weasyprint_without_pango(monkeypatch)
    monkeypatch.setattr("sno.report.pdf.chromium_path", lambda: None)
    with pytest.raises(PdfError) as caught:
        render_pdf(loaded, engine="weasyprint")
    line = str(caught.value)
    assert "\n" not in line
    assert "WeasyPrint cannot load Pango" in line and "libgobject-2.0-0" in line
    assert "apt-get install libpango-1.0-0 libpangoft2-1.0-0" in line
    assert "SNO_PDF_ENGINE=chromium" in line


@pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed")
def test_without_pango_the_pdf_falls_back_to_chromium(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WeasyPrint without Pango (the fake OSError at import) and Chromium installed: Chromium prints it."""
    loaded = _month_report(store, "digid")
    _weasyprint_without_pango(monkeypatch)
    assert render_pdf(loaded, engine="weasyprint").startswith(b"%PDF-")


def test_sno_report_without_pango_or_chromium_exits_with_one_line_and_no_traceback(
    store: Path, tmp_path: Path
) -> None:
    """The command on a machine like python:3.11-slim: a fake ``weasyprint`` package first on the path
    raises the OSError of a missing Pango at import (a fake: this machine has Pango), and PATH has no
    Chromium. `sno report --format pdf` exits 1 with one line on stderr, no traceback, no file."""
    fake = tmp_path / "fake" / "weasyprint"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise OSError({NO_PANGO!r})\n")
    (tmp_path / "empty-path").mkdir()
    out = tmp_path / "digid.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "sno.cli", "report", "--service", "digid", "--month", MONTH,
         "--store", str(store), "--format", "pdf", "-o", str(out)],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
        env=sno_env(PYTHONPATH=str(tmp_path / "fake"), PATH=str(tmp_path / "empty-path")),
    )
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "libpango-1.0-0" in lines[0] and "SNO_PDF_ENGINE=chromium" in lines[0], lines[0]
    assert not out.exists()


def test_sno_report_writes_the_month_to_a_file(store: Path, tmp_path: Path) -> None:
    """The command writes what the library renders (R23)."""
    out = tmp_path / "digid.json"
    done = _sno(
        "report", "--service", "digid", "--month", MONTH, "--store", str(store), "-o", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_text() == (GOLDEN / f"digid-{MONTH}.json").read_text()


def test_a_month_without_a_single_event_is_no_data_with_a_note_not_100_percent_met(
    store: Path, tmp_path: Path
) -> None:
    """Issue 17: a month of which the store holds nothing is reported, every KPI no_data with a note,
    instead of "availability 100 % met"; the norms and the due date stay (R23)."""
    done = _sno("report", "--service", "digid", "--month", "2026-07", "--store", str(store), cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    data = orjson.loads(done.stdout)
    assert data["sno_version"] == "3.0" and data["due_date"] == "2026-08-31"
    assert {k["status"] for k in data["kpis"].values()} == {"no_data"}
    assert data["kpis"]["availability"]["norm"] == 99.5
    assert NO_EVENTS_NOTE in data["notes"]


def test_a_month_before_the_first_sno_version_is_a_report_with_the_r5_note(
    store: Path, tmp_path: Path
) -> None:
    """R5, docs/interfaces.md: Machtigen January 2026 is a report, every KPI no_data, with its note."""
    done = _sno(
        "report",
        "--service",
        "digid-machtigen",
        "--month",
        "2026-01",
        "--store",
        str(store),
        "--format",
        "markdown",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    assert "geen SNO-versie van DigiD Machtigen in werking" in text and "**niet voldaan**" not in text
    assert "0 voldaan, 0 niet voldaan" in text


@pytest.mark.parametrize("command", ["report", "alerts"])
def test_a_read_command_on_a_missing_store_fails_in_one_line_and_creates_nothing(
    tmp_path: Path, command: str
) -> None:
    """Issue 17: `--store <typo>` is an error naming the folder, not a new empty store reporting 100 %."""
    typo = tmp_path / "sno-dta"
    args = ["--service", "digid", "--month", MONTH] if command == "report" else []
    done = _sno(command, *args, "--store", str(typo), cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 1 and err.count("\n") == 1 and str(typo) in err, err
    assert not typo.exists()
    (tmp_path / "empty").mkdir()
    done = _sno(command, *args, "--store", str(tmp_path / "empty"), cwd=tmp_path)
    assert done.returncode == 1 and "not a sno store" in done.stderr.decode()
    assert list((tmp_path / "empty").iterdir()) == []


def test_sno_report_due_lists_each_service_with_the_month_due_next(tmp_path: Path) -> None:
    """R23: `sno report --due` needs no store; on 12 May 2026 every service's April report is due 29 May."""
    done = _sno("report", "--due", "--today", "2026-05-12", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    rows = orjson.loads(done.stdout)
    assert [(r["service"], r["month"], r["due_date"]) for r in rows] == [
        (s, "2026-04", "2026-05-29") for s in SERVICES
    ]
    table = _sno("report", "--due", "--today", "2026-05-12", cwd=tmp_path).stdout.decode()
    assert "29 mei 2026" in table and "DigiD Machtigen" in table and "april 2026" in table


@pytest.mark.parametrize(
    "args",
    [
        ("--service", "digit", "--month", MONTH),
        ("--service", "digid", "--month", "2026-13"),
        ("--service", "digid", "--month", "April"),
        ("--service", "digid", "--month", MONTH, "--format", "docx"),
        ("--service", "digid", "--month", MONTH, "--lang", "fr"),
        ("--service", "digid", "--year", "2026", "--format", "pdf"),
        ("--due", "--month", MONTH),
        ("--service", "digid", "--month", MONTH, "--environment", "test"),
        ("--service", "digid", "--month", MONTH, "--year", "2026"),
        ("--month", MONTH),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Unknown service, format or language, malformed month, … : one line, status 2."""
    done = _sno("report", *args, "--store", str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == 2
    err = done.stderr.decode()
    assert err.startswith("sno: ") and err.count("\n") == 1, err


def test_a_store_held_by_a_worker_gives_the_stores_one_line_error(tmp_path: Path) -> None:
    """The embedded store admits one process: the report names the holder instead of failing deep inside."""
    path = tmp_path / "busy"
    lock = StoreLock(path.resolve(), "sno worker")
    lock.acquire()
    try:
        done = _sno("report", "--service", "digid", "--month", MONTH, "--store", str(path), cwd=tmp_path)
    finally:
        lock.release()
    err = done.stderr.decode()
    assert done.returncode == 1 and err.count("\n") == 1 and "sno worker" in err, err


# --- the year overview -----------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_year_overview_agrees_with_the_month_report_from_the_table_and_judged(
    store: Path, service: str
) -> None:
    """R23: the year table shows each month's status per KPI, read from sno_kpi_monthly where the worker
    wrote it and judged from the rollups otherwise; both give the month report's statuses."""
    catalogue = load_catalogue()
    month = _month_report(store, service, days=False).report
    with open_store(store=store) as st:
        judged = load_year(st, service, "production", 2026, catalogue, use_table=False)
        mixed = load_year(st, service, "production", 2026, catalogue)
    expected = {k: v.status for k, v in month.kpis.items()}
    for overview in (judged, mixed):
        assert {k: overview.kpis[k][MONTH].status for k in expected} == expected
    assert mixed.sources[MONTH] == "sno_kpi_monthly"  # the worker refreshed the month it touched
    assert set(judged.sources.values()) == {"judged"}
    if service == "digid-machtigen":
        assert judged.sno_versions["2026-01"] is None  # before Machtigen 2.1 (R5)
        assert any("No SNO version" in n for n in judged.notes["2026-01"])
    assert {judged.kpis[k]["2026-07"].status for k in judged.kpis} == {"no_data"}  # no event in July
    text = render_year(judged, "markdown")
    assert len(re.findall(r"^\| [^|]+ \| `[a-z0-9_]+` \|", text, re.MULTILINE)) == len(judged.kpis)
    for fmt in ("json", "csv", "html"):
        assert render_year(judged, fmt)  # type: ignore[arg-type]


def test_sno_report_year_prints_every_month_in_one_table(store: Path, tmp_path: Path) -> None:
    """The manager's table: `sno report --year` (R23)."""
    done = _sno(
        "report",
        "--service",
        "digid",
        "--year",
        "2026",
        "--format",
        "csv",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert lines[0].startswith("service,environment,month")
    assert any(
        ",2026-04,3.0," in line and ",processing_time," in line and line.endswith(",breached")
        for line in lines
    )


def test_check_arguments_accepts_the_first_month_of_a_version() -> None:
    """R5: Machtigen 2.1 is in force from February 2026."""
    assert str(check_arguments("digid-machtigen", "production", "2026-02", load_catalogue())) == "2026-02"


# --- a month of many afnemers (R23) -----------------------------------------------------------------------

#: The days on which an afnemer's messages were not all processed: (day, afnemer) → (rejected, pending);
#: all in the first five days, so that a month of 5 days and one of 30 have the same ones.
MISSED = {(3, 0): (1, 0), (3, 12): (2, 0), (5, 7): (0, 1), (5, 39): (1, 1)}


def _afnemer(a: int) -> str:
    return f"{a + 1:020d}"


def _many_afnemers(afnemers: int, days: int) -> MonthReport:
    """A MijnOverheid April 2026 of ``afnemers`` afnemers offering messages on each of ``days`` days, judged
    by the rules from measures made here, as ClickHouse sums them for ``sno report`` (R18, R19, R23)."""
    rows = []
    for d in range(1, days + 1):
        for a in range(afnemers):
            offered = 1 + (a + d) % 7
            rejected, pending = MISSED.get((d, a), (0, 0))
            rows.append((date(2026, 4, d), _afnemer(a), offered, offered - rejected - pending, rejected))
    totals = MessageTotals(
        count=sum(r[2] for r in rows), processed=sum(r[3] for r in rows), rejected=sum(r[4] for r in rows)
    )
    measures = MijnOverheidMeasures(
        messages=totals,
        messages_per_hour=(),
        messages_peak_second=None,
        messages_per_day=tuple(rows),
        notifications_per_hour=(),
        notifications_out_of_order=None,
        notifications_compared=0,
        api_per_hour=(),
        abonnement_per_night=(),
    )
    month, catalogue = Month(2026, 4), load_catalogue()
    report = judge_month(
        "mijnoverheid", "production", month, MonthInputs(), Snapshots(), catalogue, mijnoverheid=measures
    )
    return MonthReport(report=report)


def _missed(afnemers: int, days: int) -> list[tuple[int, str]]:
    """The missed days of ``_many_afnemers(afnemers, days)`` as (day of April, afnemer), in date order."""
    return sorted((d, _afnemer(a)) for d, a in MISSED if d <= days and a < afnemers)


def _kpi_html(html: str, kpi_id: str) -> str:
    """The HTML of one KPI's block, from its heading to the next KPI's or the section's end."""
    start = html.index(f'id="kpi-{kpi_id}"')
    ends = [i for i in (html.find('<div class="kpi">', start), html.find("</section>", start)) if i >= 0]
    return html[start : min(ends)]


@pytest.mark.parametrize(("lang", "public"), [("nl", False), ("nl", True), ("en", False)])
def test_the_daily_counts_per_afnemer_are_a_row_per_afnemer_and_the_missed_days_in_full(
    lang: str, public: bool
) -> None:
    """R23 for people: 40 afnemers × 30 days are 1,200 day figures. HTML (page and PDF) and Markdown show a
    row per afnemer and, in full, the 4 days on which not every message offered was processed: rows
    bounded by afnemers + those days, not afnemers × days. They say that CSV and JSON hold every day, and
    those two keep all 1,200 items with the keys of docs/interfaces.md."""
    afnemers, days = 40, 30
    month = _many_afnemers(afnemers, days)
    m = messages(lang)
    missed = [(m.date(date(2026, 4, d)), a) for d, a in _missed(afnemers, days)]
    assert len(missed) == len(MISSED)
    elsewhere = m.plural("afnemer_days_elsewhere", afnemers * days, rows=m.number(afnemers * days))
    header_rows = 2  # the afnemers' table's and the missed days' table's

    page = render_month(month, "html", public=public, lang=lang)
    for html in (page, html_month(month, public, lang, pdf=True)):  # the page and the page the PDF prints
        block = _kpi_html(html, "messages_per_afnemer")
        rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", block, re.S)]
        assert len(rows) == afnemers + len(missed) + header_rows
        assert [r[0] for r in rows if len(r) == 8] == [_afnemer(a) for a in range(afnemers)]
        assert [(r[0], r[1]) for r in rows if len(r) == 5] == missed
        for text in (m.t("afnemer_month"), m.t("afnemer_days_missed"), elsewhere):
            assert text in block

    md = render_month(month, "markdown", public=public, lang=lang)
    section = md[md.index("(`messages_per_afnemer`)") :]
    section = section[: section.find("\n## ")]
    lines = [line.strip("| ").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    assert len(lines) == afnemers + len(missed) + header_rows
    assert [r[0] for r in lines if len(r) == 8][1:] == [_afnemer(a) for a in range(afnemers)]
    assert [(r[0], r[1]) for r in lines if len(r) == 5][1:] == missed
    assert elsewhere in section

    data = orjson.loads(render_month(month, "json", public=public, lang=lang))
    items = data["kpis"]["messages_per_afnemer"]["items"]
    assert len(items) == afnemers * days
    assert {tuple(i) for i in items} == {("date", "afnemer_id", "offered", "processed", "rejected")}
    csv = render_month(month, "csv", public=public, lang=lang).splitlines()
    (row,) = [line for line in csv if line.startswith("kpi,") and ",messages_per_afnemer," in line]
    assert row.count('""date""') == afnemers * days


def test_a_month_whose_every_message_was_processed_says_so_under_the_afnemers() -> None:
    """R23: with no day to list in full, the report says every message offered was processed."""
    m = messages("nl")
    block = _kpi_html(render_month(_many_afnemers(3, 2), "html"), "messages_per_afnemer")
    assert m.t("afnemer_days_missed_none") in block
    assert len(re.findall(r"<tr>", block)) == 3 + 1  # the afnemers and their header, no second table


@NEEDS_POPPLER
def test_the_mijnoverheid_pdf_does_not_grow_with_the_days_of_its_afnemers(tmp_path: Path) -> None:
    """The PDF is as long as its afnemers and missed days make it, not afnemers × days: 40 afnemers over
    30 days print on as many pages as over 5 days with the same missed days (7; a table of every day and
    afnemer made it 35), and every missed day is in it with its figures."""
    long_text, long_info = _pdf_text(render_pdf(_many_afnemers(40, 30)), tmp_path, "thirty")
    _, short_info = _pdf_text(render_pdf(_many_afnemers(40, 5)), tmp_path, "five")
    pages = int(re.search(r"Pages:\s+(\d+)", long_info)[1])  # type: ignore[index]
    assert pages == int(re.search(r"Pages:\s+(\d+)", short_info)[1])  # type: ignore[index]
    assert pages <= 8
    flat = re.sub(r"\s+", " ", long_text)
    for d, a in _missed(40, 30):
        assert re.search(rf"\b{d} april 2026 {a} \d+ \d+ \d+", flat), (d, a)
    assert "De cijfers per dag en afnemer (1.200 regels) staan volledig in de CSV- en JSON-versie" in flat

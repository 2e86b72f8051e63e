"""The hostile corpus against the validator, the dead-letter builder and the fold, in process
(docs/events.md, "Invalid input"): every line gets the verdict the contract gives it, nothing raises, and
no dead letter carries a BSN once decoded. The pipeline runs of the same corpus are in test_pipeline.py.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schemas.deadletter import MAX_ORIGINAL_BYTES, FileSource, TopicSource, deadletter_record, original_bytes
from schemas.validate import REASONS, validate
from sno.core.topics import TOPICS
from streams.processor import EventProcessor
from streams.sink import SeenLookup
from tests.hostile.corpus import (
    ANY,
    FAR_FUTURE,
    OK,
    Case,
    by_kind,
    full,
    needles,
    quick,
    topic_for,
    wrong_topic_cases,
)
from tests.hostile.scan import scan

QUICK = quick()
KINDS = sorted(by_kind(QUICK))


def _verdict(case: Case, topic: str | None = None) -> str:
    result = validate(case.line, topic)
    return OK if result.ok else result.reason  # type: ignore[union-attr]


def _mismatches(cases: list[Case]) -> list[str]:
    out = []
    for case in cases:
        got = _verdict(case, case.topic)
        if (case.expect == ANY and got == OK) or case.expect not in (ANY, got):
            out.append(f"{case.kind} / {case.name}: expected {case.expect}, got {got}")
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_hostile_line_of_a_class_gets_the_verdict_of_the_contract(kind: str) -> None:
    assert _mismatches([c for c in QUICK if c.kind == kind]) == []


def test_an_event_on_another_type_s_topic_is_rejected_there_and_valid_on_its_own() -> None:
    """docs/events.md: an event on a topic that is not its type's is invalid input (counted once, on its
    own topic)."""
    assert _mismatches(wrong_topic_cases()) == []


def test_every_rejection_has_a_known_reason_and_a_message_without_a_bsn() -> None:
    forms = needles(QUICK)
    for case in QUICK:
        result = validate(case.line)
        if not result.ok:
            assert result.reason in REASONS and result.reason != "internal_error", case.name  # type: ignore[union-attr]
            assert not scan([("message", result.message.encode())], forms), case.name  # type: ignore[union-attr]


def _check_deadletters(cases: list[Case]) -> None:
    forms = needles(cases)
    for case in cases:
        result = validate(case.line)
        if result.ok:
            continue
        for source in (FileSource("hostile.jsonl", 1), TopicSource(TOPICS["authentication"], 0, 7)):
            record = deadletter_record(result, case.line, source)  # type: ignore[arg-type]
            kept = original_bytes(record)
            assert not scan([(case.name, kept), ("record", repr(record).encode())], forms), case.name
            assert not (record["original_redacted"] and record["original_omitted"]), case.name
            if record["original_omitted"]:
                assert kept == b"", case.name
            elif not record["original_redacted"]:
                assert kept == case.line[:MAX_ORIGINAL_BYTES], case.name
            kept_a_bsn = any(n in case.line[:MAX_ORIGINAL_BYTES] for n in case.needles)
            if kept_a_bsn and not record["original_omitted"]:
                assert record["original_redacted"], f"{case.name}: a BSN was kept, so it was redacted"


def test_no_dead_letter_of_the_corpus_carries_a_bsn_once_decoded_and_its_flags_say_what_was_done() -> None:
    """docs/events.md: a dead letter never carries a BSN; where it cannot be redacted with certainty the
    original is left out (`original_omitted`), and `original_redacted` is true only when it was."""
    _check_deadletters(QUICK)


def test_the_fold_survives_the_corpus_dead_letters_every_rejection_and_counts_only_the_valid_lines() -> None:
    """The worker's fold (streams/processor.py) on the corpus as topic records, each on its type's
    topic: it never raises, every rejected record is a dead-letter row without a BSN, and exactly the
    valid lines are processed."""
    cases = [*QUICK, *wrong_topic_cases()]
    records = [(topic_for(case), 0, offset, case.line) for offset, case in enumerate(cases)]
    processor = EventProcessor()
    batch = processor.fold(records)
    if isinstance(batch, SeenLookup):  # events far apart in time ask the store; a fresh store has none
        batch = processor.resume([])
    rejected = sum(1 for c in cases if c.expect != OK)
    assert (batch.rejected, batch.processed + batch.duplicates) == (rejected, len(cases) - rejected)
    table = next(t for t in batch.tables if t.table == "sno_deadletter")
    payload = b"".join(chunk for _, chunk in table.chunks)
    originals = [base64.b64decode(o) for o in _originals(payload)]
    assert len(originals) == rejected
    assert not scan([("fold rows", payload), *(("original", o) for o in originals)], needles(cases))
    assert not scan([(f"letter {k!r}", v) for k, v in batch.deadletters], needles(cases))


def _originals(payload: bytes) -> list[str]:
    """The `original` column of dead-letter rows (arrays in the table's column order)."""
    import orjson

    from streams.processor import DEADLETTER_COLUMNS

    at = DEADLETTER_COLUMNS.index("original")
    return [orjson.loads(line)[at] for line in payload.splitlines() if line]


_FAR_FUTURE_REPRO = textwrap.dedent("""
    import json
    from schemas.validate import validate
    from sno.core.alerts import AlertEngine
    from sno.core.catalogue import load_catalogue
    from sno.core.topics import TOPICS
    from tests.hostile.corpus import base
    def event(kind, n, started, completed):
        line = json.dumps({**base(kind), "event_id": f"e{n}", "started_at": started,
                           "completed_at": completed})
        return validate(line.encode()).record
    engine = AlertEngine(load_catalogue())
    engine.observe(event("transaction", 1, "2026-04-02T10:00:00+02:00", "2026-04-02T10:00:01+02:00"),
                   (TOPICS["transaction"], 0))
    engine.observe(event("authentication", 2, "2026-04-02T10:00:00Z", "2026-04-02T10:00:01Z"),
                   (TOPICS["authentication"], 0))
    engine.advance()
    engine.observe(event("authentication", 3, "2099-12-31T23:59:58Z", "2099-12-31T23:59:59.999999Z"),
                   (TOPICS["authentication"], 0))
    engine.advance()
""")


def test_a_valid_event_dated_2099_after_events_of_today_does_not_stall_the_alert_engine() -> None:
    """docs/events.md admits instants up to 2099-12-31 (UTC); a producer's clock bug must not stall the
    worker. Found by this corpus in the alert engine before its rewrite (sno/core/alerts): with a DigiD
    Machtigen transaction and a DigiD authentication of today seen, advancing to 2099 stepped through
    the minutes in between (> 6 minutes, the worker stalled with batches in flight)."""
    try:
        subprocess.run([sys.executable, "-c", _FAR_FUTURE_REPRO], timeout=30, check=True,
                       cwd=Path(__file__).resolve().parents[2])
    except subprocess.TimeoutExpired:
        pytest.fail(f"{FAR_FUTURE}: AlertEngine.advance did not return within 30 s")


@pytest.mark.slow
def test_the_full_corpus_gets_its_verdicts_and_leaves_no_bsn_in_any_dead_letter() -> None:
    cases = full()
    assert _mismatches(cases) == []
    _check_deadletters(cases)

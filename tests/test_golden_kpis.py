"""Hand-computed golden cases (tests/golden/kpi/*.json) against the reference report (R1–R23).

Each file gives events exactly as in docs/events.md and the KPI keys computed by hand; the events are turned
into the records a validated event produces (instants as aware datetimes, absent optional fields None,
``environment`` defaulted) and judged by ``reference_report``. Only the keys a case gives are compared:
numbers with an absolute tolerance of 1e-4, ``at`` as an instant, ``items`` matched by their id.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sno.core.catalogue import load_catalogue
from sno.core.judge import reference_report

GOLDEN = Path(__file__).parent / "golden" / "kpi"
CASES = sorted(GOLDEN.glob("*.json"))

#: Every field of each type in docs/events.md, so absent optional fields become None as after validation.
FIELDS: dict[str, tuple[str, ...]] = {
    "authentication": ("started_at", "completed_at", "outcome", "level"),
    "transaction": ("started_at", "completed_at", "outcome", "operation"),
    "message": ("received_at", "processed_at", "status", "attachment_count", "attachment_bytes"),
    "notification": ("queued_at", "sent_at", "channel"),
    "api_request": ("api", "received_at", "completed_at", "status_code", "bsn_count"),
    "incident": (
        "incident_id",
        "updated_at",
        "status",
        "impact",
        "urgency",
        "detected_at",
        "notified_at",
        "resolved_at",
        "cause",
        "title",
    ),
    "outage": ("outage_id", "updated_at", "started_at", "ended_at", "cause", "function", "title"),
    "maintenance": (
        "maintenance_id",
        "updated_at",
        "kind",
        "status",
        "announced_at",
        "starts_at",
        "ends_at",
        "component",
    ),
    "support_contact": ("channel", "received_at", "answered_at", "abandoned", "satisfaction", "kind"),
    "forecast": ("month", "messages"),
}
ITEM_IDS = ("id", "api", "afnemer_id")


def as_record(raw: dict[str, Any]) -> dict[str, Any]:
    """What a validated event's ``model_dump()`` gives for ``raw`` (docs/events.md)."""
    record: dict[str, Any] = {
        "type": raw["type"],
        "event_id": raw["event_id"],
        "service": raw["service"],
        "environment": raw.get("environment") or "production",
        "afnemer_id": raw.get("afnemer_id"),
    }
    for name in FIELDS[raw["type"]]:
        value = raw.get(name)
        if name.endswith("_at") and value is not None:
            value = datetime.fromisoformat(value)
            assert value.tzinfo is not None, f"{name} of {raw['event_id']} has no offset"
        record[name] = value
    if raw["type"] == "support_contact":
        record["abandoned"] = bool(record["abandoned"])
    return record


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _compare(path: str, expected: Any, actual: Any, problems: list[str]) -> None:
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if path.endswith(".at") and isinstance(expected, str) and isinstance(actual, str):
            if _instant(expected) != _instant(actual):
                problems.append(f"{path}: expected {expected}, got {actual}")
        elif expected != actual:
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, int | float):
        if not isinstance(actual, int | float) or isinstance(actual, bool) or abs(expected - actual) > 1e-4:
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
    elif isinstance(expected, list):
        if not isinstance(actual, list):
            problems.append(f"{path}: expected a list, got {actual!r}")
            return
        if expected and isinstance(expected[0], dict) and any(k in expected[0] for k in ITEM_IDS):
            id_key = next(k for k in ITEM_IDS if k in expected[0])
            by_id = {item.get(id_key): item for item in actual if isinstance(item, dict)}
            for item in expected:
                found = by_id.get(item[id_key])
                if found is None:
                    problems.append(f"{path}: no item with {id_key}={item[id_key]!r} in {list(by_id)}")
                else:
                    _compare(f"{path}[{item[id_key]}]", item, found, problems)
            if len(actual) != len(expected):
                problems.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
        else:
            if len(expected) != len(actual):
                problems.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
            for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
                _compare(f"{path}[{i}]", e, a, problems)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: expected an object, got {actual!r}")
            return
        for key, value in expected.items():
            if key not in actual and value is None:
                continue
            _compare(f"{path}.{key}", value, actual.get(key), problems)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


@pytest.mark.skipif(not CASES, reason="no golden cases in tests/golden/kpi")
@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_the_reference_report_matches_the_hand_computed_golden_case(case: Path, catalogue) -> None:
    spec = json.loads(case.read_text())
    events = [as_record(e) for e in spec["events"]]
    report = reference_report(events, spec["service"], spec["environment"], spec["month"], catalogue)
    kpis = report.model_dump(mode="json")["kpis"]
    problems: list[str] = []
    for kpi_id, expected in spec["expect"].items():
        actual = kpis.get(kpi_id)
        if actual is None:
            if expected.get("value", "missing") is None:
                continue
            problems.append(f"{kpi_id}: missing from the report")
            continue
        _compare(kpi_id, expected, actual, problems)
    assert not problems, f"{spec['name']} ({', '.join(spec.get('rules', []))}):\n" + "\n".join(problems)

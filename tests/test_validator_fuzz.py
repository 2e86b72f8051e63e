"""Fuzzing the validator (docs/events.md, "Invalid input"): whatever arrives, it answers and never raises,
it never accepts a `bsn` field or an instant without an offset, and what it accepts is well formed.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.deadletter import FileSource, TopicSource, deadletter_record, original_bytes
from schemas.events import EVENT_MODELS, TOPICS
from schemas.validate import REASONS, Accepted, Rejected, validate

GOLDEN = Path(__file__).parent / "golden" / "events"
BASES: list[dict[str, Any]] = [
    json.loads((GOLDEN / f"{event_type}.json").read_text(encoding="utf-8"))["base"] for event_type in TOPICS
]
# Written independently of the code under test: an ISO instant ending in Z or ±hh:mm.
OFFSET_AT_END = re.compile(r"([Zz]|[+-]\d{2}:\d{2})$")

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _has_bsn_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.lower() == "bsn" or _has_bsn_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bsn_key(v) for v in value)
    return False


def _well_formed(result: Accepted | Rejected) -> None:
    if isinstance(result, Rejected):
        assert result.reason in REASONS and result.reason != "internal_error", result
        assert isinstance(result.message, str) and result.message
    else:
        assert isinstance(result, Accepted)
        assert result.topic == TOPICS[result.type]
        assert set(result.record) == set(EVENT_MODELS[result.type].model_fields)
        for value in result.record.values():
            if isinstance(value, datetime):
                assert value.tzinfo is not None and value.utcoffset() is not None


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_make_the_validator_raise(raw: bytes) -> None:
    """docs/events.md: invalid input never stops the worker; every answer has a documented reason."""
    _well_formed(validate(raw))


@FUZZ
@given(json_values)
def test_arbitrary_json_never_makes_the_validator_raise(value: Any) -> None:
    """docs/events.md: whatever JSON arrives is either an event or a documented rejection."""
    result = validate(json.dumps(value).encode())
    _well_formed(result)
    if not isinstance(value, dict):
        assert isinstance(result, Rejected) and result.reason == "not_object"


def _plant_bsn(draw: st.DrawFn, event: dict[str, Any]) -> None:
    spelling = draw(st.sampled_from(["bsn", "BSN", "Bsn", "bSn"]))
    holder: Any = {spelling: draw(json_values)}
    depth = draw(st.integers(0, 3))
    for _ in range(depth):
        holder = draw(st.sampled_from([{"nested": holder}, [1, holder]]))
    if depth == 0:
        event.update(holder)
    else:
        event[draw(st.sampled_from(["context", "extra", "meta"]))] = holder


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A golden valid event with a few random edits, sometimes with a bsn key planted in it."""
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["delete", "replace", "add", "naive", "null", "plant_bsn"]))
        keys = sorted(event)
        if action == "delete" and keys:
            del event[draw(st.sampled_from(keys))]
        elif action == "replace" and keys:
            event[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "add":
            event[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        elif action == "null" and keys:
            event[draw(st.sampled_from(keys))] = None
        elif action == "naive":
            instants = [k for k, v in event.items() if isinstance(v, str) and OFFSET_AT_END.search(v)]
            if instants:
                name = draw(st.sampled_from(instants))
                event[name] = OFFSET_AT_END.sub("", event[name])
        elif action == "plant_bsn":
            _plant_bsn(draw, event)
    return event


@st.composite
def events_with_a_planted_bsn(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    _plant_bsn(draw, event)
    return event


@FUZZ
@given(events_with_a_planted_bsn())
def test_a_valid_event_with_a_bsn_planted_anywhere_is_rejected_for_it(event: dict[str, Any]) -> None:
    """docs/events.md: an event carrying a field named bsn, at any depth, is rejected."""
    result = validate(json.dumps(event).encode())
    assert isinstance(result, Rejected) and result.reason == "bsn_forbidden"
    assert result.field is not None and result.field.lower().endswith(".bsn")


@FUZZ
@given(mutated_events())
def test_mutated_events_never_raise_never_pass_a_bsn_and_never_pass_a_naive_instant(
    event: dict[str, Any],
) -> None:
    """docs/events.md: a bsn field at any depth and an instant without an offset are always rejected."""
    result = validate(json.dumps(event).encode())
    _well_formed(result)
    if _has_bsn_key(event):
        assert isinstance(result, Rejected) and result.reason == "bsn_forbidden"
    if isinstance(result, Accepted):
        assert not _has_bsn_key(event)
        model_fields = EVENT_MODELS[result.type].model_fields
        for name, value in event.items():
            if name in model_fields and isinstance(result.record[name], datetime):
                assert isinstance(value, str) and OFFSET_AT_END.search(value), name


@FUZZ
@given(st.sampled_from(BASES), st.dictionaries(st.text(max_size=12), json_values, max_size=5))
def test_unknown_fields_never_change_the_verdict_on_a_valid_event(
    base: dict[str, Any], extra: dict[str, Any]
) -> None:
    """docs/events.md: unknown extra fields are ignored (unless one is a bsn field)."""
    extra = {
        k: v for k, v in extra.items() if k not in base and k not in EVENT_MODELS[base["type"]].model_fields
    }
    result = validate(json.dumps({**base, **extra}).encode())
    if _has_bsn_key(extra):
        assert isinstance(result, Rejected) and result.reason == "bsn_forbidden"
    else:
        assert isinstance(result, Accepted), result
        assert result.record == validate(json.dumps(base).encode()).record  # type: ignore[union-attr]


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 2**31), st.text(max_size=30))
def test_a_dead_letter_record_can_be_built_for_any_rejected_input(raw: bytes, offset: int, name: str) -> None:
    """docs/events.md: every rejected input goes to sno.deadletter; building its record never fails."""
    result = validate(raw)
    if isinstance(result, Rejected):
        for source in (FileSource(name, offset + 1), TopicSource(name, 0, offset)):
            record = deadletter_record(result, raw, source)
            assert record["reason"] == result.reason
            kept = original_bytes(record)
            assert kept == raw or record["original_redacted"] or record["original_omitted"]

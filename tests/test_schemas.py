"""The event contract (docs/events.md): models, validator, keys and topics, dead-letter records, published
JSON Schemas and `sno schema`.

The table-driven cases live in tests/golden/events/: per type a valid `base` event, variants that must
be accepted (with what the record must then hold) and minimally broken ones with the reason code they
must be rejected with. The expectations there are read from docs/events.md, not from this code.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from schemas.deadletter import (
    MAX_ORIGINAL_BYTES,
    FileSource,
    TopicSource,
    build_deadletter,
    deadletter_record,
    original_bytes,
    parse_deadletter,
    redact_bsn,
)
from schemas.events import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    EVENT_MODELS,
    KEY_FIELDS,
    TOPICS,
    as_record,
    event_adapter,
    key_of,
    topic_of,
)
from schemas.generate import JSON_DIR, check, generated_files, render, schema_for
from schemas.validate import MAX_LINE_BYTES, REASONS, Accepted, Rejected, find_bsn, validate
from sno.commands.schema import command as schema_command

GOLDEN = Path(__file__).parent / "golden" / "events"
TYPE_FILES = sorted(p for p in GOLDEN.glob("*.json") if p.name != "lines.json")
ABSENT = "<absent>"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _apply(base: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(base)
    for name in case.get("remove", []):
        del event[name]
    event.update(copy.deepcopy(case.get("set", {})))
    return event


def _cases(kind: str) -> list[Any]:
    params = []
    for path in TYPE_FILES:
        doc = _load(path)
        for case in doc[kind]:
            params.append(pytest.param(doc["base"], case, id=f"{path.stem}: {case['name']}"))
    return params


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


# --- the golden table -------------------------------------------------------------------------------


def test_every_event_type_of_the_contract_has_a_golden_file_with_valid_and_broken_cases() -> None:
    """docs/events.md "Types and topics": each of the ten types is covered by the table."""
    covered = {_load(p)["type"] for p in TYPE_FILES if p.stem != "common"}
    assert covered == set(TOPICS)
    for path in TYPE_FILES:
        doc = _load(path)
        assert doc["valid"] and doc["invalid"], path.name
        assert all(case["reason"] in REASONS for case in doc["invalid"]), path.name


@pytest.mark.parametrize(("base", "case"), _cases("valid"))
def test_a_valid_golden_event_is_accepted_with_the_record_the_core_consumes(
    base: dict[str, Any], case: dict[str, Any]
) -> None:
    """docs/events.md: each valid example is accepted and its record holds the stated values (R1: instants
    are aware datetimes that denote the stated instant)."""
    event = _apply(base, case)
    result = validate(_line(event))
    assert isinstance(result, Accepted), result
    assert result.type == event["type"]
    for name, expected in case.get("record", {}).items():
        if expected == ABSENT:
            assert name not in result.record
        elif isinstance(result.record[name], datetime):
            assert result.record[name] == _instant(expected)
        else:
            assert result.record[name] == expected, name


@pytest.mark.parametrize(("base", "case"), _cases("invalid"))
def test_a_minimally_broken_golden_event_is_rejected_with_its_reason_and_field(
    base: dict[str, Any], case: dict[str, Any]
) -> None:
    """docs/events.md "Invalid input": each broken variant is rejected for the rule it breaks."""
    result = validate(_line(_apply(base, case)))
    assert isinstance(result, Rejected), f"accepted: {case['name']}"
    assert (result.reason, result.field) == (case["reason"], case["field"]), result.message
    assert case["field"].split(".")[-1].split("[")[0] in result.message


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["name"]) for c in _load(GOLDEN / "lines.json")["cases"]]
)
def test_raw_golden_lines_are_classified_before_the_schema(case: dict[str, Any]) -> None:
    """docs/events.md "Invalid input": not JSON, not an object, a bsn key however it is spelled."""
    result = validate(case["line"].encode())
    if case["reason"] is None:
        assert isinstance(result, Accepted), result
    else:
        assert isinstance(result, Rejected)
        assert result.reason == case["reason"], result.message
        if "field" in case:
            assert result.field == case["field"]


# --- sizes and encodings ----------------------------------------------------------------------------


def _padded(size: int, newline: bytes = b"") -> bytes:
    event = _load(GOLDEN / "forecast.json")["base"]
    event["padding"] = ""
    bare = len(_line(event))
    event["padding"] = "x" * (size - bare)
    line = _line(event)
    assert len(line) == size
    return line + newline


def test_a_line_of_exactly_one_mebibyte_is_accepted() -> None:
    """docs/events.md: only a line *over* 1 MiB is rejected; the terminator does not count."""
    assert isinstance(validate(_padded(MAX_LINE_BYTES)), Accepted)
    assert isinstance(validate(_padded(MAX_LINE_BYTES, b"\r\n")), Accepted)


def test_a_line_over_one_mebibyte_is_rejected_as_too_large_without_parsing() -> None:
    """docs/events.md: a line over 1 MiB is invalid, even when it is otherwise a valid event."""
    result = validate(_padded(MAX_LINE_BYTES + 1))
    assert isinstance(result, Rejected)
    assert result.reason == "too_large"
    assert str(MAX_LINE_BYTES + 1) in result.message
    # Not parsed: garbage of that size is reported as too large, not as not JSON.
    garbage = validate(b"{" * (MAX_LINE_BYTES + 1))
    assert isinstance(garbage, Rejected) and garbage.reason == "too_large"


def test_bytes_that_are_not_utf8_are_not_json() -> None:
    """docs/events.md "Invalid input": JSON Lines are UTF-8."""
    result = validate(b'{"type": "forecast", "event_id": "\xff\xfe"}')
    assert isinstance(result, Rejected) and result.reason == "not_json"


def test_deep_nesting_neither_raises_nor_hides_a_bsn() -> None:
    """docs/events.md: a bsn field at any depth is rejected; nesting deeper than 64 levels is `too_deep`,
    measured on the bytes, so no depth can crash the validator."""
    deep = b'{"type":"forecast","x":' + b'{"y":' * 62 + b'{"bsn":1}' + b"}" * 62 + b"}"
    result = validate(deep)
    assert isinstance(result, Rejected) and result.reason == "bsn_forbidden"
    assert result.field is not None and result.field.endswith(".y.bsn")
    deeper = b'{"type":"forecast","x":' + b'{"y":' * 500 + b'{"bsn":1}' + b"}" * 500 + b"}"
    assert validate(deeper).reason == "too_deep"  # type: ignore[union-attr]
    too_deep = b"[" * 5000 + b"]" * 5000
    assert isinstance(validate(too_deep), Rejected) and validate(too_deep).reason == "too_deep"  # type: ignore[union-attr]


def test_find_bsn_walks_objects_and_arrays_but_not_values() -> None:
    """docs/events.md: a *field named* bsn, at any depth; `bsn_count` and the value "bsn" are not one."""
    assert find_bsn({"a": [{"b": {"Bsn": 1}}]}) == "$.a[0].b.Bsn"
    assert find_bsn({"bsn_count": 3, "x": ["bsn"], "y": {"note": "bsn"}}) is None


def test_the_validator_accepts_str_and_memoryview_as_well_as_bytes() -> None:
    """The stream hands over whatever its client gives; the result must not depend on it."""
    line = _line(_load(GOLDEN / "forecast.json")["base"])
    assert isinstance(validate(line.decode()), Accepted)
    assert isinstance(validate(memoryview(line)), Accepted)
    assert isinstance(validate(bytearray(line)), Accepted)


# --- records, keys and topics ------------------------------------------------------------------------


def test_the_record_holds_exactly_the_contract_fields_with_plain_values() -> None:
    """What the SNO core consumes: every field of the model, enum values as str, instants aware (R1),
    absent optional fields None, environment defaulted, unknown fields gone."""
    event = _load(GOLDEN / "incident.json")["base"]
    del event["cause"]
    assert "environment" not in event and "afnemer_id" not in event
    event["ticket_system"] = {"id": 7}
    result = validate(_line(event))
    assert isinstance(result, Accepted)
    record = result.record
    assert set(record) == set(EVENT_MODELS["incident"].model_fields)
    assert record["environment"] == "production"
    assert record["cause"] is None and record["afnemer_id"] is None
    assert type(record["status"]) is str and type(record["impact"]) is str
    instants = [v for v in record.values() if isinstance(v, datetime)]
    assert len(instants) == 4 and all(v.utcoffset() is not None for v in instants)
    assert record == as_record(result.event)


def test_snapshots_are_keyed_by_their_own_id_and_other_events_by_event_id() -> None:
    """docs/events.md snapshots: every snapshot of one incident/outage/maintenance shares a key, so they
    keep their order in one partition; other events are keyed by event_id."""
    expected_key = {"incident": "INC-0001", "outage": "OUT-0001", "maintenance": "MNT-0001"}
    for path in TYPE_FILES:
        doc = _load(path)
        if path.stem == "common":
            continue
        result = validate(_line(doc["base"]))
        assert isinstance(result, Accepted)
        want = expected_key.get(doc["type"], doc["base"]["event_id"])
        assert result.key == want.encode()
        assert key_of(result.event) == want
        assert result.topic == topic_of(result.event) == TOPICS[doc["type"]]


def _events_md_topics() -> tuple[dict[str, str], dict[str, str], list[str]]:
    """From docs/events.md: type -> topic and type -> key field (the table "Types and topics"), and the
    topics the pipeline writes itself (the sentence after it), as written there."""
    text = (Path(__file__).parent.parent / "docs/events.md").read_text(encoding="utf-8")
    section = text.split("## Types and topics", 1)[1].split("### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `([\w.-]+)` \| `(\w+)` \|", section, re.MULTILINE)
    own = section.split("writes two topics of its own:", 1)[1].split(".\n", 1)[0]
    outputs = re.findall(r"`(sno\.[\w-]+)`", own)
    return {t: topic for t, topic, _ in rows}, {t: key for t, _, key in rows}, outputs


def test_the_topics_and_keys_are_those_of_events_md() -> None:
    """docs/events.md "Types and topics": every type's topic and key, and the two output topics; read from
    the document, so a topic renamed in sno/core/topics.py and not in the contract fails here."""
    topics, keys, own = _events_md_topics()
    assert len(topics) == 10
    assert topics == TOPICS and list(topics) == list(TOPICS)
    assert keys == KEY_FIELDS
    assert own == [DEADLETTER_TOPIC, ALERTS_TOPIC]


def test_the_discriminated_union_picks_the_model_by_type() -> None:
    """docs/events.md: `type` selects the schema; the union adapter agrees with the validator."""
    base = _load(GOLDEN / "outage.json")["base"]
    event = event_adapter().validate_python(base)
    assert type(event) is EVENT_MODELS["outage"]
    with pytest.raises(ValueError):
        event_adapter().validate_python({**base, "type": "nope"})


def test_models_are_strict_about_json_types_but_ignore_unknown_fields() -> None:
    """docs/events.md: unknown extra fields are ignored; a wrongly typed field is invalid."""
    base = _load(GOLDEN / "message.json")["base"]
    model = EVENT_MODELS["message"]
    assert "extra_thing" not in model.model_validate({**base, "extra_thing": 1}).model_dump()
    with pytest.raises(ValueError):
        model.model_validate({**base, "attachment_count": "2"})


# --- dead letters ------------------------------------------------------------------------------------


def test_a_dead_letter_record_names_reason_source_time_and_carries_the_original() -> None:
    """docs/events.md "Invalid input": the reason, the original bytes and the source go to sno.deadletter."""
    line = b'{"type": "authentication", "event_id": 1}'
    rejected = validate(line)
    assert isinstance(rejected, Rejected)
    when = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    data = build_deadletter(rejected, line, FileSource("april.jsonl", 17), now=when)
    record = parse_deadletter(data)
    assert record["reason"] == rejected.reason == "invalid_field"
    assert record["field"] == "event_id" and record["type"] == "authentication"
    assert record["source"] == {"kind": "file", "file": "april.jsonl", "line": 17}
    assert original_bytes(record) == line
    assert record["original_size"] == len(line)
    assert not record["original_truncated"] and not record["original_redacted"]
    assert record["rejected_at"] == "2026-04-02T08:00:00.000Z"


def test_a_dead_letter_from_the_stream_names_topic_partition_and_offset() -> None:
    """docs/events.md: the source of a streamed input is its topic, partition and offset."""
    record = deadletter_record(Rejected("not_json", "x"), b"oops", TopicSource("sno.messages", 3, 1042))
    assert record["source"] == {"kind": "topic", "topic": "sno.messages", "partition": 3, "offset": 1042}
    assert record["type"] is None and record["field"] is None


def test_a_dead_letter_never_carries_the_bsn_it_was_rejected_for() -> None:
    """docs/events.md: a BSN is never accepted, so it must not be stored in sno.deadletter either."""
    line = b'{"type":"authentication","citizen":{"BSN":"123456782"},"n":[{"bsn":999999990}]}'
    rejected = validate(line)
    assert isinstance(rejected, Rejected) and rejected.reason == "bsn_forbidden"
    assert b"123456782" not in rejected.message.encode()
    record = deadletter_record(rejected, line, FileSource("f", 1))
    kept = original_bytes(record)
    assert record["original_redacted"]
    assert b"123456782" not in kept and b"999999990" not in kept
    assert orjson.loads(kept)["citizen"] == {"BSN": "[redacted]"}
    # Also when the line is not even JSON (on the bytes).
    broken = redact_bsn(b'{"bsn": "123456782", "x": ')
    assert broken.redacted and not broken.omitted and b"123456782" not in broken.data


def test_a_dead_letter_of_a_huge_line_keeps_a_prefix_and_the_full_size() -> None:
    """Kafka refuses messages over about 1 MB: the original is cut, and says so."""
    line = b"x" * (MAX_LINE_BYTES + 10)
    rejected = validate(line)
    assert isinstance(rejected, Rejected)
    record = deadletter_record(rejected, line, FileSource("f", 1))
    assert record["original_truncated"] and record["original_size"] == len(line)
    assert len(base64.b64decode(record["original"])) == MAX_ORIGINAL_BYTES
    assert len(build_deadletter(rejected, line, FileSource("f", 1))) < 1_000_000


def test_parse_deadletter_refuses_something_else() -> None:
    """A consumer of sno.deadletter can tell a record from stray data."""
    with pytest.raises(ValueError):
        parse_deadletter(b'{"reason": "x"}')
    with pytest.raises(ValueError):
        parse_deadletter(b"not json")


# --- published JSON Schemas and `sno schema` -------------------------------------------------------


def test_the_committed_json_schema_files_match_the_models() -> None:
    """The published schema files are generated; a model change without `python -m schemas.generate`
    fails here."""
    assert check(JSON_DIR) == []
    assert sorted(p.name for p in JSON_DIR.glob("*.json")) == sorted(generated_files())


def test_a_json_schema_check_notices_a_stale_file(tmp_path: Path) -> None:
    """The check compares content, so it would catch an edit by hand."""
    for name, text in generated_files().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert check(tmp_path) == []
    (tmp_path / "forecast.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "old_type.json").write_text("{}\n", encoding="utf-8")
    assert check(tmp_path) == ["forecast.json", "old_type.json"]


def test_each_type_schema_states_topic_key_required_fields_and_the_bsn_rule() -> None:
    """docs/events.md as JSON Schema: what a producer needs without reading Python."""
    incident = schema_for("incident")
    assert incident["x-topic"] == "sno.incidents" and incident["x-key"] == "incident_id"
    assert {"incident_id", "updated_at", "status", "detected_at", "event_id", "service"} <= set(
        incident["required"]
    )
    assert "environment" not in incident["required"]
    assert incident["properties"]["updated_at"]["format"] == "date-time"
    assert {"$ref": "#/$defs/NoBsnAnywhere"} in incident["allOf"]
    assert schema_for("forecast")["required"].count("afnemer_id") == 1
    union = schema_for(None)
    assert set(union["discriminator"]["mapping"]) == set(TOPICS)


def test_the_instant_pattern_of_the_schema_requires_an_offset() -> None:
    """docs/events.md: an instant without an offset is invalid; the published pattern says the same."""
    import re

    pattern = re.compile(schema_for("authentication")["properties"]["started_at"]["pattern"])
    assert pattern.match("2026-04-02T10:00:00+02:00") and pattern.match("2026-04-02T08:00:00.5Z")
    assert not pattern.match("2026-04-02T10:00:00")


def test_sno_schema_prints_the_union_or_one_type() -> None:
    """docs/interfaces.md: `sno schema [TYPE]` prints the JSON Schema of all types, or one."""
    runner = CliRunner()
    whole = runner.invoke(schema_command, [])
    assert whole.exit_code == 0
    assert whole.output == (JSON_DIR / "event.json").read_text(encoding="utf-8")
    one = runner.invoke(schema_command, ["support_contact"])
    assert one.exit_code == 0 and json.loads(one.output)["x-topic"] == "sno.support"
    assert one.output == render(schema_for("support_contact"))


def test_sno_schema_with_an_unknown_type_prints_one_line_and_exits_2() -> None:
    """docs/interfaces.md: an unknown TYPE is a usage error."""
    result = CliRunner().invoke(schema_command, ["login"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "login" in result.output


def test_the_schemas_package_imports_no_stream_or_store_client() -> None:
    """schemas is shared by the SNO core side and the stream; it must not pull in Kafka or ClickHouse."""
    code = (
        "import sys, schemas.events, schemas.validate, schemas.deadletter, schemas.generate;"
        "bad = [m for m in ('faust', 'aiokafka', 'kafka', 'clickhouse_connect', 'chdb') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""`sno ingest` (docs/interfaces.md) against a real broker: valid lines reach their topics
(docs/events.md "Types and topics") with their keys, rejected lines reach `sno.deadletter` with their
reasons (docs/events.md "Invalid input"), and the failures that end a run do so with one line and a
non-zero status.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from click.testing import CliRunner

from schemas.deadletter import original_bytes, parse_deadletter
from schemas.events import DEADLETTER_TOPIC, TOPICS
from schemas.validate import MAX_LINE_BYTES
from sno import ingest
from sno.commands.ingest import command as ingest_command
from sno.ingest import LineReader, publish_files
from sno.ingest import publisher as ingest_publisher
from sno.runtime.broker import LocalBroker
from tests.conftest import sno_env

GOLDEN = Path(__file__).parent / "golden" / "events"
KEYS = {"incident": "incident_id", "outage": "outage_id", "maintenance": "maintenance_id"}


def _base(event_type: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{event_type}.json").read_text(encoding="utf-8"))["base"]


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


async def _read(bootstrap: str, topic: str, expected: int) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of a topic from the beginning, outside any consumer group; stops at
    `expected` records or after a second without one (the broker's end offsets are not trusted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata that partitions_for_topic reads
        parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        await consumer.seek_to_beginning()
        out: list[tuple[int, bytes | None, bytes]] = []
        while len(out) < expected:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if not batch:
                break
            for tp, records in batch.items():
                out.extend((tp.partition, r.key, r.value) for r in records)
        return out
    finally:
        await consumer.stop()


def _read_topic(bootstrap: str, topic: str, expected: int) -> list[tuple[int, bytes | None, bytes]]:
    return asyncio.run(_read(bootstrap, topic, expected))


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- reading lines -----------------------------------------------------------------------------------


def _all_lines(data: bytes, block: int, max_line: int) -> list[tuple[bytes, int | None]]:
    reader = LineReader(io.BufferedReader(io.BytesIO(data)), block=block, max_line=max_line)
    out: list[tuple[bytes, int | None]] = []
    while (chunk := reader.read_chunk()) is not None:
        out.extend((line, chunk.oversize.get(i)) for i, line in enumerate(chunk.lines))
    return out


@pytest.mark.parametrize("block", [1, 3, 7, 64, 4096])
def test_lines_are_split_the_same_whatever_the_read_block_size(block: int) -> None:
    """JSON Lines: one line per event, CRLF allowed, the last line may lack its newline; line numbers
    (for dead letters) depend on blank lines being kept in place."""
    data = b'{"a":1}\r\n\n{"b":2}\n   \n{"c":3}'
    lines = _all_lines(data, block, max_line=100)
    assert [line for line, _ in lines] == [b'{"a":1}', b"", b'{"b":2}', b"   ", b'{"c":3}']
    assert all(size is None for _, size in lines)


@pytest.mark.parametrize("block", [2, 5, 16, 1000])
def test_an_over_long_line_is_cut_and_measured_without_disturbing_the_next(block: int) -> None:
    """docs/events.md: a line over the limit is rejected; the reader keeps only a prefix of it but reports
    its full size, and the lines around it are intact."""
    long = b"x" * 37
    data = b"ok1\n" + long + b"\nok2\n" + long + b"y"  # the last over-long line has no newline
    lines = _all_lines(data, block, max_line=10)
    assert [(line[:3], size) for line, size in lines] == [
        (b"ok1", None),
        (b"xxx", 37),
        (b"ok2", None),
        (b"xxx", 38),
    ]
    assert len(lines[1][0]) == 11


# --- against the broker ------------------------------------------------------------------------------


@pytest.fixture
def event_files(tmp_path: Path) -> dict[str, Any]:
    """A plain file and a gzip file with one valid event per type, snapshots of one incident, a blank
    line, and one bad line per kind of rejection; returns what a test should find on the broker."""
    run = uuid.uuid4().hex[:8]
    valid: list[dict[str, Any]] = []
    for event_type in TOPICS:
        event = _base(event_type)
        event["event_id"] = f"{run}-{event_type}"
        valid.append(event)
    snapshots = []
    for version, status in enumerate(["open", "open", "resolved"]):
        event = _base("incident")
        event.update(event_id=f"{run}-inc-v{version}", incident_id=f"{run}-INC-9", status=status)
        if status == "open":
            event.pop("resolved_at")
        snapshots.append(event)
    bsn_event = {**_base("authentication"), "event_id": f"{run}-bsn", "subject": {"bsn": "123456782"}}
    naive = {**_base("message"), "event_id": f"{run}-naive", "received_at": "2026-04-02T10:00:00"}
    huge = b'{"type":"forecast","pad":"' + b"p" * (MAX_LINE_BYTES + 100) + b'"}'
    plain_lines = [
        _line(valid[0]),
        b"this is not json",
        _line(snapshots[0]),
        b"",
        _line(bsn_event),
        *(_line(e) for e in valid[1:7]),
        _line(snapshots[1]),
        _line(naive),
        b'{"type": "login", "event_id": "x"}',
        huge,
        _line(snapshots[2]),
    ]
    plain = tmp_path / "april.jsonl"
    plain.write_bytes(b"\n".join(plain_lines) + b"\n")
    packed = tmp_path / "april-2.jsonl.gz"
    packed.write_bytes(gzip.compress(b"\n".join(_line(e) for e in valid[7:]) + b"\n[1]\n"))
    return {
        "files": [str(plain), str(packed)],
        "valid": valid + snapshots,
        "snapshots": snapshots,
        "huge_size": len(huge),
        # (file, line) -> reason, from where the bad lines were put above.
        "rejected": {
            (str(plain), 2): "not_json",
            (str(plain), 5): "bsn_forbidden",
            (str(plain), 13): "naive_instant",
            (str(plain), 14): "unknown_type",
            (str(plain), 15): "too_large",
            (str(packed), 4): "not_object",
        },
    }


def test_ingest_publishes_each_valid_line_to_its_topic_with_its_key_and_every_bad_line_as_a_dead_letter(
    fresh_broker: Any, event_files: dict[str, Any]
) -> None:
    """docs/events.md: valid events go to their type's topic, keyed by event_id or, for snapshots, by the
    snapshot id (one partition per incident, in order); each rejected line goes to sno.deadletter
    exactly once with its reason, file and line, and its original bytes (a BSN redacted)."""
    bootstrap = fresh_broker.bootstrap
    summary = asyncio.run(publish_files(event_files["files"], bootstrap, progress=False))

    valid = event_files["valid"]
    assert summary.sent_total == len(valid)
    assert summary.sent["incident"] == 4 and summary.sent["forecast"] == 1
    assert summary.rejected_total == len(event_files["rejected"]) and summary.blank_lines == 1
    assert summary.rejected["too_large"] == 1 and summary.rejected_by_type["authentication"] == 1

    for event_type, topic in TOPICS.items():
        expected = [e for e in valid if e["type"] == event_type]
        got = _read_topic(bootstrap, topic, len(expected))
        assert sorted((k, v) for _, k, v in got) == sorted(
            (str(e[KEYS.get(event_type, "event_id")]).encode(), _line(e)) for e in expected
        ), topic

    incidents = _read_topic(bootstrap, TOPICS["incident"], 4)
    snapshot_keys = {e["incident_id"].encode() for e in event_files["snapshots"]}
    in_partition = [(p, v) for p, k, v in incidents if k in snapshot_keys]
    assert len({p for p, _ in in_partition}) == 1
    assert [v for _, v in in_partition] == [_line(e) for e in event_files["snapshots"]]

    letters = [parse_deadletter(v) for _, _, v in _read_topic(bootstrap, DEADLETTER_TOPIC, 10)]
    assert {(d["source"]["file"], d["source"]["line"]): d["reason"] for d in letters} == event_files[
        "rejected"
    ]
    assert len(letters) == len(event_files["rejected"])
    by_reason = {d["reason"]: d for d in letters}
    assert original_bytes(by_reason["not_json"]) == b"this is not json"
    assert b"123456782" not in original_bytes(by_reason["bsn_forbidden"])
    assert by_reason["bsn_forbidden"]["original_redacted"]
    big = by_reason["too_large"]
    assert big["original_truncated"] and big["original_size"] == event_files["huge_size"]


def test_sno_ingest_reads_standard_input_and_prints_the_summary(broker: str) -> None:
    """docs/interfaces.md: `sno ingest -` reads standard input and prints what was sent and refused."""
    run = uuid.uuid4().hex[:8]
    event = {**_base("notification"), "event_id": f"{run}-stdin"}
    data = _line(event) + b"\n" + b"{broken\n"
    result = CliRunner().invoke(ingest_command, ["-", "--broker", broker], input=data)
    assert result.exit_code == 0, result.output
    assert "sent 1 events, rejected 1 lines" in result.output
    assert "not_json" in result.output
    got = _read_topic(broker, TOPICS["notification"], 10_000)
    assert (f"{run}-stdin".encode(), _line(event)) in {(k, v) for _, k, v in got}


def test_sno_ingest_takes_the_broker_from_sno_broker(broker: str, tmp_path: Path) -> None:
    """docs/interfaces.md settings: SNO_BROKER stands in for --broker."""
    path = tmp_path / "one.jsonl"
    path.write_bytes(_line({**_base("forecast"), "event_id": uuid.uuid4().hex}) + b"\n")
    result = CliRunner().invoke(ingest_command, [str(path)], env={"SNO_BROKER": broker})
    assert result.exit_code == 0, result.output
    assert "sent 1 events, rejected 0 lines" in result.output


def _one_line_error(process: Any) -> str:
    stderr = process.stderr.decode()
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    return stderr


def test_a_missing_file_gives_one_line_and_a_non_zero_exit(run_sno: Any, broker: str, tmp_path: Path) -> None:
    """A file that cannot be read ends the run before anything is sent."""
    process = run_sno("ingest", str(tmp_path / "nope.jsonl"), "--broker", broker)
    assert process.returncode == 1
    assert "nope.jsonl" in _one_line_error(process)


def test_a_corrupt_gzip_file_gives_one_line_and_a_non_zero_exit(
    run_sno: Any, broker: str, tmp_path: Path
) -> None:
    """A file that cannot be read to its end is an error, not a rejected line."""
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"this is not gzip data at all")
    process = run_sno("ingest", str(path), "--broker", broker)
    assert process.returncode == 1
    assert "bad.jsonl.gz" in _one_line_error(process)


def test_an_unreachable_broker_gives_one_line_and_a_non_zero_exit(run_sno: Any, tmp_path: Path) -> None:
    """A broker that cannot be reached ends the run with one line that says where it looked."""
    path = tmp_path / "one.jsonl"
    path.write_bytes(_line(_base("forecast")) + b"\n")
    address = f"127.0.0.1:{_unused_port()}"
    process = run_sno("ingest", str(path), "--broker", address)
    assert process.returncode == 1
    assert address in _one_line_error(process)


def test_without_a_broker_ingest_says_how_to_get_one_and_exits_2(run_sno: Any, tmp_path: Path) -> None:
    """Ingest needs a broker: --broker or SNO_BROKER; the message points at `sno broker`."""
    path = tmp_path / "one.jsonl"
    path.write_bytes(_line(_base("forecast")) + b"\n")
    process = run_sno("ingest", str(path))
    assert process.returncode == 2
    message = _one_line_error(process)
    assert "sno broker" in message and "SNO_BROKER" in message


def test_the_summary_is_plain_data_for_replay_and_the_benchmark(broker: str, tmp_path: Path) -> None:
    """`sno replay` and `sno bench` reuse publish_files and read its summary."""
    path = tmp_path / "two.jsonl"
    path.write_bytes(_line({**_base("outage"), "event_id": uuid.uuid4().hex}) + b"\n{}\n")
    summary = asyncio.run(publish_files([str(path)], broker, progress=False))
    data = orjson.loads(orjson.dumps(summary.as_dict()))
    assert data["sent"] == {"outage": 1} and data["rejected"] == {"missing_field": 1}
    assert data["lines"] == 2 and data["files"] == [str(path)]


# --- an error mid-file: how far it got, and --from-line -------------------------------------------


def _numbered(n: int, run: str) -> list[bytes]:
    """N valid events whose event_id carries the line number (from 1), a bad line every 97th."""
    out = []
    for line in range(1, n + 1):
        if line % 97 == 0:
            out.append(b'{"bad": ' + str(line).encode() + b"}")
        else:
            out.append(_line({**_base("authentication"), "event_id": f"{run}-{line}"}))
    return out


def _lines_on_the_broker(bootstrap: str, run: str) -> Counter[int]:
    """Line number -> how many times it is on the broker (events, and dead letters by their source);
    reads each topic to its end (until a second passes without a record)."""
    seen: Counter[int] = Counter()
    everything = 10**9
    for _, _, value in _read_topic(bootstrap, TOPICS["authentication"], everything):
        event_id = orjson.loads(value)["event_id"]
        if event_id.startswith(f"{run}-"):
            seen[int(event_id.rsplit("-", 1)[1])] += 1
    for _, _, value in _read_topic(bootstrap, DEADLETTER_TOPIC, everything):
        letter = parse_deadletter(value)
        if run in letter["source"]["file"]:
            seen[letter["source"]["line"]] += 1
    return seen


_STOPPED = re.compile(r"([\d,]+) lines were published; the first line not published is line ([\d,]+) "
                      r"of (.+?) \(resume with: sno ingest (.+) --from-line (\d+)\)$")


def test_a_truncated_gzip_publishes_what_it_read_says_where_it_stopped_and_from_line_resumes_exactly(
    fresh_broker: Any, run_sno: Any, tmp_path: Path
) -> None:
    """A file that breaks off mid-way (a copy cut short) is an error, but not a silent one: every line
    before the break is published, the one line says how many and which line to resume from, and
    `--from-line` on the whole file then publishes the rest, each line once."""
    run = uuid.uuid4().hex[:8]
    lines = _numbered(3000, run)
    data = gzip.compress(b"\n".join(lines) + b"\n")
    cut = tmp_path / f"{run}-cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    whole = tmp_path / f"{run}-whole.jsonl.gz"
    whole.write_bytes(data)

    first = run_sno("ingest", str(cut), "--broker", fresh_broker.bootstrap)
    assert first.returncode == 1
    match = _STOPPED.search(_one_line_error(first).strip())
    assert match, first.stderr.decode()
    published, resume_at = int(match[1].replace(",", "")), int(match[5])
    assert 0 < published < len(lines) and resume_at == published + 1 and match[3] == str(cut)
    assert _lines_on_the_broker(fresh_broker.bootstrap, run) == Counter(range(1, resume_at))

    second = run_sno("ingest", str(whole), "--broker", fresh_broker.bootstrap, "--from-line",
                     str(resume_at))
    assert second.returncode == 0, second.stderr.decode()
    assert _lines_on_the_broker(fresh_broker.bootstrap, run) == Counter(range(1, len(lines) + 1))


def test_from_line_skips_the_lines_before_it_and_dead_letters_keep_the_file_s_line_numbers(
    fresh_broker: Any, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    path = tmp_path / f"{run}.jsonl"
    path.write_bytes(b"\n".join(_numbered(300, run)) + b"\n")
    summary = asyncio.run(publish_files([str(path)], fresh_broker.bootstrap, progress=False, from_line=150))
    assert summary.lines == 151 and summary.rejected_total == 2  # lines 194 and 291
    assert _lines_on_the_broker(fresh_broker.bootstrap, run) == Counter(range(150, 301))


def test_sigterm_mid_file_stops_ingest_saying_how_far_it_got_and_the_resumed_run_leaves_no_gap(
    fresh_broker: Any, tmp_path: Path
) -> None:
    """A stopped run (SIGTERM, as a supervisor sends; Ctrl-C alike) says what was published; lines
    after that point may have gone out too (the pipeline counts a copy once), none before it is missing."""
    run = uuid.uuid4().hex[:8]
    lines = _numbered(150_000, run)
    path = tmp_path / f"{run}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    process = subprocess.Popen([sys.executable, "-m", "sno.cli", "ingest", str(path), "--broker",
                                fresh_broker.bootstrap], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                               env=sno_env())
    time.sleep(3.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the machine published 150,000 lines in 3 s: nothing left to interrupt")
    assert process.returncode == 130, err.decode()
    assert err.decode().count("\n") == 1 and err.startswith(b"error: interrupted; ")
    match = _STOPPED.search(err.decode().strip())
    assert match, err.decode()
    resume_at = int(match[5])
    on_broker = _lines_on_the_broker(fresh_broker.bootstrap, run)
    assert set(range(1, resume_at)) <= set(on_broker)
    resumed = asyncio.run(publish_files([str(path)], fresh_broker.bootstrap, progress=False,
                                        from_line=resume_at))
    assert resumed.lines == len(lines) - resume_at + 1
    assert set(_lines_on_the_broker(fresh_broker.bootstrap, run)) == set(range(1, len(lines) + 1))


def test_a_broker_lost_mid_file_ends_ingest_with_what_was_published_and_where_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker is killed while a large file is being published: the run ends (within the stall
    bound, here shortened) with the progress to resume from, which never lies beyond a line whose
    batch the broker did not acknowledge; and the one line of `sno ingest` says so."""
    monkeypatch.setattr(ingest_publisher, "STALL_TIMEOUT_S", 5.0)
    run = uuid.uuid4().hex[:8]
    lines = _numbered(150_000, run)
    path = tmp_path / f"{run}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    async def publish_and_kill(broker: LocalBroker) -> BaseException:
        async def kill() -> None:
            await asyncio.sleep(2.0)
            assert broker.process is not None
            broker.process.kill()

        killer = asyncio.ensure_future(kill())
        try:
            await publish_files([str(path)], broker.bootstrap, progress=False)
        except ingest.IngestError as exc:
            return exc
        finally:
            await killer
        pytest.skip("the machine published 150,000 lines in 2 s: nothing left to interrupt")

    with LocalBroker() as broker:
        started = time.monotonic()
        error = asyncio.run(publish_and_kill(broker))
    assert time.monotonic() - started < 60
    assert isinstance(error, ingest.BrokerUnavailableError), error
    progress = error.progress
    assert progress is not None and progress.file == str(path)
    assert progress.line == progress.published + 1 <= len(lines)
    text = str(error)
    assert "\n" not in text and f"--from-line {progress.line}" in text

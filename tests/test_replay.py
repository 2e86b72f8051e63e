"""`sno replay` (docs/interfaces.md): the lines its validation rejects are kept in the store's dead-letter
tables, not on the temporary broker that is gone when it ends (docs/events.md, "Invalid input"), and a file
that breaks off mid-way is processed up to the break, with the line to resume from.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

from sno.ingest.sources import READ_BLOCK
from sno.runtime.store import open_store
from tests.hostile.corpus import base, dumps

BSN = "111222333"


def _lines(n: int, run: str) -> tuple[list[bytes], dict[int, str]]:
    """N lines, every 50th bad (reasons by line number), one with a BSN."""
    lines: list[bytes] = []
    bad: dict[int, str] = {}
    for number in range(1, n + 1):
        if number == 7:
            lines.append(dumps({**base("authentication"), "event_id": f"{run}-{number}", "bsn": BSN}))
            bad[number] = "bsn_forbidden"
        elif number % 50 == 0:
            lines.append(b"not json " + str(number).encode())
            bad[number] = "not_json"
        else:
            lines.append(dumps({**base("authentication"), "event_id": f"{run}-{number}"}))
    return lines, bad


def _deadletters(store: Path) -> dict[int, tuple[str, str, bytes]]:
    with open_store(store=store, migrate=False) as st:
        rows = st.query("SELECT offset, topic, reason, original FROM sno_deadletter FINAL")
    return {int(o): (t, r, base64.b64decode(x)) for o, t, r, x in rows}


def _daily(store: Path) -> int:
    with open_store(store=store, migrate=False) as st:
        return int(st.query("SELECT sum(records) FROM sno_deadletter_daily")[0][0] or 0)


def _counted(store: Path) -> int:
    with open_store(store=store, migrate=False) as st:
        return int(st.query("SELECT count() FROM sno_seen")[0][0])


def test_replay_keeps_its_dead_letters_in_the_store_and_its_summary_points_there(
    run_sno: Any, tmp_path: Path
) -> None:
    lines, bad = _lines(400, "r1")
    path = tmp_path / "april.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "store"
    done = run_sno("replay", str(path), "--store", str(store), "--chunk-lines", "150", timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out = done.stdout.decode()
    assert "sno_deadletter in the store" in out and "sno.deadletter" not in out
    letters = _deadletters(store)
    assert {line: reason for line, (_, reason, _) in letters.items()} == bad
    assert {topic for topic, _, _ in letters.values()} == {f"file:{path}"}
    assert letters[50][2] == b"not json 50"
    assert BSN.encode() not in letters[7][2] and b"[redacted]" in letters[7][2]
    assert _daily(store) == len(bad)
    assert _counted(store) == len(lines) - len(bad)

    again = run_sno("replay", str(path), "--store", str(store), "--chunk-lines", "150", timeout=600)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert _daily(store) == len(bad), "the same lines replayed again are not dead-lettered twice"
    assert len(_deadletters(store)) == len(bad)
    assert _counted(store) == len(lines) - len(bad)


def test_a_truncated_gzip_is_processed_up_to_the_break_and_from_line_resumes_there(
    run_sno: Any, tmp_path: Path
) -> None:
    lines, bad = _lines(3000, "r2")
    data = gzip.compress(b"\n".join(lines) + b"\n")
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    whole = tmp_path / "whole.jsonl.gz"
    whole.write_bytes(data)
    store = tmp_path / "store"

    first = run_sno("replay", str(cut), "--store", str(store), timeout=600)
    assert first.returncode == 1
    message = first.stderr.decode().strip().splitlines()[-1]
    match = re.search(r"([\d,]+) lines were processed into the store; the first line not processed into "
                      r"the store is line ([\d,]+) of .*cut\.jsonl\.gz \(resume with: sno replay "
                      r".*cut\.jsonl\.gz --from-line (\d+)\)$", message)
    assert match, message
    processed, resume_at = int(match[1].replace(",", "")), int(match[3])
    assert resume_at == processed + 1 and 0 < processed < len(lines)
    bad_before = sum(1 for line in bad if line < resume_at)
    assert _counted(store) == processed - bad_before
    assert len(_deadletters(store)) == bad_before

    second = run_sno("replay", str(whole), "--store", str(store), "--from-line", str(resume_at), timeout=600)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert _counted(store) == len(lines) - len(bad)
    assert sorted(_deadletters(store)) == sorted(bad)
    summary = json.loads(run_sno("replay", str(whole), "--store", str(store), "--json",
                                 timeout=600).stdout.decode().strip().splitlines()[-1])
    assert summary["processed"] == 0 and summary["duplicates"] == len(lines) - len(bad)


def test_a_copy_in_a_later_chunk_is_caught_though_that_chunk_was_published_while_the_first_was_drained(
    run_sno: Any, tmp_path: Path
) -> None:
    """Replay publishes chunk N+1 while chunk N is drained (sno/replay.py, `_replay_chunks`); workers
    must still run one after the other, so chunk N's de-duplication state is in the store first.

    A chunk ends at the end of a block of the file (READ_BLOCK bytes) once it holds `--chunk-lines`
    lines, so the lines are padded to ~4 KB: ~250 to a block, a chunk of 1,000 lines is about four
    blocks, and the copies at the end of 3,003 lines lie at least two chunks after their originals."""
    pad = "p" * 4000
    lines = [dumps({**base("authentication"), "event_id": f"r3-{n}", "note": pad}) for n in range(1, 3001)]
    copies = [lines[9], lines[1600], lines[10]]  # lines 10, 1601 and 11 again, after line 3000
    path = tmp_path / "copies.jsonl"
    path.write_bytes(b"\n".join(lines + copies) + b"\n")
    assert path.stat().st_size > 10 * READ_BLOCK
    store = tmp_path / "store"
    done = run_sno("replay", str(path), "--store", str(store), "--chunk-lines", "1000", "--json", timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert summary["chunks"] >= 3, summary
    assert summary["published"] == len(lines) + len(copies)
    assert (summary["processed"], summary["duplicates"]) == (len(lines), len(copies))
    assert summary["broker_peak_rss_mb"] > 0
    assert _counted(store) == len(lines)


def test_two_replays_whose_brokers_number_the_same_offsets_both_land_in_the_store(
    run_sno: Any, tmp_path: Path
) -> None:
    """Each replay (each chunk) has a broker of its own, a new Kafka cluster that numbers offsets from 0:
    the same offset ranges are other records there. A write's insert token once held only the ranges,
    so the second replay's first write had the first one's token and ClickHouse dropped it as a repeat,
    while the worker reported it written (streams/batches.py, `batch_token`)."""
    store = tmp_path / "store"
    for run in ("a", "b"):
        path = tmp_path / f"{run}.jsonl"
        path.write_bytes(b"".join(dumps({**base("authentication"), "event_id": f"tok-{run}-{n:04d}"}) + b"\n"
                                  for n in range(500)))
        done = run_sno("replay", str(path), "--store", str(store), "--partitions", "1", timeout=600)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert _counted(store) == 1000
    with open_store(store=store, migrate=False) as st:
        assert st.query("SELECT sum(count) FROM sno_auth_minute")[0][0] == 1000

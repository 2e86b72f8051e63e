"""`sno alerts`: the history in `sno_alerts` (migration 0004), newest first, as a table or JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from sno.commands.alerts import COLUMNS, command, parse_since
from sno.core.alerts import AlertEngine
from sno.core.catalogue import load_catalogue
from sno.core.topics import TOPICS
from sno.runtime.store import open_store


def _alerts(wall: datetime = datetime(2026, 4, 2, 8, 0, 59, tzinfo=UTC)) -> list[dict]:
    """Real engine output: a Machtigen minute over capacity (R15), fired and resolved once the transactions
    topic has moved past it by the allowed lateness."""
    minute = datetime(2026, 4, 2, 8, 0, tzinfo=UTC)
    engine = AlertEngine(load_catalogue(), clock=lambda: wall)
    out = []
    for i in [*range(1001), *range(1_000_000, 1_000_008)]:  # 8 later ones move the partition's mark
        t = minute + timedelta(milliseconds=i * 50)
        out += engine.observe(
            {
                "type": "transaction",
                "event_id": str(i),
                "service": "digid-machtigen",
                "environment": "production",
                "started_at": t,
                "completed_at": t + timedelta(seconds=1),
            },
            (TOPICS["transaction"], 0),
        )
    out += engine.advance(wall)
    return [a.to_json() for a in out]


def _insert(store_path: Path, alerts: list[dict], token: str) -> None:
    with open_store(store=store_path, holder="test") as st:
        rows = []
        for a in alerts:
            row = dict(a)
            for k in ("event_time", "emitted_at"):
                row[k] = datetime.fromisoformat(row[k]).astimezone(UTC).replace(tzinfo=None)
            rows.append([row[c] for c in COLUMNS])
        st.insert("sno_alerts", rows, COLUMNS, token=token)


def test_alerts_are_listed_newest_first_once_each_even_when_a_batch_is_inserted_twice(
    store_path: Path,
) -> None:
    """The stream inserts with an insert_deduplication_token; a repeated batch adds nothing."""
    alerts = _alerts()
    assert [a["state"] for a in alerts] == ["firing", "resolved"]
    _insert(store_path, alerts, "batch-1")
    _insert(store_path, alerts, "batch-1")
    result = CliRunner().invoke(command, ["--store", str(store_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["alert_id"], x["state"]) for x in lines] == [
        (alerts[1]["alert_id"], "resolved"),
        (alerts[0]["alert_id"], "firing"),
    ]
    assert lines[1] == alerts[0]


def test_the_table_shows_rule_subject_value_and_the_sentence(store_path: Path) -> None:
    _insert(store_path, _alerts(), "batch-2")
    result = CliRunner().invoke(command, ["--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert "capacity_exceeded" in result.output and "2026-04-02T10:00:00+02:00" in result.output
    assert "1,001" in result.output and "capacity of 1,000" in result.output
    later = CliRunner().invoke(command, ["--store", str(store_path), "--since", "2026-04-03"])
    assert later.output.strip() == "no alerts"


def test_a_replayed_alert_shows_its_true_event_time_and_when_it_was_sent(store_path: Path) -> None:
    """A month replayed weeks later: the table shows when the breach happened and marks it replayed with
    the instant it was sent; json carries `replayed: true` and the same event time."""
    late = datetime(2026, 5, 20, 7, 0, tzinfo=UTC)
    alerts = _alerts(late)
    assert all(a["replayed"] for a in alerts)
    _insert(store_path, alerts, "batch-3")
    table = CliRunner().invoke(command, ["--store", str(store_path)])
    assert table.exit_code == 0, table.output
    header, first = table.output.splitlines()[:2]
    assert "replayed" in header
    assert first.startswith("2026-04-02 10:01:00") and "replayed, sent 2026-05-20 09:00:00" in first
    lines = CliRunner().invoke(command, ["--store", str(store_path), "--format", "json"]).output.splitlines()
    assert {json.loads(x)["event_time"] for x in lines} == {
        "2026-04-02T10:00:00+02:00",
        "2026-04-02T10:01:00+02:00",
    }


def test_since_reads_durations_dates_and_instants() -> None:
    now = datetime(2026, 4, 2, 12, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-04-01", now) == datetime.fromisoformat("2026-04-01T00:00:00+02:00")
    assert parse_since("2026-04-01T10:00:00Z", now) == datetime(2026, 4, 1, 10, tzinfo=UTC)


def test_follow_without_a_broker_is_a_one_line_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SNO_BROKER", raising=False)
    result = CliRunner().invoke(command, ["--follow"])
    assert result.exit_code != 0 and "--follow needs a broker" in result.output

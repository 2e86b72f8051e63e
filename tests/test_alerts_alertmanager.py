"""Forwarding to a real Prometheus Alertmanager (API v2): labels, annotations, resolve, and failure
handling. Needs Debian's `prometheus-alertmanager` (apt-get install -y prometheus-alertmanager)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sno.alertmanager import alertmanager_payload, post_alerts
from sno.core.alerts import Alert, alert_id
from sno.core.topics import TOPICS

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: "null"
  group_by: [alertname, service, environment]
receivers:
  - name: "null"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """An Alertmanager of the test's own on a free loopback port, no gossip, storage in tmp."""
    if not Path(BINARY).exists():
        pytest.skip("prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)")
    (tmp_path / "am.yml").write_text(CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-500:] if proc.stderr else ""
                pytest.skip(f"prometheus-alertmanager did not start: {err}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_alert(state: str, event_time: datetime, afnemer: str | None = None) -> Alert:
    subject = "2026-04-15T12:00:00+02:00"
    return Alert(
        alert_id=alert_id("capacity_exceeded", "digid", "production", subject),
        rule="capacity_exceeded",
        severity="page",
        state=state,
        service="digid",
        environment="production",  # type: ignore[arg-type]
        afnemer_id=afnemer,
        subject=subject,
        value=10_001,
        norm=10_000,
        event_time=event_time,
        emitted_at=event_time,
        replayed=False,
        summary="DigiD production passed its capacity (R15).",
    )


def get_alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true&silenced=true&inhibited=true") as r:
        return json.loads(r.read())


def test_a_firing_alert_arrives_with_grouping_labels_and_annotations_and_resolves(alertmanager: str) -> None:
    """docs/interfaces.md Alerts → Alertmanager: alertname = rule, severity, service, environment, afnemer_id,
    subject as labels; summary, value, norm, event_time as annotations; endsAt on resolve."""
    fired_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    result = post_alerts(alertmanager, [make_alert("firing", fired_at, afnemer="00000001234567890000")])
    assert result.ok and result.sent == 1
    found = get_alerts(alertmanager)
    assert len(found) == 1
    got = found[0]
    assert {k: got["labels"][k] for k in ("alertname", "severity", "service", "environment", "subject")} == {
        "alertname": "capacity_exceeded",
        "severity": "page",
        "service": "digid",
        "environment": "production",
        "subject": "2026-04-15T12:00:00+02:00",
    }
    assert got["labels"]["afnemer_id"] == "00000001234567890000"
    assert got["annotations"]["value"] == "10001" and got["annotations"]["norm"] == "10000"
    assert "capacity" in got["annotations"]["summary"]
    assert datetime.fromisoformat(got["startsAt"].replace("Z", "+00:00")) == fired_at
    assert got["status"]["state"] == "active"

    resolved = post_alerts(
        alertmanager, [make_alert("resolved", fired_at + timedelta(minutes=1), "00000001234567890000")]
    )
    assert resolved.ok
    assert get_alerts(alertmanager) == []


def test_an_alert_without_afnemer_has_no_afnemer_label() -> None:
    body = alertmanager_payload(make_alert("firing", datetime(2026, 4, 15, 10, tzinfo=UTC)))
    assert "afnemer_id" not in body["labels"] and "endsAt" not in body
    assert body["startsAt"] == "2026-04-15T12:00:00+02:00"


def test_an_unreachable_alertmanager_is_retried_with_backoff_and_never_raises() -> None:
    """The stream must not stop because the pager is down: failures come back, they are not raised."""
    waits: list[float] = []
    alerts = [make_alert("firing", datetime(2026, 4, 15, 10, tzinfo=UTC))]
    result = post_alerts(
        f"http://127.0.0.1:{free_port()}", alerts, attempts=3, backoff=0.25, sleep=waits.append
    )
    assert not result.ok and result.sent == 0
    assert [a["alert_id"] for a in result.failed] == [alerts[0].alert_id]
    assert waits == [0.25, 0.5]
    assert result.error


def test_alertmanager_rejecting_a_request_is_not_retried(alertmanager: str) -> None:
    """A 4xx means the request is wrong; repeating it cannot help."""
    waits: list[float] = []
    bad = make_alert("firing", datetime(2026, 4, 15, 10, tzinfo=UTC)).as_json()
    bad["event_time"] = "yesterday"  # not a date-time: Alertmanager answers 400
    result = post_alerts(alertmanager, [bad], sleep=waits.append)
    assert not result.ok and waits == [] and "HTTP 4" in (result.error or "")


def test_a_replayed_breach_reaches_alertmanager_with_its_event_times_and_pages_nobody(
    alertmanager: str,
) -> None:
    """A breach of history (fired and resolved at event times long past, sent in one batch): one post, as
    resolved, startsAt the firing's event time and endsAt its end; Alertmanager holds nothing active."""
    from sno.core.alerts import AlertEngine
    from sno.core.catalogue import load_catalogue

    wall = datetime.now(UTC)
    engine = AlertEngine(load_catalogue(), clock=lambda: wall)
    incident = {
        "type": "incident",
        "event_id": "x",
        "service": "digid",
        "environment": "production",
        "incident_id": "I-7H",
        "updated_at": datetime(2026, 4, 2, 15, 10, tzinfo=UTC),
        "status": "resolved",
        "impact": "hoog",
        "urgency": "hoog",
        "detected_at": datetime(2026, 4, 2, 8, tzinfo=UTC),
        "notified_at": datetime(2026, 4, 2, 8, 10, tzinfo=UTC),
        "resolved_at": datetime(2026, 4, 2, 15, tzinfo=UTC),
    }
    alerts = engine.observe(incident, (TOPICS["incident"], 0))
    alerts += engine.advance(wall + timedelta(seconds=60))  # the topic is quiet: the resolutions follow
    hundred = [a for a in alerts if a.subject == "I-7H P1 100%"]
    assert [a.state for a in hundred] == ["firing", "resolved"] and all(a.replayed for a in hundred)
    body = alertmanager_payload(hundred[1])
    assert body["startsAt"] == "2026-04-02T16:00:00+02:00" and body["endsAt"] == "2026-04-02T17:00:00+02:00"
    result = post_alerts(alertmanager, alerts)
    assert result.ok and result.sent == 3  # three thresholds, each posted once (resolved)
    assert get_alerts(alertmanager) == []

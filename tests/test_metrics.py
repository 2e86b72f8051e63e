"""The worker as on-call sees it: /metrics scraped by a real Prometheus, /healthz and /readyz, JSON logs
from every process, and SNO_ALERTMANAGER, on one `sno worker --metrics-port` run against the real broker
and the embedded store (docs/interfaces.md: `sno worker [--metrics-port 9464]`).

Needs Debian's `prometheus` (2.x) for the scrape tests and `prometheus-alertmanager` for the forwarding
test (.ci/system-deps installs both); each skips with the reason when its program is absent. Alertmanager
notifies a webhook receiver of the test's own, so what it was sent can be checked whenever the test runs
(its API lists only alerts still firing).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sno.core.topics import ALERTS_TOPIC, TOPICS
from sno.runtime.broker import LocalBroker
from tests.alert_history import messages
from tests.conftest import sno_env
from tests.eventgen import events
from tests.kafka_util import produce_lines, read_topic, topic_and_key
from tests.test_pipeline import reference

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "sno-pipeline.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
#: after the generated events (tests/eventgen.py: from 30 April 23:30 local, three hours), so the
#: alert engine judges the minute in event-time order
MINUTE = datetime(2026, 5, 2, 10, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def values(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> dict[Any, float]:
    return {labels: value for (n, labels), value in scraped.items() if n == name}


def _capacity_minute() -> list[bytes]:
    """10,001 authentications in one minute (one over the DigiD limit of the norm file, R15), then
    quiet minutes: `capacity_exceeded` fires and resolves."""
    def auth(i: int, started: datetime) -> bytes:
        return orjson.dumps({
            "type": "authentication", "event_id": f"cap-{i}", "service": "digid",
            "afnemer_id": "00000001000000000001",
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "completed_at": (started + timedelta(milliseconds=800)).isoformat().replace("+00:00", "Z"),
            "outcome": "success",
        })
    lines = [auth(i, MINUTE + timedelta(microseconds=i * 5000)) for i in range(10_001)]
    # Quiet minutes after it, enough for every partition of the topic (however many the broker gave it)
    # to move its event-time mark past the minute plus the allowed lateness (sno/core/ALERTS.md).
    return lines + [auth(20_000 + i, MINUTE + timedelta(minutes=1 + i // 5, seconds=i % 60))
                    for i in range(200)]


@dataclass
class Running:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    stderr: Path
    stdout: Path
    lines: list[bytes]
    counted: int
    duplicates: int
    rejected: int
    reasons: dict[str, int]
    alertmanager: str | None
    bootstrap: str
    #: the notifications Alertmanager sent its receiver (webhook bodies), in the order received
    notified: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, body = get(f"{self.url}/metrics")
        assert status == 200
        return samples(body.decode())

    def log_lines(self) -> list[str]:
        return [line for line in self.stderr.read_text(encoding="utf-8").splitlines() if line.strip()]


def counted_alerts(scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> Counter[tuple[str, str]]:
    """`sno_alerts_total` as (rule, state) -> alerts."""
    return Counter({(dict(labels)["rule"], dict(labels)["state"]): int(value)
                    for labels, value in values(scraped, "sno_alerts_total").items() if value})


def published_alerts(bootstrap: str) -> list[dict[str, Any]]:
    return [orjson.loads(value) for _, value in read_topic(bootstrap, ALERTS_TOPIC)]


def _start_receiver(notified: list[dict[str, Any]]) -> tuple[ThreadingHTTPServer, str]:
    """A webhook receiver for Alertmanager's notifications, on a loopback port."""
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            notified.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _start_alertmanager(folder: Path, receiver: str) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    """Alertmanager notifying `receiver` at once of each alert, firing and resolved (no grouping delay)."""
    if not Path(ALERTMANAGER).exists():
        return None, None
    (folder / "am.yml").write_text(
        'route:\n  receiver: test\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n'
        f'receivers:\n  - name: test\n    webhook_configs:\n      - url: "{receiver}"\n'
        '        send_resolved: true\n')
    port = free_port()
    proc = subprocess.Popen([ALERTMANAGER, f"--config.file={folder / 'am.yml'}",
                             f"--storage.path={folder / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--cluster.listen-address="],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: get(f"{url}/-/ready")[0] == 200, 20, "Alertmanager to be ready")
    return proc, url


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One worker, started as an operator would (`sno worker --metrics-port`, SNO_LOG_FORMAT=json,
    SNO_ALERTMANAGER), fed valid events with duplicates, bad records and a capacity breach."""
    folder = tmp_path_factory.mktemp("metrics")
    valid, invalid = events(1500, seed=11)
    capacity = _capacity_minute()
    lines = [*valid, *invalid, *capacity]
    _, _, duplicates = reference([*valid, *capacity])
    from schemas.validate import Rejected, validate

    reasons: dict[str, int] = {}
    for line in invalid:
        result = validate(line)
        assert isinstance(result, Rejected)
        reasons[result.reason] = reasons.get(result.reason, 0) + 1
    notified: list[dict[str, Any]] = []
    receiver, receiver_url = _start_receiver(notified)
    am_proc, am_url = _start_alertmanager(folder, receiver_url)
    broker = LocalBroker().start()
    port = free_port()
    stderr, stdout = folder / "worker.err", folder / "worker.out"
    proc = None
    try:
        env = sno_env(SNO_LOG_FORMAT="json", SNO_METRICS_HOST="127.0.0.1",
                      **({"SNO_ALERTMANAGER": am_url} if am_url else {}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "sno.cli", "worker", "--broker", broker.bootstrap, "--store",
             str(folder / "store"), "--metrics-port", str(port), "--loglevel", "info", "--batch-size", "500"],
            stdout=stdout.open("wb"), stderr=stderr.open("wb"), env=env, cwd=folder,
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{url}/healthz")[0] == 200, 60, "/healthz to answer 200")
        produce_lines(broker.bootstrap, lines)
        run = Running(url, port, proc, stderr, stdout, lines, len(valid) + len(capacity) - duplicates,
                      duplicates, len(invalid), reasons, am_url, broker.bootstrap, notified)

        def settled() -> bool:
            scraped = run.metrics()
            read = sum(values(scraped, "sno_records_total").values())
            lag = sum(values(scraped, "sno_consumer_lag_records").values())
            return read == len(lines) and lag == 0 and get(f"{url}/readyz")[0] == 200
        wait_for(settled, 120, "every record to be read and written")
        yield run
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        broker.stop()
        if am_proc is not None:
            am_proc.terminate()
            am_proc.wait(10)
        receiver.shutdown()
        receiver.server_close()


# --- /metrics ----------------------------------------------------------------------------------------


def test_the_outcomes_of_every_topic_add_up_to_the_records_read_from_it(running: Running) -> None:
    scraped = running.metrics()
    read: dict[str, int] = {}
    for line in running.lines:
        topic = topic_and_key(line)[0]
        read[topic] = read.get(topic, 0) + 1
    by_topic: dict[str, float] = {}
    by_outcome: dict[str, float] = {}
    for labels, value in values(scraped, "sno_records_total").items():
        label = dict(labels)
        assert label["outcome"] in ("counted", "duplicate", "rejected", "forwarded")
        by_topic[label["topic"]] = by_topic.get(label["topic"], 0) + value
        by_outcome[label["outcome"]] = by_outcome.get(label["outcome"], 0) + value
    assert by_topic == read
    assert by_outcome.get("counted") == running.counted
    assert by_outcome.get("duplicate") == running.duplicates > 10
    assert by_outcome.get("rejected") == running.rejected


def test_dead_letters_are_counted_by_the_reason_of_the_contract(running: Running) -> None:
    got = {dict(labels)["reason"]: value for labels, value in
           values(running.metrics(), "sno_deadletters_total").items()}
    assert got == running.reasons


def test_lag_is_exported_per_assigned_partition_and_is_zero_once_everything_is_written(
    running: Running,
) -> None:
    scraped = running.metrics()
    lag = values(scraped, "sno_consumer_lag_records")
    assigned = values(scraped, "sno_assigned_partitions")
    assert len(lag) == next(iter(assigned.values())) >= 10
    assert {dict(labels)["topic"] for labels in lag} >= {TOPICS["authentication"], TOPICS["support_contact"]}
    assert set(lag.values()) == {0.0}
    assert values(scraped, "sno_fold_queue_batches") == {(): 0.0}


def test_each_ledger_write_is_timed_and_the_last_write_is_recent(running: Running) -> None:
    scraped = running.metrics()
    (writes,) = values(scraped, "sno_write_duration_seconds_count").values()
    (seconds,) = values(scraped, "sno_write_duration_seconds_sum").values()
    assert writes >= 3 and seconds > 0
    (last,) = values(scraped, "sno_ledger_last_write_timestamp_seconds").values()
    assert 0 < time.time() - last < 600


def test_alert_state_changes_are_counted_by_rule_and_state(running: Running) -> None:
    alerts = {tuple(v for _, v in labels): value for labels, value in
              values(running.metrics(), "sno_alerts_total").items()}
    assert alerts[("capacity_exceeded", "firing")] == 1
    assert alerts[("capacity_exceeded", "resolved")] == 1


def test_every_alert_on_sno_alerts_is_counted_once_those_the_clocks_tick_raised_included(
    running: Running,
) -> None:
    """After the last batch, the clock's tick decides what waited for a quiet source (idle_source_seconds,
    alerts.toml): alerts emitted after the last ledger write can only be the tick's. The counter must
    hold them too, so it is compared with sno.alerts once such an alert is there."""
    def tick_counted() -> Any:
        published = published_alerts(running.bootstrap)
        scraped = running.metrics()
        (last_write,) = values(scraped, "sno_ledger_last_write_timestamp_seconds").values()
        by_tick = [a for a in published if datetime.fromisoformat(a["emitted_at"]).timestamp() > last_write]
        counted = counted_alerts(scraped)
        return by_tick and counted == Counter((a["rule"], a["state"]) for a in published) and (
            by_tick, counted)

    by_tick, counted = wait_for(tick_counted, 120, "the tick's alerts, counted as published", step=1.0)
    assert sum(counted.values()) > len(by_tick) > 0


def test_the_worker_exports_its_own_and_its_child_processes_figures(running: Running) -> None:
    scraped = running.metrics()
    assert values(scraped, "process_resident_memory_bytes")[()] > 10_000_000
    assert values(scraped, "process_cpu_seconds_total")[()] > 0
    up = {dict(labels)["process"]: value for labels, value in values(scraped, "sno_child_process_up").items()}
    assert up == {"fold": 1.0, "engine": 1.0}
    memory = values(scraped, "sno_child_process_resident_memory_bytes")
    assert all(value > 1_000_000 for value in memory.values()) and len(memory) == 2


def test_healthz_and_readyz_answer_200_with_their_reason(running: Running) -> None:
    status, body = get(f"{running.url}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = get(f"{running.url}/readyz")
    assert status == 200
    assert "partitions assigned" in json.loads(body)["reason"]
    assert get(f"{running.url}/nothing")[0] == 404


# --- SNO_ALERTMANAGER -------------------------------------------------------------------------------


def test_the_worker_reads_sno_alertmanager_and_forwards_the_alerts_there(running: Running) -> None:
    if running.alertmanager is None:
        pytest.skip("prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)")
    info = values(running.metrics(), "sno_worker_info")
    (labels,) = info
    assert dict(labels)["alertmanager"] == running.alertmanager
    # What Alertmanager notified its receiver of, whenever this runs: its active list empties once the
    # alerts resolve (a source gone quiet resolves some about half a minute after the worker settled).
    notified = wait_for(lambda: [a for n in running.notified for a in n["alerts"]], 60,
                        "Alertmanager to notify its receiver")
    published = published_alerts(running.bootstrap)
    assert {a["labels"]["alert_id"] for a in notified} <= {a["alert_id"] for a in published}
    names = {a["labels"]["alertname"] for a in notified}
    assert names and names <= {rule for rule, _state in counted_alerts(running.metrics())}


def test_the_alertmanager_flag_wins_over_the_environment(broker: str, tmp_path: Path) -> None:
    port = free_port()
    env = sno_env(SNO_ALERTMANAGER="http://127.0.0.1:1", SNO_METRICS_HOST="127.0.0.1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sno.cli", "worker", "--broker", broker, "--store", str(tmp_path / "s"),
         "--metrics-port", str(port), "--alertmanager", "http://127.0.0.1:2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        info = wait_for(lambda: values(samples(get(f"http://127.0.0.1:{port}/metrics")[1].decode()),
                                       "sno_worker_info"), 30, "sno_worker_info")
        (labels,) = info
        assert dict(labels)["alertmanager"] == "http://127.0.0.1:2"
    finally:
        proc.kill()
        proc.wait(30)


def test_an_unreachable_alertmanager_is_one_json_warning_per_failing_state_with_the_alert_ids(
    fresh_broker: LocalBroker, tmp_path: Path
) -> None:
    """Two posts fail (nothing listens on the port): one WARNING, a JSON line naming the alerts it could
    not deliver; the second post, failing the same way, is counted rather than logged again."""
    port, closed = free_port(), free_port()
    stderr = tmp_path / "worker.err"
    env = sno_env(SNO_LOG_FORMAT="json", SNO_METRICS_HOST="127.0.0.1",
                  SNO_ALERTMANAGER=f"http://127.0.0.1:{closed}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sno.cli", "worker", "--broker", fresh_broker.bootstrap, "--store",
         str(tmp_path / "store"), "--metrics-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=stderr.open("wb"), env=env, cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"

    def published_and_posted() -> int:  # counted once published: on sno.alerts and posted (in vain)
        return sum(counted_alerts(samples(get(f"{url}/metrics")[1].decode())).values())

    try:
        wait_for(lambda: get(f"{url}/healthz")[0] == 200, 60, "/healthz to answer 200")
        # R18: 46 messages in one second, one over the MijnOverheid limit; then another such second
        for n, second in enumerate((MINUTE, MINUTE + timedelta(minutes=1)), start=1):
            produce_lines(fresh_broker.bootstrap, [orjson.dumps(m) for m in messages(second, 46)])
            wait_for(lambda n=n: published_and_posted() >= n, 90, f"alert {n} to be published")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = stderr.read_text(encoding="utf-8")
    assert "Logging error" not in text and "Traceback" not in text
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    (warning,) = [e for e in entries if "did not take" in e["message"]]
    assert warning["level"] == "WARNING" and warning["logger"] == "streams.app"
    assert f"127.0.0.1:{closed}" in warning["message"] and "1 alert(s)" in warning["message"]
    fired = [a for a in published_alerts(fresh_broker.bootstrap) if a["rule"] == "mijnoverheid_limit"]
    first = min(fired, key=lambda a: datetime.fromisoformat(a["event_time"]))
    assert len(fired) >= 2 and warning["alert_id"] == [first["alert_id"]]


# --- JSON logs ------------------------------------------------------------------------------------------


def test_every_line_of_every_process_is_one_json_object_faust_and_aiokafka_included(
    running: Running,
) -> None:
    lines = running.log_lines()
    assert len(lines) > 20
    entries = []
    for line in lines:
        entry = json.loads(line)  # fails on any line that is not JSON
        assert {"time", "level", "logger", "message", "process", "pid"} <= set(entry), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
        entries.append(entry)
    loggers = {e["logger"].split(".")[0] for e in entries}
    assert {"faust", "aiokafka", "sno"} <= loggers
    assert "fold" in {e["process"] for e in entries}, "the fold process logs through the same format"
    assert running.stdout.read_bytes() == b""


def test_readiness_is_logged_once_when_it_changes_not_on_every_check(running: Running) -> None:
    entries = [json.loads(line) for line in running.log_lines()]
    ready = [e for e in entries if e["logger"] == "sno.runtime.metrics" and e["message"].startswith("ready:")]
    assert len(ready) == 1  # the timer checks five times a second


# --- a real Prometheus ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(running: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's Prometheus on a loopback port, scraping the running worker every second."""
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus is not installed (apt-get install -y prometheus; .ci/system-deps does)")
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
        f"  - job_name: sno-worker\n    static_configs:\n      - targets: ['127.0.0.1:{running.port}']\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(folder / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{url}/-/ready")[0] == 200, 60, "Prometheus to be ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def promql(url: str, query: str) -> list[dict[str, Any]]:
    status, body = get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}")
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", (query, answer)
    return answer["data"]["result"]  # type: ignore[no-any-return]


def test_prometheus_scrapes_the_worker_and_holds_its_series(running: Running, prometheus: str) -> None:
    def scraped() -> list[dict[str, Any]]:
        return promql(prometheus, 'sum(sno_records_total{job="sno-worker"})')
    (total,) = wait_for(scraped, 60, "Prometheus to hold sno_records_total")
    assert float(total["value"][1]) == len(running.lines)
    (up,) = promql(prometheus, 'up{job="sno-worker"}')
    assert up["value"][1] == "1"
    counted = promql(prometheus, 'sum by (outcome) (sno_records_total)')
    assert {r["metric"]["outcome"]: float(r["value"][1]) for r in counted}["counted"] == running.counted


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] if panel["type"] != "row"
            for target in panel["targets"]]


def expand(expr: str) -> str:
    """Grafana's interval variables as it would expand them for a short range."""
    text = expr.replace("$__rate_interval", "30s").replace("$__range", "5m")
    assert "$" not in text, text
    return text


def test_every_query_of_the_pipeline_dashboard_returns_series_from_the_scraped_worker(
    running: Running, prometheus: str
) -> None:
    """The dashboard's PromQL, run by Prometheus itself against what it scraped: a misspelt metric or
    label, or a query that parses but matches nothing, fails here."""
    wait_for(lambda: len(promql(prometheus, 'count_over_time(up{job="sno-worker"}[30s])')) and float(
        promql(prometheus, 'count_over_time(up{job="sno-worker"}[30s])')[0]["value"][1]) >= 3,
             60, "three scrapes")
    queries = dashboard_queries()
    assert len(queries) >= 10
    for title, expr in queries:
        result = promql(prometheus, expand(expr))
        assert result, f"{title}: {expr} matched no series"


def test_the_dashboard_names_only_metrics_and_labels_the_worker_exports(running: Running) -> None:
    scraped = running.metrics()
    exported = {name for name, _ in scraped} | {"up"}
    labels = {k for _, ls in scraped for k, _ in ls} | {"job", "instance", "le"}
    for title, expr in dashboard_queries():
        text = re.sub(r'"[^"]*"', '""', expr)
        names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", re.sub(r"\{[^}]*\}|\[[^]]*\]", " ", text)))
        keywords = {"by", "sum", "rate", "increase", "without", "and", "or", "time", "count", "le"}
        for name in names - keywords - labels:
            assert name in exported, f"{title}: {name} is not a metric the worker exports"
        for group in re.findall(r"\bby \(([^)]*)\)", text):
            for label in (g.strip() for g in group.split(",")):
                assert label in labels, f"{title}: label {label} is on no exported series"


"""Secure transport (sno/runtime/transport.py): the settings reach every client, TLS works end to end
against the real broker, and an https ClickHouse without its CA is refused in one line.

The bundled broker speaks plaintext only, so the TLS tests put a TLS relay (Python's own `ssl`, a test
CA from trustme) in front of it and let the broker advertise the relay: every client then reaches the
real broker through TLS only, and checks the relay's certificate against the CA it was given. SASL
cannot be run against the bundled broker (it has no SCRAM users); for SASL the tests show that every
client is built with the mechanism, user and password from the environment and the password file.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sno.core.topics import TOPICS
from sno.runtime import transport
from sno.runtime.broker import LocalBroker, free_port, resolve_broker_bin, wait_until_answers
from sno.runtime.store import Store, StoreError
from tests.conftest import sno_env
from tests.eventgen import events

trustme = pytest.importorskip("trustme", reason="trustme makes the test CA (a dev dependency)")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    other.cert_pem.write_to_path(str(folder / "other-ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    return {"ca": str(folder / "ca.pem"), "other": str(folder / "other-ca.pem"), "server": context,
            "folder": folder}


# --- settings ---------------------------------------------------------------------------------------------


def _sasl_env(folder: Path, ca: str) -> dict[str, str]:
    (folder / "kafka-password").write_text("s3cret-from-file\n")
    return {"SNO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SNO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "SNO_KAFKA_SASL_USERNAME": "sno-worker",
            "SNO_KAFKA_SASL_PASSWORD_FILE": str(folder / "kafka-password"),
            "SNO_KAFKA_SSL_CAFILE": ca}


def test_sasl_ssl_settings_with_the_password_from_its_file_reach_aiokafka_clients(pki, tmp_path) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    options = transport.aiokafka_options(_sasl_env(tmp_path, pki["ca"]))

    async def build() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers="localhost:1", **options)
        producer = AIOKafkaProducer(bootstrap_servers="localhost:1", **options)
        admin = AIOKafkaAdminClient(bootstrap_servers="localhost:1", **options)
        clients = [consumer._client, producer.client, admin._client]
        await consumer.stop()
        await producer.stop()
        await admin.close()
        return clients

    for inner in asyncio.run(build()):
        assert inner._security_protocol == "SASL_SSL"
        assert inner._sasl_mechanism == "SCRAM-SHA-256"
        assert inner._sasl_plain_username == "sno-worker"
        assert inner._sasl_plain_password == "s3cret-from-file"  # the file's trailing newline dropped
        assert inner._ssl_context.verify_mode == ssl.CERT_REQUIRED and inner._ssl_context.check_hostname


def test_sasl_ssl_settings_reach_faust_which_hands_them_to_its_aiokafka_clients(pki, tmp_path) -> None:
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.settings import PipelineSettings

    security = transport.KafkaSecurity.from_env(_sasl_env(tmp_path, pki["ca"]))
    config = PipelineSettings(broker="k1:9093,k2:9093", kafka_security=security).faust_config()
    auth = credentials_to_aiokafka_auth(config["broker_credentials"])
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("sno-worker", "s3cret-from-file")
    assert isinstance(auth["ssl_context"], ssl.SSLContext)


def test_sasl_ssl_settings_reach_kafka_python(pki, tmp_path) -> None:
    from kafka import KafkaConsumer

    options = transport.kafka_python_options(_sasl_env(tmp_path, pki["ca"]))
    consumer = KafkaConsumer(bootstrap_servers="localhost:1", api_version=(2, 5), **options)
    try:
        config = consumer.config
        assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == "SCRAM-SHA-256"
        assert config["sasl_plain_username"] == "sno-worker"
        assert config["sasl_plain_password"] == "s3cret-from-file"
        assert config["ssl_cafile"] == pki["ca"] and config["ssl_check_hostname"] is True
    finally:
        consumer.close()


@pytest.mark.parametrize(("env", "message"), [
    ({"SNO_KAFKA_SECURITY_PROTOCOL": "TLS"}, "is not one of"),
    ({"SNO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "SNO_KAFKA_SSL_CAFILE": "system"},
     "SNO_KAFKA_SASL_USERNAME"),
    ({"SNO_KAFKA_SECURITY_PROTOCOL": "SSL"}, "needs SNO_KAFKA_SSL_CAFILE"),
    ({"SNO_KAFKA_SECURITY_PROTOCOL": "SSL", "SNO_KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"}, "no such file"),
    ({"SNO_KAFKA_SASL_PASSWORD": "a", "SNO_KAFKA_SASL_PASSWORD_FILE": "/x"}, "not both"),
])
def test_a_wrong_kafka_transport_setting_is_one_line_naming_the_variable(env, message) -> None:
    with pytest.raises(transport.TransportError, match=message):
        transport.KafkaSecurity.from_env(env)


def test_the_worker_refuses_a_wrong_transport_setting_before_it_starts(run_sno) -> None:
    result = run_sno("worker", "--broker", "127.0.0.1:1",
                     env=sno_env(SNO_KAFKA_SECURITY_PROTOCOL="SSL"))
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        "sno: SSL needs SNO_KAFKA_SSL_CAFILE (the CA that signed the brokers' certificates, or `system`)"]


# --- Kafka over TLS, end to end ---------------------------------------------------------------------------


class TlsRelay:
    """TLS on `port`, plaintext to the broker behind it: the broker is reached through TLS only."""

    def __init__(self, context: ssl.SSLContext, target: int) -> None:
        self.context, self.target = context, target
        self.port = free_port()
        self.handshakes = 0
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.context))
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            server.close()

    def __enter__(self) -> TlsRelay:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def tls_broker(pki) -> Iterator[str]:
    """The bundled broker behind a TLS relay; it advertises the relay, so clients never leave TLS."""
    inner = free_port()
    with contextlib.ExitStack() as stack:
        relay = stack.enter_context(TlsRelay(pki["server"], inner))
        broker = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--cluster-id", f"sno-{uuid.uuid4()}",
             "--listener-url", f"tcp://127.0.0.1:{inner}",
             "--advertised-listener-url", f"tcp://localhost:{relay.port}", "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        stack.callback(lambda: (broker.terminate(), broker.wait(10)))
        wait_until_answers(f"127.0.0.1:{inner}", timeout=15)
        yield f"localhost:{relay.port}"


def _tls_env(ca: str) -> dict[str, str]:
    return {"SNO_KAFKA_SECURITY_PROTOCOL": "SSL", "SNO_KAFKA_SSL_CAFILE": ca}


def test_kafka_python_aiokafka_and_the_faust_worker_all_work_through_tls_only(
    pki, tls_broker: str, tmp_path: Path
) -> None:
    """kafka-python publishes, `sno worker --drain` (Faust, and aiokafka for the admin client) counts
    everything, and the sink's aiokafka reader re-reads a range: all through the TLS relay."""
    from kafka import KafkaProducer

    from sno.runtime.store import open_store
    from tests.kafka_util import topic_and_key

    valid, _ = events(300, seed=5)
    producer = KafkaProducer(bootstrap_servers=tls_broker, acks="all",
                             **transport.kafka_python_options(_tls_env(pki["ca"])))
    for line in valid:
        topic, key = topic_and_key(line)
        producer.send(topic, key=key, value=line)
    producer.flush()
    producer.close()
    result = subprocess.run(
        [sys.executable, "-m", "sno.cli", "worker", "--drain", "--broker", tls_broker, "--store",
         str(tmp_path / "store")], capture_output=True, timeout=180, env=sno_env(**_tls_env(pki["ca"])),
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    with open_store(store=tmp_path / "store") as store:
        ((seen,),) = store.query("SELECT count() FROM sno_seen")
    assert seen > 200

    from streams.sink import read_ranges

    with pytest.MonkeyPatch.context() as patch:
        for key, value in _tls_env(pki["ca"]).items():
            patch.setenv(key, value)
        records = asyncio.run(read_ranges(tls_broker, {(TOPICS["authentication"], 0): (0, 4)}))
    assert [r[2] for r in records] == [0, 1, 2, 3, 4]


def test_a_broker_certificate_from_another_ca_is_refused_in_one_line(pki, tls_broker: str, run_sno) -> None:
    result = run_sno("worker", "--broker", tls_broker, env=sno_env(**_tls_env(pki["other"])))
    assert result.returncode == 1
    (line,) = result.stderr.decode().strip().splitlines()
    assert line.startswith(f"sno: no Kafka broker answers at {tls_broker}: TLS failed")
    assert "CERTIFICATE_VERIFY_FAILED" in line


# --- ClickHouse over https ----------------------------------------------------------------------------


def test_an_https_clickhouse_without_its_ca_is_refused_in_one_line(broker: str, run_sno) -> None:
    result = run_sno("worker", "--broker", broker, "--clickhouse", "https://sno_writer@db.invalid:8443/sno",
                     env=sno_env())
    assert result.returncode == 1
    (line,) = result.stderr.decode().strip().splitlines()
    assert line == ("sno: cannot open ClickHouse at https://sno_writer@db.invalid:8443/sno: an https:// "
                    "ClickHouse needs SNO_CLICKHOUSE_CA_FILE (the CA that signed the server's certificate, "
                    "or `system`)")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request as ClickHouse answers a wrong password (HTTP 516 body), recording it."""

    seen: ClassVar[list[dict[str, str]]] = []

    def _answer(self) -> None:
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization", "")})
        body = b"Code: 516. DB::Exception: sno_writer: Authentication failed. (AUTHENTICATION_FAILED)\n"
        self.send_response(403)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def https_server(pki) -> Iterator[int]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.socket = pki["server"].wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_https_clickhouse_is_reached_with_its_ca_and_the_password_from_its_file(
    pki, https_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ch-password").write_text("ch-secret\n")
    monkeypatch.setenv("SNO_CLICKHOUSE_CA_FILE", pki["ca"])
    monkeypatch.setenv("SNO_CLICKHOUSE_PASSWORD_FILE", str(tmp_path / "ch-password"))
    with pytest.raises(StoreError) as refused:
        Store(f"https://sno_writer@localhost:{https_server}/sno")
    # TLS held (the request reached the server), and the server's refusal is one line.
    assert "Authentication failed" in str(refused.value) and "\n" not in str(refused.value)
    import base64

    (first, *_) = _Recorder.seen
    assert base64.b64decode(first["authorization"].split()[1]) == b"sno_writer:ch-secret"


def test_an_https_clickhouse_with_a_certificate_of_another_ca_is_refused_in_one_line(
    pki, https_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNO_CLICKHOUSE_CA_FILE", pki["other"])
    with pytest.raises(StoreError) as refused:
        Store(f"https://sno_writer:pw@localhost:{https_server}/sno")
    message = str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and "\n" not in message
    assert "pw@" not in message  # the password never reaches a message
    assert _Recorder.seen == []


def test_a_bundled_broker_without_tls_settings_is_unchanged() -> None:
    with LocalBroker() as local:
        assert transport.aiokafka_options({}) == {"security_protocol": "PLAINTEXT"}
        wait_until_answers(local.bootstrap, timeout=5)


def test_sno_ingest_publishes_through_tls_only(pki, tls_broker: str, tmp_path: Path) -> None:
    """`sno ingest` takes the same SNO_KAFKA_* settings as the worker: against a broker that speaks
    TLS only, a plain client could not even connect."""
    valid, _ = events(60, seed=6)
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(valid) + b"\n")
    result = subprocess.run(
        [sys.executable, "-m", "sno.cli", "ingest", "--broker", tls_broker, str(lines)],
        capture_output=True, timeout=180, env=sno_env(**_tls_env(pki["ca"])),
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]

"""`sno store serve`: the embedded store over ClickHouse's HTTP interface (docs/interfaces.md, commands), with
the real engine behind it and real clients in front: clickhouse-connect (what the workers, `sno report`
and analysts use) and curl."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest

from tests.conftest import sno_env
from tests.test_exact_counting import StoreServe


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreServe]:
    server = StoreServe(tmp_path_factory.mktemp("served") / "store")
    yield server
    server.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_served_store_answers_ping_like_a_clickhouse_server(served: StoreServe) -> None:
    assert _get(served.url + "/ping")[2] == b"Ok.\n"


def test_clickhouse_connect_queries_with_bound_parameters_and_inserts_natively(served: StoreServe) -> None:
    client = clickhouse_connect.get_client(dsn=served.url)
    answer = client.query("SELECT {s:String}, {n:UInt32} + 1", parameters={"s": "it's", "n": 41})
    assert answer.result_rows == [("it's", 42)]
    client.command("CREATE TABLE IF NOT EXISTS t_native (a UInt32, s String) ENGINE = MergeTree ORDER BY a")
    client.insert("t_native", [(1, "x"), (2, "y")], column_names=["a", "s"])
    assert client.query("SELECT sum(a), groupArray(s) FROM t_native").result_rows == [(3, ["x", "y"])]
    # the migrations ran: the pipeline's tables are there
    assert client.query("SELECT count() FROM system.tables WHERE name = 'sno_ledger'").result_rows == [(1,)]


def test_an_insert_repeated_with_its_deduplication_token_lands_once(served: StoreServe) -> None:
    """The ledger protocol's idempotent inserts (streams/README.md) hold over HTTP as on a server."""
    client = clickhouse_connect.get_client(dsn=served.url)
    client.command("CREATE TABLE IF NOT EXISTS t_token (a UInt32) ENGINE = MergeTree ORDER BY a "
                   "SETTINGS non_replicated_deduplication_window = 100")
    for _ in range(2):
        client.raw_insert("t_token", ["a"], b'{"a": 1}\n{"a": 2}\n', fmt="JSONEachRow",
                          settings={"insert_deduplication_token": "tok-1", "insert_deduplicate": 1})
    assert client.query("SELECT count() FROM t_token").result_rows == [(2,)]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_sends_a_query_in_the_url_or_in_the_body(served: StoreServe) -> None:
    in_url = subprocess.run(["curl", "-sS", served.url + "/?query=SELECT%2040%2B2"], capture_output=True)
    assert in_url.stdout == b"42\n"
    in_body = subprocess.run(["curl", "-sS", "--data-binary", "SELECT 'a' AS x FORMAT JSONEachRow",
                              served.url + "/"], capture_output=True)
    assert in_body.stdout == b'{"x":"a"}\n'


def test_errors_come_back_in_clickhouse_format_with_the_exception_code(served: StoreServe) -> None:
    status, headers, body = _get(served.url + "/?query=SELECT%20*%20FROM%20no_such_table")
    assert status == 404 and headers["X-ClickHouse-Exception-Code"] == "60"
    assert body.startswith(b"Code: 60. DB::Exception:")
    status, headers, body = _get(served.url + "/play")
    assert status == 501 and headers["X-ClickHouse-Exception-Code"] == "48"
    with pytest.raises(Exception, match="code: 62"):
        clickhouse_connect.get_client(dsn=served.url).query("SELEC 1")


def test_beyond_loopback_the_store_is_served_only_with_a_password(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "sno.cli", "store", "serve", "--store", str(tmp_path / "s"),
         "--host", "0.0.0.0"],
        capture_output=True, timeout=60, env=sno_env())
    assert refused.returncode != 0
    assert refused.stderr.decode().strip().splitlines() == [
        "sno: serving the store on 0.0.0.0, beyond this machine, needs a password (--password-file)"]


def test_a_password_file_makes_every_request_authenticate(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "sno.cli", "store", "serve", "--store", str(tmp_path / "s"), "--port", "0",
         "--password-file", str(secret)], stderr=subprocess.PIPE, env=sno_env())
    try:
        url = process.stderr.readline().decode().split(" at ", 1)[1].split()[0]  # type: ignore[union-attr]
        status, headers, _ = _get(url + "/?query=SELECT%201")
        assert status == 401 and headers["X-ClickHouse-Exception-Code"] == "516"
        client = clickhouse_connect.get_client(dsn=url, username="default", password="s3cret")
        assert client.query("SELECT 1").result_rows == [(1,)]
    finally:
        process.terminate()
        process.wait(30)

"""`sno store serve`: the embedded store over ClickHouse's HTTP interface, so several processes share it.

chDB runs the ClickHouse engine inside the one process that opens a store folder. Workers in one consumer
group, `sno report`, `sno alerts` and an analyst's client all need the same store at once, as they would
share a ClickHouse server in production. This process opens the store and answers the part of the HTTP
interface that clickhouse-connect and curl use, so every one of them runs its production code path
(clickhouse-connect over HTTP) against the real engine:

- `GET /ping` and `GET /` answer `Ok.`;
- a query in the `query` parameter, the request body, or both (the parameter first, as ClickHouse joins
  them), with `param_<name>` bound parameters, `default_format`, `database` and any setting as a URL
  parameter; the answer in the query's `FORMAT` (clickhouse-connect asks for `Native`);
- an `INSERT … FORMAT <fmt>` whose data is the body (after the statement, or all of it when the statement
  is in the URL), also compressed (`Content-Encoding` gzip, deflate, zstd, lz4, br): the data goes to a
  file and the engine reads it with `INSERT … FROM INFILE` (chDB has no stdin), settings such as
  `insert_deduplication_token` included;
- errors as ClickHouse sends them: the engine's `Code: N. DB::Exception: …` text, the
  `X-ClickHouse-Exception-Code` header and a 4xx/5xx status; what is not implemented (multipart external
  data, `/play`, sessions' state) is refused the same way with code 48 (NOT_IMPLEMENTED).

Each request gets its own engine handle (chDB keeps `SET` state per handle; ~2 ms), so requests are
isolated as HTTP requests to a server are, and run concurrently in threads. A non-loopback address needs
a password (HTTP basic auth or `X-ClickHouse-Key`), read from a file, never from the command line.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hmac
import ipaddress
import json
import logging
import os
import re
import tempfile
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sno.runtime.store import Store, StoreError

log = logging.getLogger(__name__)

#: parameters that belong to the HTTP transport, not to the engine's settings
TRANSPORT_PARAMETERS = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
    "quota_key", "compress", "decompress", "wait_end_of_query", "client_protocol_version", "role",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "enable_http_compression",
    "user", "password", "buffer_size", "http_response_buffer_size", "http_wait_end_of_query",
    "add_http_cors_header", "output_format_json_quote_64bit_integers",
})
#: ClickHouse error codes this server answers with itself
NOT_IMPLEMENTED, AUTHENTICATION_FAILED, UNKNOWN_FORMAT, CANNOT_DECOMPRESS, SYNTAX_ERROR = 48, 516, 73, 271, 62

_INSERT = re.compile(
    rb"^\s*(?P<statement>INSERT\s+INTO\s+.+?\bFORMAT\s+(?P<format>\w+))[ \t]*(?:\r?\n)?", re.I | re.S
)
_CODE = re.compile(r"Code:\s*(\d+)")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: codes whose HTTP status is not 500 on a ClickHouse server
_STATUS = {SYNTAX_ERROR: 400, 60: 404, 81: 404, 47: 400, 46: 400, 516: 401, 48: 501, 73: 400, 271: 400}


class EngineError(Exception):
    """An error to answer in ClickHouse's format."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def decompress(data: bytes, encoding: str) -> bytes:
    """The request body of a client that compressed it (clickhouse-connect sends lz4 by default)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    try:
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
        if encoding == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
        if encoding == "lz4":
            import lz4.frame

            return lz4.frame.decompress(data)  # type: ignore[no-any-return]
        if encoding == "br":
            import brotli  # type: ignore[import-not-found]

            return brotli.decompress(data)  # type: ignore[no-any-return]
    except ImportError:
        raise EngineError(NOT_IMPLEMENTED, f"Content-Encoding {encoding} is not supported here") from None
    except Exception as exc:
        raise EngineError(CANNOT_DECOMPRESS,
                          f"cannot decompress the {encoding} request body: {exc}") from None
    raise EngineError(NOT_IMPLEMENTED, f"Content-Encoding {encoding} is not supported here")


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StoreServer:
    """Opens the store (lock, migrations) and serves it until :meth:`shutdown`."""

    def __init__(self, store: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8123,
                 password: str | None = None) -> None:
        if not _loopback(host) and not password:
            raise StoreError(f"serving the store on {host}, beyond this machine, needs a password "
                             f"(--password-file)")
        self.path = Path(store).resolve()
        self.password = password
        self._store = Store(None, self.path, holder="sno store serve")
        try:
            self._store.migrate()
        except Exception:
            self._store.close()
            raise
        self.engine_path = str(self.path / "clickhouse")
        self.tmp = tempfile.mkdtemp(prefix="sno-serve-")
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.address = self.httpd.server_address[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, and `sno replay`-like callers)."""
        thread = threading.Thread(target=self.serve_forever, name="sno-store-serve", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._store.close()
        with contextlib.suppress(OSError):
            os.rmdir(self.tmp)

    # -- one request ----------------------------------------------------------------------------

    def execute(self, params: dict[str, str], body: bytes) -> tuple[bytes, str, dict[str, str]]:
        """Run one request: (answer bytes, format, summary)."""
        import chdb

        query = params.get("query")
        data: bytes | None = None
        if query is not None:
            text = query.encode()
            match = _INSERT.match(text)
            if match is not None and match.end() >= len(text.rstrip()):
                statement, fmt, data = match["statement"].decode(), match["format"].decode(), body
            else:
                statement = query + ("\n" + body.decode("utf-8", "surrogateescape") if body else "")
                fmt = None
        else:
            match = _INSERT.match(body)
            if match is not None:
                statement, fmt = match["statement"].decode(), match["format"].decode()
                data = body[match.end():]
            else:
                statement, fmt = body.decode("utf-8", "surrogateescape"), None
        if not statement.strip():
            raise EngineError(SYNTAX_ERROR, "Empty query")
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items()
                    if k not in TRANSPORT_PARAMETERS and not k.startswith("param_")}
        for name in settings:
            if not _SETTING_NAME.match(name):
                raise EngineError(115, f"Unknown setting {name}")
        handle = chdb.connect(self.engine_path)
        started = time.perf_counter()
        infile = None
        try:
            database = params.get("database")
            if database and database != "default":
                handle.query(f"USE `{database.replace('`', '')}`", "TabSeparated")
            for name, value in settings.items():
                handle.query(f"SET {name} = {_literal(value)}", "TabSeparated")
            if data is not None:
                assert fmt is not None
                head, _, _ = statement.rpartition("FORMAT")
                fd, infile = tempfile.mkstemp(dir=self.tmp, suffix=".data")
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                sql = f"{head.strip()} FROM INFILE {_literal(infile)} FORMAT {fmt}"
                result = handle.query(sql, "TabSeparated", params=bound)
                summary = {"written_rows": str(result.rows_read()), "written_bytes": str(result.bytes_read())}
                return b"", "TabSeparated", summary | _elapsed(started)
            default = params.get("default_format") or "TabSeparated"
            embedded = re.search(r"\bFORMAT\s+(\w+)\s*;?\s*$", statement, re.I)
            result = handle.query(statement, default, params=bound)
            summary = {"read_rows": str(result.rows_read()), "read_bytes": str(result.bytes_read())}
            return result.bytes() or b"", embedded[1] if embedded else default, summary | _elapsed(started)
        except EngineError:
            raise
        except Exception as exc:
            text = str(exc).strip()
            code = _CODE.search(text)
            raise EngineError(int(code[1]) if code else 1001, text) from None
        finally:
            with contextlib.suppress(Exception):
                handle.close()
            if infile is not None:
                with contextlib.suppress(OSError):
                    os.unlink(infile)


def _elapsed(started: float) -> dict[str, str]:
    return {"elapsed_ns": str(int((time.perf_counter() - started) * 1e9))}


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server_state: StoreServer
    protocol_version = "HTTP/1.1"
    server_version = "sno-store-serve"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        self._dispatch(body)

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _dispatch(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            if url.path in ("/ping", "/") and "query" not in params and not body:
                self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            if url.path not in ("/", ""):
                raise EngineError(NOT_IMPLEMENTED, f"the handler {url.path} is not implemented here")
            self._authenticate(params)
            if self.headers.get("Content-Type", "").startswith("multipart/"):
                raise EngineError(NOT_IMPLEMENTED,
                                  "external data (multipart requests) is not implemented here")
            body = decompress(body, self.headers.get("Content-Encoding", ""))
            answer, fmt, summary = self.server_state.execute(params, body)
        except EngineError as exc:
            message = str(exc) if str(exc).startswith("Code:") else f"Code: {exc.code}. DB::Exception: {exc}"
            self._send(_STATUS.get(exc.code, 500), message.encode() + b"\n",
                       {"Content-Type": "text/plain; charset=UTF-8",
                        "X-ClickHouse-Exception-Code": str(exc.code), "X-ClickHouse-Query-Id": query_id})
            return
        self._send(200, answer, {
            "Content-Type": "application/octet-stream" if fmt in ("Native", "RowBinary") else
            "text/plain; charset=UTF-8",
            "X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": "UTC", "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": "sno-store-serve",
            "X-ClickHouse-Summary": json.dumps(summary),
        })

    def _authenticate(self, params: dict[str, str]) -> None:
        expected = self.server_state.password
        if not expected:
            return
        given = self.headers.get("X-ClickHouse-Key") or params.get("password")
        auth = self.headers.get("Authorization", "")
        if given is None and auth.lower().startswith("basic "):
            with contextlib.suppress(ValueError):
                given = base64.b64decode(auth[6:]).decode().partition(":")[2]
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise EngineError(AUTHENTICATION_FAILED, "default: Authentication failed: password is incorrect")

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

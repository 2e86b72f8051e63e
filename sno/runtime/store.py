"""ClickHouse access: the embedded engine (chDB) on a store folder, or a real server.

Both go through `clickhouse-connect`, so every query and migration is the same SQL in both places.
chDB admits one process per store folder. Before opening it we take an advisory lock on
`<store>/sno.lock` and write who holds it, so a second process gets a one-line error naming the holder
instead of chDB's internal exception, and never touches the data.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STORE = "./sno-data"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreError(RuntimeError):
    """The store cannot be used; the message is one line for the user."""


class StoreBusy(StoreError):
    """Another process holds the embedded store."""


def sql_dir() -> Path:
    """The project's `sql/` folder (migrations and named queries), shared by chDB and a real server."""
    override = os.environ.get("SNO_SQL_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "sql"


def migration_files(folder: Path | None = None) -> list[Path]:
    folder = (folder or sql_dir()) / "migrations"
    files = sorted(p for p in folder.glob("*.sql") if _MIGRATION_NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(set(numbers)) != len(numbers):
        raise StoreError(f"two migrations share a number in {folder}")
    return files


def split_statements(sql: str) -> list[str]:
    """Split a migration file on `;` at line ends; comments are kept with their statement."""
    statements = []
    for chunk in re.split(r";\s*(?:\n|$)", sql):
        body = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements


def query_text(name: str) -> str:
    """A named query from `sql/queries/<name>.sql` (bound parameters like `{month:Date}`)."""
    path = sql_dir() / "queries" / f"{name}.sql"
    return path.read_text(encoding="utf-8")


#: seconds to wait for the lock of a holder that is exiting
EXITING_HOLDER_WAIT = 10.0


@dataclass
class StoreLock:
    """An advisory lock on the embedded store folder, recording its holder for the error message."""

    path: Path
    holder: str
    #: the process named as the holder (the worker, when a process of its own runs the engine for it)
    pid: int | None = None
    _fd: int | None = field(default=None, init=False)

    def acquire(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        lock_file = self.path / "sno.lock"
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + EXITING_HOLDER_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A killed holder keeps the lock until its last thread has exited (the engine's
                # threads take a moment); a fresh worker started right after the kill waits for that.
                if _holder_exiting(fd) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                info = _read_holder(fd)
                os.close(fd)
                raise StoreBusy(
                    f"the store {self.path} is in use by {info}; embedded ClickHouse admits one process "
                    f"per store: stop that process first, or give another --store"
                ) from None
        os.ftruncate(fd, 0)
        record = {"pid": self.pid or os.getpid(), "command": self.holder,
                  "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "engine_pid": os.getpid()}
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder_exiting(fd: int) -> bool:
    """The recorded holder has died (gone, or a zombie whose threads are still being torn down); with a
    process of its own running the engine, that one dies with the holder and is waited for too."""
    try:
        raw = os.pread(fd, 4096, 0)
        if not raw:  # the holder is releasing (it empties the record before it unlocks)
            return True
        record = json.loads(raw)
        pids = [int(record[key]) for key in ("pid", "engine_pid") if key in record]
    except (OSError, ValueError, TypeError):
        return False
    return any(_exited(pid) for pid in pids if pid > 0)


def _exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True
    except (OSError, IndexError):
        return False


def _read_holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0)
        record = json.loads(raw or b"{}")
        command, pid, since = record.get("command", "?"), record.get("pid", "?"), record.get("since", "?")
        return f"`{command}` (pid {pid}, since {since})"
    except (OSError, ValueError):
        return "another process"


class Store:
    """One ClickHouse connection plus the migrations; embedded (chDB) or a real server."""

    def __init__(
        self,
        clickhouse: str | None = None,
        store: str | os.PathLike[str] | None = None,
        holder: str | None = None,
        holder_pid: int | None = None,
    ) -> None:
        self.lock: StoreLock | None = None
        self._column_types: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.embedded = not clickhouse or clickhouse.startswith("chdb://")
        if self.embedded:
            path = Path(clickhouse[len("chdb://") :]) if clickhouse else Path(store or DEFAULT_STORE)
            self.path: Path | None = path.resolve()
            self.lock = StoreLock(self.path, holder or " ".join(["sno", *sys.argv[1:2]]), holder_pid)
            self.lock.acquire()
            self.dsn = f"chdb://{self.path / 'clickhouse'}"
        else:
            self.path = None
            self.dsn = clickhouse or ""
        try:
            self.client = _connect(self.dsn)
        except StoreError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise StoreError(f"cannot open ClickHouse at {_redacted(self.dsn)}: {_one_line(exc)}") from None

    def migrate(self) -> list[str]:
        """Apply every migration; each statement is idempotent, so re-applying changes nothing."""
        applied = []
        for path in migration_files():
            for statement in split_statements(path.read_text(encoding="utf-8")):
                self.client.command(statement)
            applied.append(path.name)
        return applied

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self.client.query(sql, parameters=dict(parameters or {})).result_rows)

    def named(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.query(query_text(name), parameters)

    def insert(
        self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], token: str | None = None
    ) -> None:
        """Insert rows; with a token, ClickHouse drops a repeat of the same insert (see streams/README.md).

        Column types are asked of ClickHouse once per table and column list, not on every insert (the
        worker inserts several times a second).
        """
        if not rows:
            return
        settings = {"insert_deduplication_token": token, "insert_deduplicate": 1} if token else None
        key = (table, tuple(columns))
        types = self._column_types.get(key)
        context = self.client.create_insert_context(
            table, list(columns), column_types=types, settings=settings
        )
        if types is None:
            self._column_types[key] = context.column_types
        self.client.insert(data=rows, context=context)

    def insert_json(
        self, table: str, columns: Sequence[str], payload: bytes, token: str | None = None
    ) -> None:
        """Insert JSON Lines (one object per row) that ClickHouse parses itself; with a token, a repeat of
        the same insert is dropped part by part (see streams/README.md)."""
        if not payload:
            return
        settings: dict[str, Any] = {"date_time_input_format": "best_effort"}
        if token:
            settings |= {"insert_deduplication_token": token, "insert_deduplicate": 1}
        self.client.raw_insert(table, list(columns), payload, settings=settings, fmt="JSONEachRow")

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
            self.client = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(dsn: str) -> Any:
    import clickhouse_connect  # imported here: `sno schema` and the pure core never need it
    from clickhouse_connect.driver import options

    # We insert and read plain Python rows only. Telling clickhouse-connect that pandas is absent keeps
    # its first insert from importing pandas (measured: a third of the worker's insert time in a short
    # run, and tens of MB of resident memory, for a library the project never uses).
    options.pd = None  # type: ignore[attr-defined]
    options.pd_time_test = None  # type: ignore[attr-defined]
    if dsn.startswith("chdb://"):
        return clickhouse_connect.get_client(dsn=dsn)
    # TLS (CA file, client certificate) and the password file, from the environment
    # (sno/runtime/transport.py); a bad or missing setting is one line naming the variable.
    from sno.runtime.transport import TransportError, clickhouse_options

    try:
        tls = clickhouse_options(dsn)
    except TransportError as exc:
        raise StoreError(f"cannot open ClickHouse at {_redacted(dsn)}: {exc}") from None
    return clickhouse_connect.get_client(dsn=dsn, **tls)


def _redacted(dsn: str) -> str:
    """The DSN without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", dsn)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextlib.contextmanager
def open_store(
    clickhouse: str | None = None,
    store: str | os.PathLike[str] | None = None,
    holder: str | None = None,
    migrate: bool = True,
) -> Iterator[Store]:
    """Open the store, apply the migrations, and close it (and release the lock) afterwards."""
    st = Store(clickhouse, store, holder)
    try:
        if migrate:
            st.migrate()
        yield st
    finally:
        st.close()

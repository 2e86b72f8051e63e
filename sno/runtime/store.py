"""ClickHouse access: the embedded engine (chDB) on a store folder, or a real server.

Both go through `clickhouse-connect`, so every query and migration is the same SQL in both places.
chDB admits one process per store folder. Before opening it we take an advisory lock on
`<store>/sno.lock` and write who holds it, so a second process gets a one-line error naming the holder
instead of chDB's internal exception, and never touches the data.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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


#: The store's record of the migrations applied to it (created by `Store.migrate` itself: the record
#: cannot be one of the migrations it records).
MIGRATIONS_TABLE = "sno_migrations"
_MIGRATIONS_DDL = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY name"""
_CREATED_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AppliedMigration:
    """One row of the store's record: which file, its checksum then, and when it was first applied."""

    name: str
    checksum: str
    applied_at: datetime


def migration_checksum(sql: str) -> str:
    """The SHA-256 of a migration as ClickHouse runs it: its statements, with whole-line comments left
    out and white space folded, so that correcting a comment or re-indenting an applied migration is not
    an edit, and changing a word of its SQL is."""
    normal = ";\n".join(" ".join(statement.split()) for statement in split_statements(sql))
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def _table_difference(have: dict[str, Any], want: dict[str, Any]) -> str:
    """What differs between two table shapes (see `Store._table_shape`), in a few words."""
    parts: list[str] = []
    have_columns, want_columns = have["columns"], want["columns"]
    for name, spec in want_columns.items():
        if name not in have_columns:
            parts.append(f"no column {name}")
        elif have_columns[name] != spec:
            parts.append(f"column {name} is {' '.join(filter(None, have_columns[name]))}, "
                         f"the migration makes it {' '.join(filter(None, spec))}")
    parts.extend(f"an extra column {name}" for name in have_columns if name not in want_columns)
    for key in ("engine", "partition_key", "sorting_key", "primary_key"):
        if have[key] != want[key]:
            words = key.replace("_", " ")
            parts.append(f"{words} {have[key] or 'none'}, the migration says {want[key] or 'none'}")
    return "; ".join(parts)


def _added_columns(table: str) -> set[str]:
    """The columns any migration adds to ``table`` with `ALTER TABLE … ADD COLUMN IF NOT EXISTS`."""
    pattern = re.compile(
        rf"ALTER\s+TABLE\s+{re.escape(table)}\s+ADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\s+`?(\w+)`?", re.I)
    names: set[str] = set()
    for path in migration_files():
        for statement in split_statements(path.read_text(encoding="utf-8")):
            names.update(pattern.findall(statement))
    return names


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
        """Apply the migrations this store has not had yet, record each, and return every migration the
        store now has, in order.

        The store keeps a record (`sno_migrations`: name, checksum, applied_at), so a migration runs once
        per store and a column can change: by a new file, never by editing an applied one. An applied
        migration whose SQL has changed since is an error (the store would silently differ from the file);
        so is a recorded migration this version does not have (a newer sno migrated the store). Every
        statement stays idempotent, so two workers starting at once may both apply a new migration, and
        a crash between a migration and its record only runs it again. A store made before the record
        existed is adopted: its migrations run as they always did (changing nothing) and are recorded,
        after a check that each table they would create, where it exists already, is the table they
        create: `IF NOT EXISTS` would otherwise hide a table made by an earlier version of the file.
        """
        files = migration_files()
        self.client.command(_MIGRATIONS_DDL)
        recorded = {m.name: m for m in self.applied_migrations()}
        unknown = sorted(set(recorded) - {p.name for p in files})
        if unknown:
            raise StoreError(
                f"this store has migration {', '.join(unknown)} applied, which this sno does not have "
                f"({files[0].parent if files else sql_dir() / 'migrations'}): a newer version migrated it; "
                f"run that version, or point SNO_SQL_DIR at its sql/ folder"
            )
        existing: set[str] | None = None
        for path in files:
            sql = path.read_text(encoding="utf-8")
            checksum = migration_checksum(sql)
            done = recorded.get(path.name)
            if done is not None:
                if done.checksum != checksum:
                    raise StoreError(
                        f"migration {path.name} was changed after it was applied to this store on "
                        f"{done.applied_at:%Y-%m-%d} (checksum {done.checksum[:12]}…, the file now "
                        f"{checksum[:12]}…): put the file back as it was and make the change in a new "
                        f"migration (sql/migrations/NNNN_….sql)"
                    )
                continue
            if existing is None:
                existing = self._tables()
            for statement in split_statements(sql):
                created = _CREATED_TABLE.match(statement)
                if created and created[1] in existing:
                    self._check_created_table(path.name, statement, created[1])
                self.client.command(statement)
                if created:
                    existing.add(created[1])
            self.insert(MIGRATIONS_TABLE, [(path.name, checksum)], ("name", "checksum"))
        return [p.name for p in files]

    def applied_migrations(self) -> list[AppliedMigration]:
        """The store's record of applied migrations, by name (empty before the first `migrate`)."""
        if not self.query(f"EXISTS TABLE {MIGRATIONS_TABLE}")[0][0]:
            return []
        rows = self.query(
            f"SELECT name, checksum, min(applied_at) FROM {MIGRATIONS_TABLE} GROUP BY name, checksum "
            f"ORDER BY name"
        )
        names = [row[0] for row in rows]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise StoreError(
                f"this store recorded migration {', '.join(twice)} with two different checksums: two "
                f"versions of the file were applied; the store needs a look by hand"
            )
        return [AppliedMigration(name, checksum, applied_at) for name, checksum, applied_at in rows]

    def _tables(self) -> set[str]:
        rows = self.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        return {row[0] for row in rows}

    def _table_shape(self, table: str) -> dict[str, Any]:
        """What a CREATE TABLE decides, as ClickHouse reports it: columns and the engine's keys."""
        columns = self.query(
            "SELECT name, type, default_kind, default_expression, compression_codec FROM system.columns "
            "WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
            {"t": table},
        )
        ((engine, partition_key, sorting_key, primary_key),) = self.query(
            "SELECT engine, partition_key, sorting_key, primary_key FROM system.tables "
            "WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
        )
        return {"columns": {row[0]: tuple(row[1:]) for row in columns}, "engine": engine,
                "partition_key": partition_key, "sorting_key": sorting_key, "primary_key": primary_key}

    def _check_created_table(self, migration: str, statement: str, table: str) -> None:
        """The existing ``table`` is the one ``statement`` creates: the statement is run on a scratch
        name and ClickHouse's own description of both tables is compared."""
        scratch = f"_sno_migration_check_{uuid.uuid4().hex[:12]}"
        created = _CREATED_TABLE.match(statement)
        assert created is not None
        self.client.command(statement[: created.start(1)] + scratch + statement[created.end(1) :])
        try:
            have, want = self._table_shape(table), self._table_shape(scratch)
        finally:
            self.client.command(f"DROP TABLE IF EXISTS {scratch} SYNC")
        # Columns that a migration adds with ALTER TABLE … ADD COLUMN IF NOT EXISTS are the table's
        # own, whichever migration added them (0005 adds sno_ledger.generation to 0001's table).
        for name in _added_columns(table):
            if name not in want["columns"]:
                have["columns"].pop(name, None)
        if have != want:
            difference = _table_difference(have, want)
            raise StoreError(
                f"the store's table {table} is not the one {migration} creates ({difference}): an "
                f"earlier version of that file made it; start a new store, or bring the table in line "
                f"with a new migration (sql/migrations/NNNN_….sql)"
            )

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self.client.query(sql, parameters=dict(parameters or {})).result_rows)

    def query_lines(self, sql: str, parameters: Mapping[str, Any] | None = None) -> bytes:
        """The result as JSONCompactEachRow bytes (a JSON array per row, 64-bit integers unquoted): for
        results of millions of rows that are parsed elsewhere (the fold process rebuilds its
        de-duplication memory from them), where a Python tuple per row, pickled from the engine's
        process to the worker's and on, cost more than the query."""
        return bytes(self.client.raw_query(sql, parameters=dict(parameters or {}), fmt="JSONCompactEachRow",
                                           settings={"output_format_json_quote_64bit_integers": 0}))

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
        """Insert JSON Lines, one array per row in the order of `columns` (JSONCompactEachRow), that
        ClickHouse parses itself; with a token, a repeat of the same insert is dropped part by part (see
        streams/README.md)."""
        if not payload:
            return
        settings: dict[str, Any] = {"date_time_input_format": "best_effort"}
        if token:
            settings |= {"insert_deduplication_token": token, "insert_deduplicate": 1}
        self.client.raw_insert(table, list(columns), payload, settings=settings, fmt="JSONCompactEachRow")

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

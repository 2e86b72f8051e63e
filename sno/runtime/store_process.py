"""The embedded ClickHouse engine in a process of its own, serving the worker's `Store` calls.

chDB runs the ClickHouse engine inside whatever process opens a store: it maps ~210 MB of engine code
and keeps its own threads and allocator there. In the worker that process is also Faust's, so the engine
and the Python half of every insert contended with Faust for the same interpreter lock, and the worker
carried the database's memory. Against a ClickHouse server (production) the worker writes over HTTP and
carries neither. This gives the embedded path the same shape, worker and database in two processes, so
the worker behaves here as it will in production and the engine's memory is measured on its own, as the
broker's is.

The engine process is the worker's child: it takes the store's lock, dies with the worker (also on
SIGKILL, through the kernel's parent-death signal, so a killed worker leaves no process holding the
store), and answers one call at a time, in order, over a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sno.runtime import children
from sno.runtime.store import Store, StoreBusy, StoreError

#: seconds an orderly close may take before the engine process is killed
CLOSE_TIMEOUT = 30.0


class StoreProcess:
    """A `Store` on the embedded engine, opened and served by a child process (same methods).

    Create it on the main thread: the kernel's parent-death signal follows the thread that started the
    child, so one started from a thread that ends would take the engine down with that thread.
    """

    embedded = True

    def __init__(self, store: str | os.PathLike[str], holder: str) -> None:
        self.path: Path | None = Path(store).resolve()
        self.dsn = f"chdb://{Path(store).resolve() / 'clickhouse'}"
        children.install()  # the engine is armed to die with the worker before it even starts Python
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()
        self._broken = False
        self._process = context.Process(target=_serve, args=(child, str(self.path), holder, os.getpid()),
                                        name="sno-store", daemon=True)
        self._process.start()
        child.close()
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            raise StoreError(f"the embedded ClickHouse process for {self.path} stopped while opening "
                             f"the store (exit code {self._process.exitcode})") from None
        if reply[0] != "ok":
            self._process.join(5)
            raise _error(reply)
        self._lock_file = _identity(self.path / "sno.lock")

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._broken:
                raise StoreError(f"the embedded ClickHouse process (pid {self.pid}) is out of step with "
                                 f"the worker after an interrupted call")
            try:
                self._conn.send((method, args))
                reply = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._broken = True
                self._process.join(1)
                raise self._explained(StoreError(f"the embedded ClickHouse process (pid {self.pid}) stopped "
                                                 f"(exit code {self._process.exitcode})")) from exc
            except BaseException:
                self._broken = True  # a reply may still be on its way: no later call may take it for its own
                raise
        if reply[0] == "ok":
            return reply[1]
        raise self._explained(_error(reply))

    def _explained(self, error: Exception) -> Exception:
        """The real cause first when the store's folder was removed under the engine: ClickHouse then
        reports missing files of some table, which reads like a bug or like bad input, never like the
        operator's `rm` that it is."""
        if self.path is None or _identity(self.path / "sno.lock") == self._lock_file:
            return error  # the store's lock file is the one the engine locked: the folder is in place
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return StoreError(f"the store folder {self.path} was removed while in use, so nothing more can be "
                          f"written to it (restore it from a backup, or start again on a new store); "
                          f"ClickHouse said: {first[:300]}")

    def migrate(self) -> list[str]:
        return list(self._call("migrate"))

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self._call("query", sql, dict(parameters or {})))

    def query_lines(self, sql: str, parameters: Mapping[str, Any] | None = None) -> bytes:
        return bytes(self._call("query_lines", sql, dict(parameters or {})))

    def named(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self._call("named", name, dict(parameters or {})))

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str],
               token: str | None = None) -> None:
        if rows:
            self._call("insert", table, list(rows), tuple(columns), token)

    def insert_json(self, table: str, columns: Sequence[str], payload: bytes,
                    token: str | None = None) -> None:
        if payload:
            self._call("insert_json", table, tuple(columns), payload, token)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the engine in order (its parts flushed, the lock released), then reap the process; one
        that does not answer within `timeout` is killed (the ledger makes that as safe as a crash)."""
        locked = self._lock.acquire(timeout=timeout)
        try:
            if self._process.is_alive() and not self._broken:
                with contextlib.suppress(EOFError, OSError):
                    self._conn.send(("close", ()))
                    if self._conn.poll(timeout):
                        self._conn.recv()
            self._broken = True
            self._conn.close()
        finally:
            if locked:
                self._lock.release()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def __enter__(self) -> StoreProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identity(path: Path) -> tuple[int, int] | None:
    """Device and inode of a file, None when it is gone: a removed and re-created folder differs."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _error(reply: tuple[Any, ...]) -> Exception:
    _, kind, message = reply
    if kind == "StoreBusy":
        return StoreBusy(message)
    if kind == "StoreError":
        return StoreError(message)
    return StoreError(f"{kind}: {message}")


def _die_with(parent: int) -> None:
    """SIGKILL this process when the worker dies, however it dies (sno/runtime/children.py); polls
    where the kernel cannot. The process was armed before exec already; this also covers a start
    that did not go through `children.install`."""
    children.arm_or_watch(parent)


def _serve(conn: Connection, path: str, holder: str, parent: int) -> None:
    _die_with(parent)
    # Ctrl-C, and a supervisor's SIGTERM to the whole process group, reach the engine too; the worker
    # closes it in order when it stops (and the kernel kills it if the worker dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        store = Store(None, path, holder=holder, holder_pid=parent)
    except Exception as exc:
        conn.send(("error", type(exc).__name__, str(exc)))
        return
    conn.send(("ok", os.getpid()))
    try:
        while True:
            try:
                method, args = conn.recv()
            except EOFError:
                return
            if method == "close":
                store.close()
                conn.send(("ok", None))
                return
            try:
                conn.send(("ok", getattr(store, method)(*args)))
            except Exception as exc:
                conn.send(("error", type(exc).__name__, str(exc)))
    finally:
        store.close()

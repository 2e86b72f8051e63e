"""Folding in a child process, so validation, de-duplication, rollups and alerts use the second core.

Faust's consumer loop and the fold are both pure Python; in one process the interpreter lock makes them
take turns (measured: ~75 µs per event for Faust, ~36 µs for the fold with alerts). Here the fold runs
in one child process, one batch at a time and in order, holding the de-duplication and alert state;
the worker process keeps Faust and the ClickHouse writes.

The child dies with its parent however the parent dies, SIGKILL included (sno/runtime/children.py): it
is armed with the kernel's parent-death signal between fork and exec, and again first thing in `_init`
with a check that its parent is still the worker that started it. The signal follows the *thread* that
started the child, and the pool would start it from whichever thread first submits work (the sink's
writer threads), so `ProcessFolder` starts it at once, from the thread that builds it: the main thread.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sno.runtime import children
from streams.batches import TP, FoldedBatch, RawRecord, SeenLookup

_processor: Any = None


def _init(alert_rows: dict[str, Any] | None, owners: int | dict[str, int] = 0,
          parent: int | None = None) -> None:
    if parent is not None:
        children.arm_or_watch(parent)  # before anything else: a worker SIGKILLed meanwhile is noticed here
    global _processor
    from sno.runtime.logs import configure_from_env  # the worker's log format here too (ops)

    configure_from_env("fold")
    from sno.core.catalogue import load_catalogue
    from streams.processor import EventProcessor

    catalogue = load_catalogue()
    engine = None
    if alert_rows is not None:
        from sno.core.alerts import AlertEngine

        engine = AlertEngine(catalogue)
        engine.restore(**alert_rows)
    _processor = EventProcessor(catalogue, alerts=engine, owners=owners)


def _fold(records: Sequence[RawRecord], seq: int, confirmed: int) -> FoldedBatch | SeenLookup:
    return _processor.fold(records, seq, confirmed)  # type: ignore[no-any-return]


def _resume(rows: list[tuple[Any, ...]]) -> FoldedBatch:
    return _processor.resume(rows)  # type: ignore[no-any-return]


def _restore_seen(topic: str, partitions: list[int], lines: bytes) -> None:
    _processor.restore_seen(topic, partitions, lines)


def _forget(tp: TP) -> None:
    _processor.forget(tp)


def _set_owners(counts: dict[str, int]) -> None:
    _processor.set_owners(counts)


def _advance(drained: bool) -> FoldedBatch:
    return _processor.advance(drained)  # type: ignore[no-any-return]


class ProcessFolder:
    """The processor interface of the sink (`fold`, `restore_seen`, `forget`), served by a child process."""

    def __init__(self, alert_rows: dict[str, Any] | None, owners: int | dict[str, int] = 0) -> None:
        """Start the fold process now, from this thread (the main thread: see the module docstring)."""
        children.install()
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
            initargs=(alert_rows, owners, os.getpid()),
        )
        self._pool.submit(os.getpid).result()  # the pool spawns on first submit: here, not in a writer

    def fold(self, records: Sequence[RawRecord], seq: int = 0,
             confirmed: int = -1) -> FoldedBatch | SeenLookup:
        return self._pool.submit(_fold, list(records), seq, confirmed).result()

    def resume(self, rows: Iterable[tuple[Any, ...]]) -> FoldedBatch:
        return self._pool.submit(_resume, list(rows)).result()

    def restore_seen(self, topic: str, partitions: Sequence[int], lines: bytes) -> None:
        self._pool.submit(_restore_seen, topic, list(partitions), lines).result()

    def forget(self, tp: TP) -> None:
        self._pool.submit(_forget, tp).result()

    def set_owners(self, counts: dict[str, int]) -> None:
        self._pool.submit(_set_owners, counts).result()

    def advance(self, drained: bool = False) -> FoldedBatch:
        return self._pool.submit(_advance, drained).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def pids(self) -> list[int]:
        return list(self._pool._processes)  # for memory accounting

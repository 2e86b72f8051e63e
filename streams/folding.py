"""Folding in a child process, so validation, de-duplication, rollups and alerts use the second core.

Faust's consumer loop and the fold are both pure Python; in one process the interpreter lock makes them
take turns (measured: ~75 µs per event for Faust, ~36 µs for the fold with alerts). Here the fold runs
in one child process, one batch at a time and in order, holding the de-duplication and alert state;
the worker process keeps Faust and the ClickHouse writes. The child dies with its parent.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from streams.sink import TP, FoldedBatch, RawRecord

_processor: Any = None


def _init(alert_rows: list[dict[str, Any]] | None) -> None:
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
        engine.restore(alert_rows)
    _processor = EventProcessor(catalogue, alerts=engine)
    parent = os.getppid()

    def _watch_parent() -> None:  # a SIGKILLed worker must not leave its folder behind
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=_watch_parent, daemon=True).start()


def _fold(records: Sequence[RawRecord]) -> FoldedBatch:
    return _processor.fold(records)  # type: ignore[no-any-return]


def _load_seen(tp: TP, rows: list[tuple[Any, ...]]) -> None:
    _processor.load_seen(tp, rows)


def _forget(tp: TP) -> None:
    _processor.forget(tp)


class ProcessFolder:
    """The processor interface of the sink (`fold`, `load_seen`, `forget`), served by a child process."""

    def __init__(self, alert_rows: list[dict[str, Any]] | None) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
            initargs=(alert_rows,),
        )

    def fold(self, records: Sequence[RawRecord]) -> FoldedBatch:
        return self._pool.submit(_fold, list(records)).result()

    def load_seen(self, tp: TP, rows: Iterable[tuple[Any, ...]]) -> None:
        self._pool.submit(_load_seen, tp, list(rows)).result()

    def forget(self, tp: TP) -> None:
        self._pool.submit(_forget, tp).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def pids(self) -> list[int]:
        return list(self._pool._processes)  # for memory accounting

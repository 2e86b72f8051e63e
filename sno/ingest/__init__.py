"""Publish JSON Lines event files to Kafka: read, validate, publish (`sno ingest`, reused by `sno replay`
and the benchmark).

Valid events go to their type's topic, keyed as `schemas.events.KEY_FIELDS` says, unchanged (the bytes
of the line are the message value, so the stream worker validates exactly what a production producer
would have sent). Rejected lines go to `sno.deadletter` as dead-letter records naming file and line.

Throughput comes from three choices: records are appended straight into aiokafka's record batches (one
open batch per topic-partition, partitioned by the same murmur2 hash as `producer.send`) instead of one
`send()` future per event; the file is read in 1 MiB blocks in a worker thread, one block ahead of the
validation; and the validator itself is a few microseconds per line (schemas/README.md).

The package by concern: `errors` (how a run ends, `Progress`), `sources` (the files and their lines),
`lines` (validation and the summary), `publisher` (Kafka); this module runs them (`publish_files`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence

from aiokafka.errors import KafkaError
from tqdm import tqdm

from sno.core.topics import DEADLETTER_TOPIC, INPUT_TOPICS
from sno.ingest.errors import STDIN, BrokerUnavailableError, IngestError, Interrupted, Progress, SourceError
from sno.ingest.lines import UNKNOWN_TYPE, IngestSummary, publish_lines
from sno.ingest.publisher import DEFAULT_LINGER_MS, BatchPublisher, connect, describe
from sno.ingest.sources import LineChunk, LineReader, Sources, open_source

__all__ = [
    "STDIN",
    "UNKNOWN_TYPE",
    "BatchPublisher",
    "BrokerUnavailableError",
    "IngestError",
    "IngestSummary",
    "Interrupted",
    "LineChunk",
    "LineReader",
    "Progress",
    "SourceError",
    "Sources",
    "bootstrap_from_env",
    "connect",
    "open_source",
    "publish_files",
    "publish_lines",
]


async def publish_files(
    paths: Sequence[str],
    bootstrap: str,
    *,
    progress: bool,
    linger_ms: int = DEFAULT_LINGER_MS,
    from_line: int = 1,
) -> IngestSummary:
    """Read, validate and publish JSON Lines files (`-` is standard input, `.gz` is decompressed).

    Raises `SourceError` when a file cannot be opened or read, `BrokerUnavailableError` when the broker
    cannot be reached or stops acknowledging, and `Interrupted` when cancelled; once publishing has
    begun, each carries the `Progress` to resume from (`from_line`). Rejected lines are not errors
    (they are published as dead letters). Every file is opened before connecting, so a typo fails
    fast without touching the broker.
    """
    summary = IngestSummary(files=list(paths))
    sources = Sources(paths, from_line=from_line)
    try:
        started = time.perf_counter()
        producer = await connect(bootstrap, linger_ms=linger_ms)
        try:
            publisher = BatchPublisher(producer)
            try:
                await publisher.prepare([*INPUT_TOPICS, DEADLETTER_TOPIC])
            except (KafkaError, TimeoutError) as exc:
                raise BrokerUnavailableError(
                    f"cannot use the Kafka broker at {bootstrap}: {describe(exc)}"
                ) from exc
            with tqdm(
                unit=" lines", unit_scale=True, disable=not progress, file=sys.stderr, mininterval=0.5
            ) as bar:
                await sources.publish(publisher, summary, bar=bar, linger_ms=linger_ms)
        finally:
            with contextlib.suppress(Exception):  # a lost broker must not hold the exit either
                await asyncio.wait_for(producer.stop(), 10)
        summary.seconds = time.perf_counter() - started
    except asyncio.CancelledError:  # before publishing began (connecting): nothing was sent
        raise Interrupted("interrupted", sources.progress()) from None
    finally:
        sources.close()
    return summary



def bootstrap_from_env() -> str | None:
    """The broker from `SNO_BROKER` (docs/interfaces.md, settings), if set and not empty."""
    value = os.environ.get("SNO_BROKER", "").strip()
    return value or None

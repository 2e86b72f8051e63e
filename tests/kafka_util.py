"""Producing to and reading from the real broker in tests (kafka-python, synchronous)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas.events import KEY_FIELDS, TOPICS


def topic_and_key(line: bytes, default_topic: str = TOPICS["authentication"]) -> tuple[str, bytes]:
    """Where a producer following docs/events.md would send this line (bad lines: the default topic)."""
    try:
        obj = orjson.loads(line)
        kind = obj["type"]
        return TOPICS[kind], str(obj[KEY_FIELDS[kind]]).encode()
    except Exception:
        return default_topic, b"unparseable"


def produce_lines(
    bootstrap: str, lines: Iterable[bytes], default_topic: str = TOPICS["authentication"]
) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    n = 0
    for line in lines:
        topic, key = topic_and_key(line, default_topic)
        producer.send(topic, key=key, value=line)
        n += 1
    producer.flush()
    producer.close()
    return n


def read_topic(
    bootstrap: str, topic: str, expected: int | None = None, idle_seconds: float = 1.5
) -> list[tuple[bytes | None, bytes]]:
    """Everything in a topic, read from the beginning by a consumer outside any group.

    Stops at `expected` records or after `idle_seconds` without one (the broker's end-offset answer is
    not trusted).
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(idle_seconds * 1000),
    )
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    out: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + 60
    for message in consumer:
        out.append((message.key, message.value))
        if (expected is not None and len(out) >= expected) or time.monotonic() > deadline:
            break
    consumer.close()
    return out

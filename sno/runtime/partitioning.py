"""Which partition owns a key: Kafka's default partitioner (murmur2 of the key, seed 0x9747b28c, the
sign bit cleared, modulo the partition count), as the Java client, librdkafka's `murmur2_random` and
aiokafka partition keyed records.

It runs once per event three times over: `sno ingest` partitions each line, the worker's fold checks
that a record is on its key's owner (null-keyed input is forwarded there), and every partition
assignment rebuilds the de-duplication memory grouped by owner (a day of ids). aiokafka's murmur2 is
pure Python, measured at ~4.9 µs per event id here; the `murmurhash2` C extension computes the same
MurmurHash2 in ~0.1 µs (tests/test_partitioning.py checks the two agree on random keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from murmurhash2 import murmurhash2 as _murmurhash2

__all__ = ["KAFKA_SEED", "murmur2", "owner_partition", "partition_for"]

#: The seed of Kafka's `Utils.murmur2` (and of aiokafka's and librdkafka's copies of it).
KAFKA_SEED: Final = 0x9747B28C


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 of `key` as an unsigned 32-bit value (aiokafka's `murmur2` returns the same)."""
    return _murmurhash2(key, KAFKA_SEED) & 0xFFFFFFFF


def owner_partition(key: bytes, partitions: int) -> int:
    """The partition of `partitions` (a count) that owns `key`."""
    return (_murmurhash2(key, KAFKA_SEED) & 0x7FFFFFFF) % partitions


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition among `partitions` (all of a topic's, sorted) that owns `key`."""
    return partitions[(_murmurhash2(key, KAFKA_SEED) & 0x7FFFFFFF) % len(partitions)]

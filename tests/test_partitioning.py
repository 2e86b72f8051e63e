"""The partitioner (sno/runtime/partitioning.py) is Kafka's: a record keyed by `sno ingest`, by the worker's
forwarding or by any Java, librdkafka or aiokafka producer lands on the same partition, and the worker's
idea of an id's owner is that partition. The C hash replaced aiokafka's pure-Python murmur2 for speed; these
tests hold it to aiokafka's on arbitrary keys and to Kafka's published reference values."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from sno.runtime.partitioning import murmur2, owner_partition, partition_for


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=1000))
def test_the_c_hash_partitions_every_key_as_aiokafka_does(key: bytes, count: int) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)
    partitions = list(range(count))
    assert owner_partition(key, count) == DefaultPartitioner()(key, partitions, partitions)
    assert partition_for(key, partitions) == owner_partition(key, count)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_event_ids_in_any_script_hash_the_same_as_their_utf8_bytes_in_aiokafka(event_id: str) -> None:
    key = event_id.encode("utf-8", "surrogatepass")
    assert murmur2(key) == aiokafka_murmur2(key)


def test_kafka_reference_values_hold() -> None:
    """Kafka's own test vectors (UtilsTest.testMurmur2, signed 32-bit there)."""
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for key, signed in cases.items():
        assert murmur2(key) == signed & 0xFFFFFFFF, key

"""Recovery rebuilds the de-duplication memory from `sno_seen` (streams/README.md, "One owner per id"):
`Ledger.read_seen` hands the fold process the stored ids as JSON lines, and `EventProcessor.restore_seen`
puts each id on the partition that owns it now. These tests hold that path to what it replaced: every
stored copy within the window is remembered, on its owner, whatever its id's characters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from sno.core.dedup import id_digest
from sno.core.intervals import instant_key
from sno.runtime.partitioning import owner_partition
from sno.runtime.store import open_store
from streams.ledger import Ledger
from streams.processor import EventProcessor

TOPIC = "sno.authentications"
KIND = "authentication"
AWKWARD = ["plain-1", 'quote"and\\backslash', "tab\tnewline\n", "ünïcødé-€-😀", "\u2028line-sep", "x" * 300]


def _remembered(processor: EventProcessor, partition: int, event_id: str, at: datetime) -> bool:
    return processor.seen[(TOPIC, partition)].seen_within(id_digest(KIND, event_id), instant_key(at))


def test_ids_stored_under_two_partitions_are_restored_on_their_owners_after_partitions_were_added() -> None:
    at = datetime(2026, 3, 14, 12, tzinfo=UTC)
    ids = [f"id-{n}" for n in range(400)] + AWKWARD
    # written when the topic had 2 partitions: each id where murmur2 mod 2 put it
    lines = b"".join(
        orjson.dumps([owner_partition(i.encode(), 2), KIND, i, instant_key(at)]) + b"\n" for i in ids
    )
    processor = EventProcessor(owners={TOPIC: 6})
    processor.restore_seen(TOPIC, [0, 1, 2, 3, 4, 5], lines)
    for event_id in ids:
        owner = owner_partition(event_id.encode(), 6)
        assert _remembered(processor, owner, event_id, at + timedelta(hours=3)), event_id
        others = [p for p in range(6) if p != owner]
        assert not any(_remembered(processor, p, event_id, at) for p in others), event_id
    assert sum(len(processor.seen[(TOPIC, p)]) for p in range(6)) == len(ids)


def test_a_worker_restores_only_the_partitions_it_was_assigned_and_an_empty_one_is_empty() -> None:
    at = datetime(2026, 3, 14, 12, tzinfo=UTC)
    lines = b"".join(orjson.dumps([p, KIND, f"id-{p}-{n}", instant_key(at)]) + b"\n"
                     for p in range(2) for n in range(50))
    processor = EventProcessor(owners=0)  # one owner per partition count unknown: stored partition
    processor.restore_seen(TOPIC, [1, 7], lines)
    assert set(processor.seen) == {(TOPIC, 1), (TOPIC, 7)}
    assert len(processor.seen[(TOPIC, 1)]) == 50 and len(processor.seen[(TOPIC, 7)]) == 0
    assert _remembered(processor, 1, "id-1-7", at)


def test_the_stores_own_lines_round_trip_awkward_ids_into_memory(tmp_path: Path) -> None:
    """Real embedded ClickHouse: what `read_seen` returns is what `restore_seen` parses, and the window
    is measured behind each partition's newest (an id older than that is left to the store lookup)."""
    newest = datetime(2026, 3, 20, 9, tzinfo=UTC)
    rows = [(TOPIC, n % 2, n, KIND, event_id, (newest - timedelta(minutes=n)).replace(tzinfo=None))
            for n, event_id in enumerate(AWKWARD)]
    rows.append((TOPIC, 0, 99, KIND, "long-ago", (newest - timedelta(days=3)).replace(tzinfo=None)))
    with open_store(store=tmp_path / "store") as store:
        columns = ("topic", "partition", "offset", "event_type", "event_id", "event_time")
        store.insert("sno_seen", rows, columns)
        lines = Ledger(store, epoch="e1", member="m1").read_seen(TOPIC, {})
    processor = EventProcessor(owners={TOPIC: 2})
    processor.restore_seen(TOPIC, [0, 1], lines)
    for n, event_id in enumerate(AWKWARD):
        owner = owner_partition(event_id.encode(), 2)
        assert _remembered(processor, owner, event_id, newest - timedelta(minutes=n)), event_id
    assert not any(_remembered(processor, p, "long-ago", newest - timedelta(days=3)) for p in (0, 1))
    assert sum(len(processor.seen[(TOPIC, p)]) for p in (0, 1)) == len(AWKWARD)

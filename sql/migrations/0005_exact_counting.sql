-- Exact counting whatever the arrival order, the producer's keys and the number of workers
-- (streams/README.md, "Exactly-once effect" and "Fencing").

-- De-duplication asks `sno_seen` about ids whose event time lies too far behind their partition's newest
-- for the fold's memory (one query per batch, by event_id): a bloom filter per granule finds their parts.
-- Parts written before this migration are read without it (same answers, slower).
ALTER TABLE sno_seen ADD INDEX IF NOT EXISTS seen_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1;

-- The claim of the worker that wrote each ledger row (the store's time of its latest claim of its
-- partitions in sno_owners, µs): recovery takes the newest claim's writes first, so a write that a fenced
-- worker began late is never taken for the newest. The store's clock orders claims across consumer
-- groups too, where group generations start again at 1. Rows written before this migration have 0.
ALTER TABLE sno_ledger ADD COLUMN IF NOT EXISTS claim UInt64 DEFAULT 0;

-- Who owns each input partition: a worker records itself (with its consumer group generation, for
-- people) when it is assigned partitions, before it reads their ledger. Before its inserts, every write
-- checks that the newest claim (by claimed_at) of each of its partitions is its own; otherwise it is abandoned
-- and the worker stops (a worker that stalled past its session timeout cannot count after the new owner
-- took over). Small: one row per partition per rebalance.
CREATE TABLE IF NOT EXISTS sno_owners
(
    epoch      LowCardinality(String),
    topic      LowCardinality(String),
    partition  UInt32,
    generation UInt64,
    owner      String,
    claimed_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (epoch, topic, partition, generation);

-- The pipeline's own bookkeeping. Every statement is idempotent: migrations run on every start.

-- Which source offsets are in ClickHouse. One row per topic-partition per flushed batch, written first
-- as `pending` and again as `done` after every rollup of the batch is inserted. Not partitioned, so each
-- insert is one part and lands whole or not at all (streams/README.md explains the protocol).
CREATE TABLE IF NOT EXISTS sno_ledger
(
    topic       LowCardinality(String),
    partition   UInt32,
    from_offset UInt64,
    to_offset   UInt64,
    token       String,
    state       Enum8('pending' = 1, 'done' = 2),
    written_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (topic, partition, to_offset, state);

-- Hashes of the (type, event_id) pairs counted, for de-duplication within 24 h of event time across
-- restarts and rebalances. Partitioned by month so old months can be dropped.
CREATE TABLE IF NOT EXISTS sno_seen
(
    topic       LowCardinality(String),
    partition   UInt32,
    event_hash  UInt64,
    event_time  DateTime64(3, 'UTC'),
    token       String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, event_time)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every rejected input, once per source position (re-delivery replaces, never adds).
CREATE TABLE IF NOT EXISTS sno_deadletter
(
    topic       LowCardinality(String),
    partition   UInt32,
    offset      UInt64,
    reason      LowCardinality(String),
    message     String,
    original    String,
    received_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset);

-- Dead-letter counts per day, topic and reason, for dashboards; written with the batch token.
CREATE TABLE IF NOT EXISTS sno_deadletter_daily
(
    day         Date,
    topic       LowCardinality(String),
    reason      LowCardinality(String),
    records     UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, topic, reason)
SETTINGS non_replicated_deduplication_window = 10000;

-- Latest snapshot of each incident, outage and maintenance window (events.md): the highest
-- `updated_at` wins whatever the arrival order.
CREATE TABLE IF NOT EXISTS sno_snapshots
(
    kind        LowCardinality(String),
    service     LowCardinality(String),
    environment LowCardinality(String),
    id          String,
    updated_at  DateTime64(3, 'UTC'),
    payload     String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (kind, service, environment, id);

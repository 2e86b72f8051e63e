-- The pipeline's own bookkeeping. Every statement is idempotent: migrations run on every start.

-- Which source offsets are in ClickHouse. One row per topic-partition per flushed batch, written first
-- as `pending` and again as `done` after every rollup of the batch is inserted. Not partitioned, so each
-- insert is one part and lands whole or not at all (streams/README.md explains the protocol).
-- `epoch` is the Kafka cluster id: offsets of a re-created cluster (the embedded broker keeps topics in
-- memory only) start again at 0 and must not be mistaken for offsets already counted.
CREATE TABLE IF NOT EXISTS sno_ledger
(
    epoch       LowCardinality(String),
    topic       LowCardinality(String),
    partition   UInt32,
    from_offset UInt64,
    to_offset   UInt64,
    token       String,
    state       Enum8('pending' = 1, 'done' = 2),
    written_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (epoch, topic, partition, to_offset, state);

-- The (type, event_id) pairs counted, for de-duplication within 24 h of event time across restarts and
-- rebalances (docs/events.md). Partitioned by month so old months can be dropped.
CREATE TABLE IF NOT EXISTS sno_seen
(
    topic       LowCardinality(String),
    partition   UInt32,
    offset      UInt64,
    event_type  LowCardinality(String),
    event_id    String,
    event_time  DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (topic, partition, event_time)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every rejected input, once per source position (re-delivery replaces, never adds). Not partitioned:
-- each insert is one part, so a repeated batch is dropped by its token even if its rows differ in time.
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
ORDER BY (topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- Dead-letter counts per day (of processing), topic and reason, for dashboards; written with the batch
-- token. Not partitioned, for the same reason as sno_deadletter; it stays small.
CREATE TABLE IF NOT EXISTS sno_deadletter_daily
(
    day         Date,
    topic       LowCardinality(String),
    reason      LowCardinality(String),
    records     UInt64
)
ENGINE = SummingMergeTree
ORDER BY (day, topic, reason)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every distinct snapshot of each incident, outage and maintenance window, and every forecast
-- (docs/events.md). They are few, so all versions are kept and the core picks the latest `updated_at`
-- (forecasts: the latest arrival, `updated_at` being the time of processing) exactly as it does for the
-- reference evaluation; exact re-deliveries collapse on merge.
CREATE TABLE IF NOT EXISTS sno_snapshots
(
    kind         LowCardinality(String),
    service      LowCardinality(String),
    environment  LowCardinality(String),
    id           String,
    updated_at   DateTime64(6, 'UTC'),
    payload      String,
    payload_hash UInt64 MATERIALIZED cityHash64(payload)
)
ENGINE = ReplacingMergeTree
ORDER BY (kind, service, environment, id, updated_at, payload_hash)
SETTINGS non_replicated_deduplication_window = 10000;

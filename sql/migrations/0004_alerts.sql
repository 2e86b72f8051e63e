-- Every alert state change (docs/interfaces.md "Alerts"), so the history survives the broker and
-- `sno alerts --store …` can list it. One row per (alert_id, state): an alert id fires once and resolves
-- once (sno/core/ALERTS.md), and a repeated insert of the same batch is dropped by its
-- insert_deduplication_token; ReplacingMergeTree also collapses a row emitted again (after a restart
-- without restored states) on merge. Readers use `LIMIT 1 BY alert_id, state` and never rely on merges.
-- Partitioned by the month of event time, so old months can be dropped.
CREATE TABLE IF NOT EXISTS sno_alerts
(
    alert_id    String,
    rule        LowCardinality(String),
    severity    LowCardinality(String),
    state       LowCardinality(String),
    service     LowCardinality(String),
    environment LowCardinality(String),
    afnemer_id  Nullable(String),
    subject     String,
    value       Nullable(Float64),
    norm        Nullable(Float64),
    event_time  DateTime64(6, 'UTC'),
    emitted_at  DateTime64(6, 'UTC'),
    replayed    Bool,
    summary     String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (service, environment, rule, alert_id, state)
SETTINGS non_replicated_deduplication_window = 10000;

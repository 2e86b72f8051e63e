-- Finished monthly KPIs, refreshed by the worker for every (service, environment, month) a batch
-- touched, so analysts and BI tools read judged KPIs with plain SQL. One row per KPI and refresh; the
-- newest `computed_at` wins (query with FINAL or argMax). Counts stay beside the value so a share can be
-- re-aggregated (Sloth/Pyrra: error and total, never only the ratio).
CREATE TABLE IF NOT EXISTS sno_kpi_monthly
(
    service      LowCardinality(String),
    environment  LowCardinality(String),
    month        Date,
    kpi          LowCardinality(String),
    value        Nullable(Float64),
    norm         Nullable(Float64),
    unit         String,
    status       LowCardinality(String),
    count        Nullable(UInt64),
    within       Nullable(UInt64),
    sno_version  String,
    extra        String,
    computed_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYear(month)
ORDER BY (service, environment, month, kpi);

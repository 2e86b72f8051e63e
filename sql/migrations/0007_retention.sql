-- Retention: how long each table that grows with time keeps its rows (deploy/README.md, "Retention").
-- Two mechanisms: a TTL where age alone decides, and `sno store prune --before YYYY-MM` where exactness
-- decides what must stay (sno/runtime/retention.py):
--
--   sno_ledger            prune: rows written before the month, except each partition's last counted
--                         write and any write not yet marked done (a restart resumes from them)
--   sno_seen              prune: month partitions before the month, never one within 24 h of event time
--                         of a partition's newest counted event (the de-duplication window it reloads)
--   sno_alerts            prune: alerts resolved before the month (both rows); alerts still firing stay,
--                         so a restart neither forgets nor repeats them
--   sno_deadletter        TTL 13 months after receipt (and prune); the record stays 30 days in
--                         sno.deadletter too
--   sno_deadletter_daily  TTL 25 months (two years of dashboards, and prune)
--   rollups (sno_*_minute, sno_message_second, sno_notification_order, sno_support_day)
--                         kept: they are the reports' source; `prune --rollups` drops month partitions
--   sno_snapshots, sno_kpi_monthly
--                         kept: few rows (one per snapshot version; one per KPI and month after merges)
--
-- The TTLs are set without rewriting existing parts (materialize_ttl_after_modify = 0): the statement is
-- metadata only, so applying it again on every start costs nothing; old parts expire as they merge.
ALTER TABLE sno_deadletter MODIFY TTL toDateTime(received_at) + INTERVAL 13 MONTH
SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE sno_deadletter_daily MODIFY TTL day + INTERVAL 25 MONTH
SETTINGS materialize_ttl_after_modify = 0;

-- What `sno store prune` removed, when, and up to which month: the audit trail of retention.
CREATE TABLE IF NOT EXISTS sno_prune_log
(
    pruned_at   DateTime64(3, 'UTC') DEFAULT now64(3),
    before      Date,
    table_name  LowCardinality(String),
    action      String,
    rows        UInt64
)
ENGINE = MergeTree
ORDER BY (pruned_at, table_name);

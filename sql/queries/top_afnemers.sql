-- The afnemers with the most authentications (DigiD) or transactions (Machtigen) in one month, with
-- their share of processing within the limit (R14) and their busiest minute (R17 looks at 1,000).
-- Parameters: service, environment, month (its first day), top (how many rows).
-- clickhouse-client --param_service=digid --param_environment=production --param_month=2026-03-01 \
--   --param_top=10 --queries-file sql/queries/top_afnemers.sql
SELECT
    afnemer_id,
    sum(n)                             AS volume,
    round(sum(w) / sum(n) * 100, 4)    AS within_share,
    max(n)                             AS peak_per_minute
FROM
(
    -- rows of one key may not be merged yet (SummingMergeTree): sum per minute first
    SELECT afnemer_id, minute, sum(count) AS n, sum(within) AS w
    FROM sno_auth_minute_in_month(service = {service:String}, environment = {environment:String},
                                  month = {month:Date})
    GROUP BY afnemer_id, minute
)
GROUP BY afnemer_id
ORDER BY volume DESC, afnemer_id
LIMIT {top:UInt32}

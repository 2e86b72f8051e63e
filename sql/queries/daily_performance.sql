-- Authentications (DigiD) or transactions (Machtigen) per local day of one month (R1, R14-R16).
-- Per day: volume, the busiest calendar minute, minutes over the capacity, and the processing-time
-- counts with over-capacity minutes left out (R16), as the processing_time KPI counts them.
-- Parameters: service, environment, month (its first day), capacity (per minute, from the norm catalogue).
-- clickhouse-client --param_service=digid --param_environment=production \
--   --param_month=2026-03-01 --param_capacity=10000 --queries-file sql/queries/daily_performance.sql
SELECT
    day,
    sum(n)                             AS volume,
    max(n)                             AS peak_per_minute,
    countIf(n > {capacity:UInt64})     AS minutes_over,
    sumIf(n, n <= {capacity:UInt64})   AS processing_count,
    sumIf(w, n <= {capacity:UInt64})   AS processing_within,
    sumIf(ms, n <= {capacity:UInt64})  AS duration_ms
FROM
(
    SELECT
        minute,
        toDate(minute, 'Europe/Amsterdam') AS day,
        sum(count)                         AS n,
        sum(within)                        AS w,
        sum(duration_ms)                   AS ms
    FROM sno_auth_minute_in_month(service = {service:String}, environment = {environment:String},
                                  month = {month:Date})
    GROUP BY minute
)
GROUP BY day
ORDER BY day

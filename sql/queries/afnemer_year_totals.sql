-- Capacity management (R17, DigiD 2.8): per afnemer, its total in the calendar year up to the end of a
-- month, its busiest month and its busiest minute. R17 asks for forecasts above 5,000,000 a year,
-- 1,000,000 in a month or 1,000 in a minute.
-- Parameters: service, environment, month (first day of the last month counted).
-- clickhouse-client --param_service=digid --param_environment=production --param_month=2020-06-01 \
--   --queries-file sql/queries/afnemer_year_totals.sql
SELECT
    afnemer_id,
    sum(month_total) AS year_total,
    max(month_total) AS max_month_total,
    max(month_peak)  AS peak_per_minute
FROM
(
    SELECT
        afnemer_id,
        toStartOfMonth(toDate(minute, 'Europe/Amsterdam')) AS local_month,
        sum(n)                                             AS month_total,
        max(n)                                             AS month_peak
    FROM
    (
        -- rows of one key may not be merged yet (SummingMergeTree): sum per minute first
        SELECT afnemer_id, minute, sum(count) AS n
        FROM sno_auth_minute
        WHERE service = {service:String}
          AND environment = {environment:String}
          AND afnemer_id != ''
          AND minute >= toDateTime(toStartOfYear({month:Date}), 'Europe/Amsterdam')
          AND minute < toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam')
        GROUP BY afnemer_id, minute
    )
    GROUP BY afnemer_id, local_month
)
GROUP BY afnemer_id
ORDER BY year_total DESC, afnemer_id

-- MijnOverheid messages per clock hour of received_at (R18, R23): the hourly and daily peaks (a UTC hour
-- lies in one local day) and, summed over the hours, the month's totals for messages_within_24h, the
-- attachment KPIs and the production counts. A pending message is past its limit when its second plus the
-- processing limit lies before the month's end (docs/interfaces.md); younger ones are not counted yet.
-- Parameters: service, environment, month (its first day), limit_us (the processing limit in µs, 24 h).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --param_limit_us=86400000000 --queries-file sql/queries/mijnoverheid_message_hours.sql
SELECT
    toStartOfHour(second)  AS hour,
    sum(count)             AS n_messages,
    sum(rejected)          AS n_rejected,
    sum(with_attachment)   AS n_with_attachment,
    sum(over_bytes)        AS n_over_bytes,
    sum(processed)         AS n_processed,
    sum(processed_within)  AS n_processed_within,
    sum(pending)           AS n_pending,
    sumIf(
        pending,
        toInt64(toUnixTimestamp(second)) * 1000000 + {limit_us:Int64}
            < toInt64(toUnixTimestamp(toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam'))) * 1000000
    )                      AS n_pending_past_limit
FROM sno_message_second_in_month(service = {service:String}, environment = {environment:String},
                                 month = {month:Date})
GROUP BY hour
ORDER BY hour

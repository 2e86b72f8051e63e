-- MijnOverheid: the second of the month with the most messages received, over all afnemers (R18, at most
-- 45 per second); on a tie the earliest second. No row when the month has no messages.
-- Parameters: service, environment, month (its first day).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --queries-file sql/queries/mijnoverheid_message_peak_second.sql
SELECT
    second,
    sum(count) AS messages
FROM sno_message_second_in_month(service = {service:String}, environment = {environment:String},
                                 month = {month:Date})
GROUP BY second
ORDER BY messages DESC, second ASC
LIMIT 1

-- MijnOverheid notifications per clock hour of queued_at, over all channels and afnemers (R18: at most
-- 125,000 per hour and 3,000,000 per calendar day; a UTC hour lies in one local day).
-- Parameters: service, environment, month (its first day).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --queries-file sql/queries/mijnoverheid_notification_hours.sql
SELECT
    toStartOfHour(minute) AS hour,
    sum(count)            AS notifications
FROM sno_notification_minute_in_month(service = {service:String}, environment = {environment:String},
                                      month = {month:Date})
GROUP BY hour
ORDER BY hour

-- Calendar minutes of one month in which more authentications/transactions started than the capacity
-- (R15, R16: the SNO does not apply in them), busiest first. Minutes are shown in local time (R1).
-- Parameters: service, environment, month (its first day), capacity (10000 DigiD, 1000 Machtigen).
-- clickhouse-client --param_service=digid --param_environment=production --param_month=2026-03-01 \
--   --param_capacity=10000 --queries-file sql/queries/minutes_over_capacity.sql
SELECT
    toTimeZone(minute, 'Europe/Amsterdam') AS local_minute,
    sum(count)                             AS started
FROM sno_auth_minute_in_month(service = {service:String}, environment = {environment:String},
                              month = {month:Date})
GROUP BY minute
HAVING started > {capacity:UInt64}
ORDER BY started DESC, minute

-- MijnOverheid API requests per api and clock hour of received_at (R18): requests and requests completed
-- within the api's limit (berichtpresentatie 200 ms, validatieservice 30 s, abonnement-* 4 h), for the
-- shares and the validatieservice peak per hour.
-- Parameters: service, environment, month (its first day).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --queries-file sql/queries/mijnoverheid_api_hours.sql
SELECT
    api,
    toStartOfHour(minute) AS hour,
    sum(count)            AS n_requests,
    sum(within)           AS n_within
FROM sno_api_minute_in_month(service = {service:String}, environment = {environment:String},
                             month = {month:Date})
GROUP BY api, hour
ORDER BY api, hour

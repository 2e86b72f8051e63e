-- MijnOverheid Abonnementservice requests per api and minute of received_at (R18: at most 225 / 150 / 150
-- requests per night, 23:00–07:00, a night belonging to the date it starts on). The report assigns the
-- minutes to nights with the core's night_of, so the night window stays in the norm catalogue.
-- Parameters: service, environment, month (its first day), apis (the abonnement apis).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --param_apis="['abonnement-alles','abonnement-bsn-lijst','abonnement-mutatiebasis']" \
--   --queries-file sql/queries/abonnement_minutes.sql
SELECT
    api,
    minute,
    sum(count) AS requests
FROM sno_api_minute_in_month(service = {service:String}, environment = {environment:String},
                             month = {month:Date})
WHERE api IN {apis:Array(String)}
GROUP BY api, minute
ORDER BY api, minute

-- MijnOverheid messages per local day and afnemer (R23): offered, processed and rejected.
-- Parameters: environment, month (its first day).
-- clickhouse-client --param_environment=production --param_month=2026-03-01 \
--   --queries-file sql/queries/messages_per_afnemer.sql
SELECT
    toDate(second, 'Europe/Amsterdam') AS day,
    afnemer_id,
    sum(count)                         AS offered,
    sum(processed)                     AS processed,
    sum(rejected)                      AS rejected
FROM sno_message_second_in_month(service = 'mijnoverheid', environment = {environment:String},
                                 month = {month:Date})
GROUP BY day, afnemer_id
ORDER BY day, afnemer_id

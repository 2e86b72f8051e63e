-- MijnOverheid notifications sent out of order in a month (R18, "op volgorde van binnenkomst"): a sent
-- notification counts when it was sent before the latest send of the notifications queued strictly
-- earlier on its channel, i.e. before one queued earlier (ties on queued_at are not compared with each
-- other); it counts once however many overtook it. Pending notifications are not in the table. Rows of one
-- instant that are not merged yet each carry their own count, so the sums need no merge. The
-- earliest-queued rows of a channel have no earlier send (0), which no send instant is below.
-- Also: `compared` (sent notifications of the month) and `row_count` (0 when nothing was compared).
-- Parameters: service, environment, month (its first day).
-- clickhouse-client --param_service=mijnoverheid --param_environment=production --param_month=2026-03-01 \
--   --queries-file sql/queries/notifications_out_of_order.sql
SELECT
    sumIf(n, sent < earlier_sent) AS out_of_order,
    sum(n)                        AS compared,
    count()                       AS row_count
FROM
(
    SELECT
        count                                 AS n,
        toUnixTimestamp64Micro(sent_at)       AS sent,
        max(sent) OVER (
            PARTITION BY channel
            ORDER BY toUnixTimestamp64Micro(queued_at) ASC
            RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        )                                     AS earlier_sent
    FROM sno_notification_order
    WHERE service = {service:String}
      AND environment = {environment:String}
      AND queued_at >= toDateTime64(toDateTime({month:Date}, 'Europe/Amsterdam'), 6, 'UTC')
      AND queued_at < toDateTime64(toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam'), 6, 'UTC')
)

-- Which months breached which norm, from sno_kpi_monthly (newest refresh per KPI wins).
-- Parameters: service, environment, from_month and to_month (first days, inclusive).
-- clickhouse-client --param_service=digid --param_environment=production \
--   --param_from_month=2026-01-01 --param_to_month=2026-12-01 --queries-file sql/queries/months_breached.sql
SELECT month, kpi, value, norm, unit, count, within
FROM sno_kpi_monthly FINAL
WHERE service = {service:String}
  AND environment = {environment:String}
  AND month BETWEEN {from_month:Date} AND {to_month:Date}
  AND status = 'breached'
ORDER BY month, kpi

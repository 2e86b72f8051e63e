-- Every KPI of every month of one calendar year, as the worker last judged it (sno_kpi_monthly).
-- The newest computed_at wins (ReplacingMergeTree; FINAL collapses refreshes not merged yet).
-- Parameters: service, environment, year.
-- clickhouse-client --param_service=digid --param_environment=production --param_year=2026 \
--   --queries-file sql/queries/kpi_year.sql
SELECT month, kpi, value, norm, unit, status, sno_version
FROM sno_kpi_monthly FINAL
WHERE service = {service:String}
  AND environment = {environment:String}
  AND toYear(month) = {year:UInt16}
ORDER BY month, kpi

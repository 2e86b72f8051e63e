-- Availability per month over one calendar year (R6), with the hours behind each figure, so a trend can
-- be re-aggregated as (H - U - M) / (H - M) over several months rather than as a mean of percentages.
-- Parameters: service, environment, year.
-- clickhouse-client --param_service=digid --param_environment=production --param_year=2026 \
--   --queries-file sql/queries/availability_trend.sql
SELECT
    month,
    kpi,
    value,
    norm,
    status,
    JSONExtractFloat(extra, 'hours')             AS hours,
    JSONExtractFloat(extra, 'unavailable_hours') AS unavailable_hours,
    JSONExtractFloat(extra, 'maintenance_hours') AS maintenance_hours
FROM sno_kpi_monthly FINAL
WHERE service = {service:String}
  AND environment = {environment:String}
  AND kpi IN ('availability', 'availability_website')
  AND toYear(month) = {year:UInt16}
ORDER BY kpi, month

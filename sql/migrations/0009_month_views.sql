-- One service's rows of a rollup in one calendar month, as the named queries (sql/queries/) read them:
-- the month runs from local midnight on its first day to local midnight on the first of the next (R1, R2).
-- Parameterized views, read as `FROM sno_auth_minute_in_month(service = {service:String}, environment =
-- {environment:String}, month = {month:Date})` with `month` the first day of the month: the month's
-- bounds are written here once per rollup rather than in every query. `SELECT *` is expanded when a query
-- reads the view, so a column a later migration adds is there too. Rows of one key may not be merged yet
-- (SummingMergeTree): a query on a view sums, as on the table.

-- authentications (DigiD) and transactions (Machtigen) per minute
CREATE VIEW IF NOT EXISTS sno_auth_minute_in_month AS
SELECT * FROM sno_auth_minute
WHERE service = {service:String} AND environment = {environment:String}
  AND minute >= toDateTime({month:Date}, 'Europe/Amsterdam')
  AND minute < toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam');

-- MijnOverheid API requests per api and minute
CREATE VIEW IF NOT EXISTS sno_api_minute_in_month AS
SELECT * FROM sno_api_minute
WHERE service = {service:String} AND environment = {environment:String}
  AND minute >= toDateTime({month:Date}, 'Europe/Amsterdam')
  AND minute < toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam');

-- MijnOverheid notifications per minute of queued_at
CREATE VIEW IF NOT EXISTS sno_notification_minute_in_month AS
SELECT * FROM sno_notification_minute
WHERE service = {service:String} AND environment = {environment:String}
  AND minute >= toDateTime({month:Date}, 'Europe/Amsterdam')
  AND minute < toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam');

-- MijnOverheid messages per second of received_at
CREATE VIEW IF NOT EXISTS sno_message_second_in_month AS
SELECT * FROM sno_message_second
WHERE service = {service:String} AND environment = {environment:String}
  AND second >= toDateTime({month:Date}, 'Europe/Amsterdam')
  AND second < toDateTime(addMonths({month:Date}, 1), 'Europe/Amsterdam');

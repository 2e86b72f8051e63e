-- When each ledger row was written, to the microsecond by the store's clock (the same clock as
-- sno_owners.claimed_at). Recovery uses it to tell an abandoned write from an unfinished one: a write
-- whose `pending` rows were written after another worker claimed one of its partitions was fenced before
-- it inserted anything (the fence is checked after the pending rows), and that other worker may have
-- counted the same offsets under its own writes, so finishing it would count them twice
-- (streams/README.md, fencing). `written_at` keeps only milliseconds, too coarse for that order.
-- A row inserted from now on stores the insert's time (written_at is that instant too, so the first
-- branch applies); for rows written before this migration the default is computed when read, long
-- after their written_at, and gives their millisecond time. No mutation is needed.
ALTER TABLE sno_ledger ADD COLUMN IF NOT EXISTS written_us DateTime64(6, 'UTC')
    DEFAULT if(dateDiff('second', written_at, now64(3)) < 1, now64(6), toDateTime64(written_at, 6));

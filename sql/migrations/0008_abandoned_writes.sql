-- When each ledger row was written, to the microsecond by the store's clock (the same clock as
-- sno_owners.claimed_at). Recovery uses it to tell an abandoned write from an unfinished one: a write
-- whose `pending` rows were written after another worker claimed one of its partitions was fenced before
-- it inserted anything (the fence is checked after the pending rows), and that other worker may have
-- counted the same offsets under its own writes, so finishing it would count them twice
-- (streams/README.md, fencing). `written_at` keeps only milliseconds, too coarse for that order.
ALTER TABLE sno_ledger ADD COLUMN IF NOT EXISTS written_us DateTime64(6, 'UTC') DEFAULT now64(6);
-- Rows written before this migration take their millisecond time (earlier than or equal to the true
-- one: such a write is never taken for abandoned by mistake).
ALTER TABLE sno_ledger UPDATE written_us = written_at WHERE written_us > written_at + INTERVAL 1 SECOND
SETTINGS mutations_sync = 2;

-- Alerts judged on event time (sno/core/ALERTS.md): a replayed breach is raised with its true event time
-- and resolved at its true end, so a resolved row carries the event time it fired at (`fired_at`:
-- Alertmanager gets both startsAt and endsAt of a breach it never saw firing), and every row carries its
-- typed subject (`subject_key`, JSON: the minute, the incident and priority, the window …) so that a
-- restarted engine knows what a firing alert is about without parsing its text. Rows written before this
-- migration have an empty key and no fired_at; the engine reads their subject text instead.
ALTER TABLE sno_alerts ADD COLUMN IF NOT EXISTS subject_key String DEFAULT '';
ALTER TABLE sno_alerts ADD COLUMN IF NOT EXISTS fired_at Nullable(DateTime64(6, 'UTC'));

"""`sno store prune --before YYYY-MM`: remove what is older than a month, keeping what exactness needs.

Each table's retention is stated in sql/migrations/0007_retention.sql and deploy/README.md. What this
keeps, whatever the month given:

- `sno_ledger`: each topic-partition's last counted write (a restart resumes after it; without it the
  partition would be read again from its first offset and counted twice) and every write not yet marked
  done (a restart finishes it);
- `sno_seen`: the months within 24 h of event time before each partition's newest counted event, which a
  worker reloads as its de-duplication window (streams/sink.py `_read_seen`);
- `sno_alerts`: every alert still firing (firing without resolved), so a restart neither forgets nor
  repeats it.

Month boundaries are UTC, as the tables' month partitions are (`toYYYYMM` of a UTC column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

#: tables partitioned by month that this module handles itself; the other month-partitioned tables of
#: the database are the rollups (`--rollups`)
_OWN = {"sno_seen", "sno_alerts"}


@dataclass(frozen=True)
class Action:
    table: str
    action: str
    rows: int

    def line(self) -> str:
        return f"{self.table}: {self.action} ({self.rows} rows)"


def parse_month(text: str) -> date:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"--before: expected YYYY-MM, got {text!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def prune(store: Any, before: date, *, rollups: bool = False, dry_run: bool = False,
          now: datetime | None = None) -> list[Action]:
    """Remove rows older than the first of `before` (UTC) from every table with a prune retention.

    The current month cannot be pruned (its reports are not final). With `dry_run` nothing changes and
    the actions say what would be removed.
    """
    today = (now or datetime.now(UTC)).date()
    if before > today.replace(day=1):
        raise ValueError(f"--before {before:%Y-%m} is after the current month ({today:%Y-%m}); "
                         f"only months that are over can be pruned")
    cutoff = datetime(before.year, before.month, 1, tzinfo=UTC).replace(tzinfo=None)
    params = {"cutoff": cutoff, "day": before}
    actions: list[Action] = []

    def run(table: str, action: str, count_sql: str, change_sql: str) -> None:
        ((rows,),) = store.query(count_sql, params)
        if rows and not dry_run:
            store.client.command(change_sql, parameters=params)
        actions.append(Action(table, action, int(rows)))

    def drop(table: str, before_month: datetime) -> None:
        for part, rows in _partitions(store, table, before_month):
            if not dry_run:
                store.client.command(f"ALTER TABLE {table} DROP PARTITION ID '{part}'")
            actions.append(Action(table, f"dropped month {part[:4]}-{part[4:]}", rows))

    # The ledger: everything before the month but each partition's last done write and unfinished ones.
    keep_ledger = ("(epoch, topic, partition, token) NOT IN (SELECT epoch, topic, partition, "
                   "argMax(token, to_offset) FROM sno_ledger WHERE state = 'done' "
                   "GROUP BY epoch, topic, partition) "
                   "AND token IN (SELECT token FROM sno_ledger WHERE state = 'done')")
    where = f"written_at < {{cutoff:DateTime64(3)}} AND {keep_ledger}"
    run("sno_ledger", "deleted writes before the month, kept each partition's last and unfinished ones",
        f"SELECT count() FROM sno_ledger WHERE {where}", f"DELETE FROM sno_ledger WHERE {where}")

    # De-duplication ids: whole months, never within a partition's window.
    ((window,),) = store.query(
        "SELECT min(newest) FROM (SELECT max(event_time) - INTERVAL 24 HOUR AS newest FROM sno_seen "
        "GROUP BY topic, partition)")
    seen_before = cutoff
    if window is not None and window.year > 1970:
        window_month = datetime(window.year, window.month, 1)
        seen_before = min(cutoff, window_month)
    drop("sno_seen", seen_before)
    if seen_before < cutoff:
        actions.append(Action("sno_seen", f"kept {seen_before:%Y-%m} and later: the de-duplication window",
                              0))

    # Alerts resolved before the month, both their rows; alerts still firing stay whatever their age.
    where = ("alert_id IN (SELECT alert_id FROM sno_alerts WHERE state = 'resolved' "
             "AND event_time < {cutoff:DateTime64(6)})")
    run("sno_alerts", "deleted alerts resolved before the month (alerts still firing kept)",
        f"SELECT count() FROM sno_alerts WHERE {where}", f"DELETE FROM sno_alerts WHERE {where}")

    run("sno_deadletter", "deleted dead letters received before the month",
        "SELECT count() FROM sno_deadletter WHERE received_at < {cutoff:DateTime64(3)}",
        "DELETE FROM sno_deadletter WHERE received_at < {cutoff:DateTime64(3)}")
    run("sno_deadletter_daily", "deleted daily dead-letter counts before the month",
        "SELECT count() FROM sno_deadletter_daily WHERE day < {day:Date}",
        "DELETE FROM sno_deadletter_daily WHERE day < {day:Date}")

    if rollups:
        for table in _rollup_tables(store):
            drop(table, cutoff)

    if not dry_run:
        logged = [(before, a.table, a.action, a.rows) for a in actions]
        if logged:
            store.insert("sno_prune_log", logged, ("before", "table_name", "action", "rows"))
    return actions


def _partitions(store: Any, table: str, before: datetime) -> list[tuple[str, int]]:
    """Month partitions (`YYYYMM` ids) of a table that lie wholly before `before`, with their rows."""
    rows = store.query(
        "SELECT partition_id, sum(rows) FROM system.parts WHERE database = currentDatabase() "
        "AND table = {table:String} AND active GROUP BY partition_id ORDER BY partition_id",
        {"table": table})
    limit = before.year * 100 + before.month
    return [(str(p), int(n)) for p, n in rows if str(p).isdigit() and len(str(p)) == 6 and int(p) < limit]


def _rollup_tables(store: Any) -> list[str]:
    rows = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                       "AND startsWith(partition_key, 'toYYYYMM(') ORDER BY name")
    return [str(name) for (name,) in rows if name not in _OWN and str(name).startswith("sno_")]


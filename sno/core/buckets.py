"""Additive buckets: the contract between the streaming pipeline and the monthly report.

The stream cannot keep every event, so each validated, de-duplicated event is folded into a few integer
counters ("buckets"), stored in ClickHouse ``SummingMergeTree`` tables (one table per :class:`Family`).
The report reads those rows back into a :class:`MonthInputs` and the rules judge the month from it. Both
sides call :func:`contributions`, so the stream and the report can never disagree about what an event
adds. Because every value is an integer (durations in milliseconds) sums are exact and the result does
not depend on the order in which rows are added or merged.

Key layout of every family: ``service, environment, afnemer_id ("" when none), time bucket`` and then the
family's own dimensions. A time bucket is an aware UTC ``datetime`` truncated to the family's resolution
(second, minute) — UTC because ClickHouse stores instants without zone and because a UTC minute is also
a local minute (Europe/Amsterdam offsets are whole hours) — or a local ``date`` for day buckets (R1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sno.core.calendar import TZ
from sno.core.catalogue import Catalogue, VersionNorms
from sno.core.intervals import instant_key

__all__ = [
    "FAMILIES",
    "Family",
    "MonthInputs",
    "contributions",
    "notifications_out_of_order",
]


@dataclass(frozen=True)
class Family:
    """One bucket table: its key columns, its summed integer value columns, and why it exists."""

    name: str
    keys: tuple[str, ...]
    values: tuple[str, ...]
    doc: str
    resolution: str = "minute"


_BASE = ("service", "environment", "afnemer_id")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "auth_minute",
            (*_BASE, "minute"),
            ("count", "within", "duration_ms"),
            "DigiD authentications and Machtigen transactions per calendar minute of started_at (R14–R17): "
            "count, how many met the processing limit of the SNO version of their month (≤ for DigiD, "
            "< for Machtigen), and the summed processing time in ms. Per afnemer so R17 finds afnemers "
            "over 1,000 per minute and their month and year totals; minutes over the capacity limit "
            "(R16) are found by summing over afnemers.",
            "minute",
        ),
        Family(
            "message_second",
            (*_BASE, "second"),
            (
                "count",
                "accepted",
                "rejected",
                "with_attachment",
                "over_bytes",
                "processed",
                "processed_within",
                "pending",
            ),
            "Berichtenbox messages per second of received_at (R18, R23): peaks per second, hour and day "
            "are sums of these rows; accepted messages processed, processed within the processing limit, "
            "and still pending (processed_at null) for messages_within_24h; daily counts per afnemer "
            "(offered = count, processed, rejected) for R23.",
            "second",
        ),
        Family(
            "notification_minute",
            (*_BASE, "minute", "channel"),
            ("count", "sent", "pending"),
            "Notifications per minute of queued_at and channel (R18 notifications per hour and per day).",
            "minute",
        ),
        Family(
            "notification_order",
            (*_BASE, "queued_at", "channel", "sent_at"),
            ("count",),
            "Sent notifications as (queued_at, channel, sent_at) at their exact instants (microseconds), "
            "counted: whether one was sent before one queued earlier on its channel (R18, 'in order of "
            "arrival') is not additive over coarser buckets, so the pipeline keeps these rows and the "
            "report calls notifications_out_of_order() on them. Pending notifications have no send "
            "instant and are not compared.",
            "instant",
        ),
        Family(
            "api_minute",
            (*_BASE, "minute", "api"),
            ("count", "within"),
            "MijnOverheid API requests per minute of received_at and api (R18): count and how many were "
            "completed within the api's limit (berichtpresentatie 200 ms, validatieservice 30 s, "
            "abonnement-* 4 h); hourly and nightly (23:00–07:00) peaks are sums of these rows.",
            "minute",
        ),
        Family(
            "support_day",
            (*_BASE, "day", "channel", "kind"),
            (
                "count",
                "answered",
                "abandoned",
                "within",
                "within_long",
                "satisfaction_sum",
                "satisfaction_count",
            ),
            "Support contacts per local day of received_at, channel and kind (R20, R21): answered, "
            "abandoned, answered within the channel's threshold (phone: seconds; e-mail, webform and "
            "afnemer: workdays) and, for phone, within the long threshold (10 minutes where stated), and "
            "the satisfaction sum and count for the mean. Day buckets are local dates.",
            "day",
        ),
    )
}

_ONE_MS_US = 1_000


def _utc_minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def _utc_second(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


def _norms(catalogue: Catalogue, service: str, instant: datetime) -> VersionNorms | None:
    local = instant.astimezone(TZ)
    return catalogue.norms_for(service, local.year, local.month)


def _auth(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    started = event["started_at"]
    service = event["service"]
    elapsed_us = instant_key(event["completed_at"]) - instant_key(started)
    norms = _norms(catalogue, service, started)
    within = 0
    if norms is not None and norms.performance is not None:
        within = 1 if norms.performance.within_processing_limit(elapsed_us) else 0
    key = (
        service,
        event.get("environment") or "production",
        event.get("afnemer_id") or "",
        _utc_minute(started),
    )
    return [("auth_minute", key, (1, within, (elapsed_us + 500) // _ONE_MS_US))]


def _message(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    received = event["received_at"]
    service = event["service"]
    norms = _norms(catalogue, service, received)
    limits = norms.mijnoverheid if norms is not None else None
    accepted = 1 if event["status"] == "accepted" else 0
    processed_at = event.get("processed_at")
    processed = within = pending = 0
    if accepted:
        if processed_at is None:
            pending = 1
        else:
            processed = 1
            if limits is not None:
                elapsed_us = instant_key(processed_at) - instant_key(received)
                within = 1 if elapsed_us <= limits.message_processing_limit_us else 0
    over = 0
    if limits is not None and (event.get("attachment_bytes") or 0) > limits.attachment_bytes_max:
        over = 1
    key = (
        service,
        event.get("environment") or "production",
        event.get("afnemer_id") or "",
        _utc_second(received),
    )
    values = (
        1,
        accepted,
        1 - accepted,
        1 if (event.get("attachment_count") or 0) > 0 else 0,
        over,
        processed,
        within,
        pending,
    )
    return [("message_second", key, values)]


def _notification(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    queued = event["queued_at"]
    sent = event.get("sent_at")
    base = (event["service"], event.get("environment") or "production", event.get("afnemer_id") or "")
    channel = event["channel"]
    rows: list[tuple[str, tuple, tuple[int, ...]]] = [
        (
            "notification_minute",
            (*base, _utc_minute(queued), channel),
            (1, 0 if sent is None else 1, 1 if sent is None else 0),
        )
    ]
    if sent is not None:
        rows.append(
            ("notification_order", (*base, queued.astimezone(UTC), channel, sent.astimezone(UTC)), (1,))
        )
    return rows


def _api_limit_us(norms: VersionNorms | None, api: str) -> int | None:
    limits = norms.mijnoverheid if norms is not None else None
    if limits is None:
        return None
    if api == "berichtpresentatie":
        return round(limits.berichtpresentatie_ms * 1_000)
    if api == "validatieservice":
        return round(limits.validatieservice_seconds * 1_000_000)
    if api.startswith("abonnement"):
        return round(limits.abonnement_hours * 3_600_000_000)
    return None


def _api(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    received = event["received_at"]
    api = event["api"]
    limit_us = _api_limit_us(_norms(catalogue, event["service"], received), api)
    within = 0
    completed = event.get("completed_at")
    if limit_us is not None and completed is not None:
        within = 1 if instant_key(completed) - instant_key(received) <= limit_us else 0
    key = (
        event["service"],
        event.get("environment") or "production",
        event.get("afnemer_id") or "",
        _utc_minute(received),
        api,
    )
    return [("api_minute", key, (1, within))]


def _support(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    received = event["received_at"]
    answered_at = event.get("answered_at")
    channel = event["channel"]
    kind = event["kind"]
    norms = _norms(catalogue, event["service"], received)
    day = received.astimezone(TZ).date()
    within = within_long = 0
    if answered_at is not None and norms is not None:
        support = norms.support
        if channel == "phone":
            wait_us = instant_key(answered_at) - instant_key(received)
            within = 1 if wait_us <= round(support.phone.answer_seconds * 1_000_000) else 0
            if support.phone.answer_long_seconds is not None:
                within_long = 1 if wait_us <= round(support.phone.answer_long_seconds * 1_000_000) else 0
        else:
            written = support.afnemer if channel in support.afnemer.channels else support.written
            if channel in written.channels:
                deadline = norms.calendar.add_workdays(day, written.workdays)
                within = 1 if answered_at.astimezone(TZ).date() <= deadline else 0
    satisfaction = event.get("satisfaction")
    key = (
        event["service"],
        event.get("environment") or "production",
        event.get("afnemer_id") or "",
        day,
        channel,
        kind,
    )
    values = (
        1,
        0 if answered_at is None else 1,
        1 if event.get("abandoned") else 0,
        within,
        within_long,
        int(satisfaction) if satisfaction is not None else 0,
        1 if satisfaction is not None else 0,
    )
    return [("support_day", key, values)]


_BY_TYPE = {
    "authentication": _auth,
    "transaction": _auth,
    "message": _message,
    "notification": _notification,
    "api_request": _api,
    "support_contact": _support,
}


def contributions(event: Mapping[str, Any], catalogue: Catalogue) -> list[tuple[str, tuple, tuple[int, ...]]]:
    """The (family, key, values) rows one validated, de-duplicated event adds (R14–R23).

    Snapshot types (incident, outage, maintenance) and forecasts add no rows: they are kept as latest
    snapshots instead (see sno.core.snapshots). Pure and cheap: it runs once per event in the stream.
    Thresholds come from the SNO version of the local month of the event's own instant (R5).
    """
    handler = _BY_TYPE.get(event["type"])
    return [] if handler is None else handler(event, catalogue)


def notifications_out_of_order(
    rows: Iterable[tuple[datetime, datetime, str] | tuple[datetime, datetime, str, int]],
) -> int:
    """Sent notifications sent before one queued earlier on the same channel (R18: distribution "op
    volgorde van binnenkomst").

    ``rows`` are (queued_at, sent_at, channel[, count]). A notification counts once however many earlier
    ones overtook it. Only sent notifications are compared: a pending one has no send instant yet.
    """
    by_channel: dict[str, list[tuple[int, int, int]]] = {}
    for row in rows:
        queued, sent, channel = row[0], row[1], row[2]
        count = row[3] if len(row) > 3 else 1
        by_channel.setdefault(channel, []).append((instant_key(queued), instant_key(sent), count))
    out = 0
    for items in by_channel.values():
        items.sort()
        latest_sent_before = None  # the latest send instant among notifications queued strictly earlier
        i = 0
        while i < len(items):
            j = i
            group_max = None
            while j < len(items) and items[j][0] == items[i][0]:
                _q, s, c = items[j]
                if latest_sent_before is not None and s < latest_sent_before:
                    out += c
                group_max = s if group_max is None else max(group_max, s)
                j += 1
            if group_max is not None:
                latest_sent_before = (
                    group_max if latest_sent_before is None else max(latest_sent_before, group_max)
                )
            i = j
    return out


def _normalised(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} in a bucket key: instants must be aware (R1)"
            )
        return value.astimezone(UTC)
    if value is None:
        return ""
    return value


def add_into(table: dict[tuple[Any, ...], list[int]], key: tuple[Any, ...], values: Iterable[int]) -> None:
    """Add a bucket's values into a table of rollup rows (additive families: counts and sums only)."""
    current = table.get(key)
    if current is None:
        table[key] = list(values)
    else:
        for i, v in enumerate(values):
            current[i] += v


class MonthInputs:
    """Summed bucket rows: everything the rules need that is not a snapshot (R6–R23).

    Rows may span several services, environments and months; the rules select what they judge. Adding
    the same rows in any order gives an equal object, and rows read back from the bucket tables can be
    added directly, so a month judged from the stream's tables equals one judged from the events.
    """

    def __init__(self) -> None:
        self.rows: dict[str, dict[tuple, list[int]]] = {name: {} for name in FAMILIES}

    def add(self, family: str, key: Iterable[Any], values: Iterable[int]) -> None:
        """Add one row (e.g. read back from a bucket table); datetimes in keys are normalised to UTC."""
        fam = FAMILIES.get(family)
        if fam is None:
            raise ValueError(f"unknown bucket family {family!r}")
        key_t = tuple(_normalised(k) for k in key)
        vals = [int(v) for v in values]
        if len(key_t) != len(fam.keys) or len(vals) != len(fam.values):
            raise ValueError(
                f"{family}: expected {len(fam.keys)} key and {len(fam.values)} value columns, "
                f"got {len(key_t)} and {len(vals)}"
            )
        self._add(family, key_t, vals)

    def _add(self, family: str, key: tuple, values: Iterable[int]) -> None:
        add_into(self.rows[family], key, values)

    def add_event(self, event: Mapping[str, Any], catalogue: Catalogue) -> None:
        """Fold one validated, de-duplicated event in (the stream's per-event step)."""
        for family, key, values in contributions(event, catalogue):
            self._add(family, key, values)

    @classmethod
    def from_events(cls, events: Iterable[Mapping[str, Any]], catalogue: Catalogue) -> MonthInputs:
        """Sum the contributions of already de-duplicated events."""
        inputs = cls()
        for event in events:
            inputs.add_event(event, catalogue)
        return inputs

    def merge(self, other: MonthInputs) -> None:
        """Add every row of ``other`` (e.g. year-to-date from monthly parts)."""
        for family, table in other.rows.items():
            for key, values in table.items():
                self._add(family, key, values)

    def iter_rows(self) -> Iterator[tuple[str, tuple, tuple[int, ...]]]:
        """Every (family, key, values) row, as the pipeline writes them."""
        for family, table in self.rows.items():
            for key, values in table.items():
                yield family, key, tuple(values)

    def select(
        self, family: str, service: str, environment: str, start: datetime | date, end: datetime | date
    ) -> Iterator[tuple[tuple, list[int]]]:
        """Rows of one service and environment whose time bucket lies in [start, end) (R2)."""
        for key, values in self.rows[family].items():
            if key[0] == service and key[1] == environment and start <= key[3] < end:
                yield key, values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MonthInputs):
            return NotImplemented
        return self.rows == other.rows

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.rows.items())
        return f"MonthInputs({sizes})"

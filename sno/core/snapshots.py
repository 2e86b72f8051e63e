"""Latest snapshots of incidents, outages and maintenance, and the latest forecasts (docs/events.md,
R9–R12, R19).

These describe things that change over time; each event is a full snapshot and the one with the latest
``updated_at`` wins whatever order they arrive in, so a re-delivered or late snapshot is harmless. They
are few (hundreds a month), so they are kept whole rather than folded into buckets.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sno.core.intervals import instant_key

__all__ = ["SNAPSHOT_TYPES", "Snapshots"]

#: snapshot type -> its id field
SNAPSHOT_TYPES: dict[str, str] = {
    "incident": "incident_id",
    "outage": "outage_id",
    "maintenance": "maintenance_id",
}


def _tiebreak(event: Mapping[str, Any]) -> str:
    # Two different snapshots with the same updated_at: pick one by content so the result does not
    # depend on arrival order.
    return repr(sorted((k, repr(v)) for k, v in event.items()))


class Snapshots:
    """Latest snapshot per (service, id) of each snapshot type, and the latest forecast per afnemer/month."""

    def __init__(self) -> None:
        self.incidents: dict[tuple[str, str], dict[str, Any]] = {}
        self.outages: dict[tuple[str, str], dict[str, Any]] = {}
        self.maintenance: dict[tuple[str, str], dict[str, Any]] = {}
        #: (service, environment, afnemer_id, "YYYY-MM") -> forecast messages (R19); the latest arrival wins,
        #: since a forecast carries no instant of its own.
        self.forecasts: dict[tuple[str, str, str, str], int] = {}

    def _table(self, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        return {"incident": self.incidents, "outage": self.outages, "maintenance": self.maintenance}[kind]

    def add(self, event: Mapping[str, Any]) -> bool:
        """Keep ``event`` if it is newer than what is held; True when it changed the state.

        Other event types are ignored (False), so the stream may pass every event.
        """
        kind = event.get("type")
        if kind == "forecast":
            key_f = (
                event["service"],
                event.get("environment") or "production",
                event.get("afnemer_id") or "",
                str(event["month"]),
            )
            messages = int(event["messages"])
            changed = self.forecasts.get(key_f) != messages
            self.forecasts[key_f] = messages
            return changed
        id_field = SNAPSHOT_TYPES.get(kind or "")
        if id_field is None:
            return False
        table = self._table(kind)  # type: ignore[arg-type]
        key = (event["service"], str(event[id_field]))
        held = table.get(key)
        if held is not None:
            new_k, old_k = instant_key(event["updated_at"]), instant_key(held["updated_at"])
            if new_k < old_k or (new_k == old_k and _tiebreak(event) <= _tiebreak(held)):
                return False
        table[key] = dict(event)
        return True

    @classmethod
    def from_events(cls, events: Iterable[Mapping[str, Any]]) -> Snapshots:
        """The latest snapshots among ``events``, in any order."""
        snaps = cls()
        for event in events:
            snaps.add(event)
        return snaps

    def of(self, kind: str, service: str, environment: str | None = None) -> Iterator[dict[str, Any]]:
        """The held snapshots of one type and service (and environment, when given)."""
        for (svc, _), record in self._table(kind).items():
            if svc == service and (
                environment is None or (record.get("environment") or "production") == environment
            ):
                yield record

    def records(self) -> Iterator[dict[str, Any]]:
        """Every held snapshot, for persisting the state."""
        yield from self.incidents.values()
        yield from self.outages.values()
        yield from self.maintenance.values()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshots):
            return NotImplemented
        return (
            self.incidents == other.incidents
            and self.outages == other.outages
            and self.maintenance == other.maintenance
            and self.forecasts == other.forecasts
        )

"""Entity rules judged on the entity's own timeline: every snapshot version kept, replayed in
``updated_at`` order, whatever order they arrived in.

An entity rule (incident clocks, the P1 notice, maintenance validity, the availability budget) sees a
*group*: one incident, or the maintenance windows and outages of one service, environment and month.
Every version of every member is kept (they are few) and sorted by ``updated_at``; the knowledge at an
instant is the latest version of each member up to it. For each knowledge state the rule states its
*claims*: per alert subject, the event-time span its condition holds according to that knowledge
(``[start, end)``, ``end`` None while open). :func:`simulate` then replays the timeline as a live engine
reading the snapshots in ``updated_at`` order would have judged it: an alert fires at its claim's start
(at once, with that true event time, when the snapshot shows it already began), resolves at the claim's
end (its true end), or at the next snapshot that no longer claims it (superseded). The last knowledge is
extrapolated only up to the engine's event time.

The result depends only on the versions, never on arrival order. Arrival order decides only *when* a
transition may be sent: a fire that the arriving snapshot itself proves (its start lies before that
snapshot's own instant) is sent at once; everything that a snapshot still in transit could change (a
clock passing a crossing, a resolution, a supersession) waits until the group's topics are quiet
(``idle_source_seconds`` without arrivals). What was sent is kept per alert id; a group that ended long
ago is forgotten down to that ledger (a tombstone), so a late snapshot of it is judged against what was
sent and not decided again from nothing (sno/core/alerts/entity.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sno.core.alerts.model import Severity, State, Subject

__all__ = ["Claim", "Group", "Key", "Transition", "simulate"]

Key = Hashable


@dataclass(frozen=True)
class Claim:
    """An alert's condition per one knowledge state: true over ``[start, end)`` of event time."""

    start: int
    end: int | None
    certain: bool  # the knowledge's own snapshot shows it began: it may be sent at once
    severity: Severity
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    subject: Subject
    state: State
    at: int  # event time (µs)
    eager: bool
    claim: Claim
    how: str  # "start", "end" or "superseded"


def _tiebreak(record: Mapping[str, Any]) -> str:
    # As the core's Snapshots: two different versions with one updated_at are ordered by content.
    return repr(sorted((k, repr(v)) for k, v in record.items()))


class Group:
    """The versions of one entity (or one month's windows and outages) and its cached claims."""

    def __init__(self, key: Key, service: str, environment: str) -> None:
        self.key = key
        self.service = service
        self.environment = environment
        self.versions: list[tuple[int, str, str, dict[str, Any]]] = []
        self.states: list[tuple[int, dict[str, dict[str, Any]]]] = []
        self.claims: list[dict[Subject, Claim]] = []
        self.dirty = True
        self.stale = False  # claims computed before a change they depend on (see invalidate)
        self.due: int | None = None  # earliest instant at which time passing decides something

    def add(self, member: str, u: int, record: Mapping[str, Any]) -> bool:
        item = (u, member, _tiebreak(record), dict(record))
        lo, hi = 0, len(self.versions)
        while lo < hi:  # bisect on (u, member, tiebreak)
            mid = (lo + hi) // 2
            if self.versions[mid][:3] < item[:3]:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.versions) and self.versions[lo][:3] == item[:3]:
            return False  # a re-delivery of a version already held
        self.versions.insert(lo, item)
        self._rebuild(u)
        self.dirty = True
        return True

    def invalidate(self) -> None:
        """Something the claims depend on besides the versions changed (minutes over capacity): they are
        computed again before anything waiting on the topic is decided."""
        self.stale = True
        self.dirty = True

    def _rebuild(self, changed_u: int) -> None:
        states: list[tuple[int, dict[str, dict[str, Any]]]] = []
        know: dict[str, dict[str, Any]] = {}
        i, vs = 0, self.versions
        while i < len(vs):
            u = vs[i][0]
            know = dict(know)
            while i < len(vs) and vs[i][0] == u:
                know[vs[i][1]] = vs[i][3]  # same member and instant: the larger tiebreak comes last
                i += 1
            states.append((u, know))
        keep = 0
        while keep < min(len(self.claims), len(states)) and states[keep][0] < changed_u:
            keep += 1
        self.claims = self.claims[:keep]
        self.states = states

    @property
    def latest(self) -> dict[str, dict[str, Any]]:
        return self.states[-1][1] if self.states else {}


def simulate(
    states: list[tuple[int, dict[str, dict[str, Any]]]],
    claims: list[dict[Subject, Claim]],
    horizon: int | None,
) -> tuple[list[Transition], int | None]:
    """The transitions a live engine reading these states in order would make, with event time known
    up to ``horizon`` after the last state; and the next instant beyond it that would decide one."""
    out: list[Transition] = []
    firing: dict[Subject, tuple[int, Claim]] = {}
    done: set[Subject] = set()
    due: int | None = None
    n = len(states)
    for i, (u, _know) in enumerate(states):
        nxt = states[i + 1][0] if i + 1 < n else None
        here = claims[i]
        for subj in list(firing):
            at, old = firing[subj]
            c = here.get(subj)
            if c is None:
                out.append(Transition(subj, "resolved", max(u, at), False, old, "superseded"))
            elif c.end is not None and c.end <= u:
                out.append(Transition(subj, "resolved", max(c.end, at), False, c, "end"))
            else:
                firing[subj] = (at, c)
                continue
            del firing[subj]
            done.add(subj)
        for subj, c in here.items():
            if subj in firing or subj in done or c.start > u:
                continue
            out.append(Transition(subj, "firing", c.start, c.certain, c, "start"))
            if c.end is not None and c.end <= u:
                out.append(Transition(subj, "resolved", max(c.end, c.start), False, c, "end"))
                done.add(subj)
            else:
                firing[subj] = (c.start, c)

        def passes(x: int, nxt: int | None = nxt) -> bool:
            return x < nxt if nxt is not None else horizon is not None and x <= horizon

        for subj, c in here.items():
            if subj not in firing and subj not in done and c.start > u:
                if passes(c.start):
                    out.append(Transition(subj, "firing", c.start, False, c, "start"))
                    firing[subj] = (c.start, c)
                elif nxt is None:
                    due = c.start if due is None else min(due, c.start)
            if subj in firing and c.end is not None and c.end > u:
                if passes(c.end):
                    out.append(Transition(subj, "resolved", max(c.end, firing[subj][0]), False, c, "end"))
                    del firing[subj]
                    done.add(subj)
                elif nxt is None:
                    due = c.end if due is None else min(due, c.end)
    return out, due

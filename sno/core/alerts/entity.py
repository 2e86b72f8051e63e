"""The machinery every entity rule shares: groups of snapshot versions, their claims replayed on the
timeline (sno/core/alerts/timeline.py), what may be sent now, what was sent, and what is forgotten.

A rule module says which groups a snapshot belongs to (``groups_of``, ``member``), what a knowledge
state claims (``claims``), how a transition reads (``describe``), when a group has ended (``ended``) and
which group a restored alert belongs to (``group_of_alert``); this class does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sno.core.alerts.clock import EventClock
from sno.core.alerts.emit import Emitter
from sno.core.alerts.model import Alert, Severity, State, Subject, alert_id, subject_of
from sno.core.alerts.timeline import Claim, Group, Key, Transition, simulate
from sno.core.catalogue import Catalogue
from sno.core.intervals import instant_key
from sno.core.topics import TOPICS

__all__ = ["TimelineRule"]

#: how long a tombstone (the ledger of a forgotten group) is kept, in event time: 13 months
_TOMB_US = 396 * 86_400_000_000


class TimelineRule:
    """The shared machinery of the entity rules; a subclass says which groups a snapshot belongs to,
    what each knowledge state claims, and how a transition reads (``describe``)."""

    name: str = ""
    kinds: frozenset[str] = frozenset()
    #: which horizon extrapolates the last knowledge: event time ("time") or the close horizon ("close")
    horizon: str = "time"

    def __init__(self, catalogue: Catalogue, rules: Any, emitter: Emitter, forget_us: int) -> None:
        self.catalogue = catalogue
        self.rules = rules
        self.emitter = emitter
        self.forget_us = forget_us
        #: the topics of the rule's snapshot kinds: the sources it waits to hear from (``quiet``)
        self.topics = frozenset(TOPICS[kind] for kind in self.kinds)
        self.groups: dict[Key, Group] = {}
        #: alert id -> state sent, the firing event time, and what the alert is about
        self.sent: dict[str, State] = {}
        self.fired: dict[str, int] = {}
        self.meta: dict[str, tuple[Subject, Severity, str, str, str | None, Key | None]] = {}
        self.by_group: dict[Key, set[str]] = {}
        self.tombs: dict[Key, tuple[dict[str, State], int]] = {}

    # ---- what a subclass provides -------------------------------------------------------------------

    def groups_of(self, record: Mapping[str, Any]) -> list[Key]:  # pragma: no cover - abstract
        raise NotImplementedError

    def member(self, record: Mapping[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        raise NotImplementedError  # pragma: no cover - abstract

    def describe(self, group: Group, tr: Transition) -> tuple[float | int | None, float | int | None, str]:
        raise NotImplementedError  # pragma: no cover - abstract

    def ended(self, group: Group) -> int | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def group_of_alert(
        self, service: str, environment: str, subject: Subject | None, text: str
    ) -> Key | None:
        raise NotImplementedError  # pragma: no cover - abstract

    def new_group(self, key: Key, record: Mapping[str, Any]) -> Group:
        return Group(key, record["service"], record.get("environment") or "production")

    def cap(self, group: Group, clock: EventClock) -> int | None:
        """The latest event time a transition of this group may be sent for now (None: any); a rule whose
        claims depend on another stream (availability on the minutes over capacity) holds what lies beyond
        that stream's close horizon."""
        return None

    # ---- the interface ------------------------------------------------------------------------------

    def observe(self, record: Mapping[str, Any], clock: EventClock) -> list[Alert]:
        if record.get("type") not in self.kinds:
            return []
        out: list[Alert] = []
        u = instant_key(record["updated_at"])
        for key in self.groups_of(record):
            group = self._group(key, record)
            if group.add(self.member(record), u, record):
                out += self._judge(group, None, False, self.cap(group, clock))
        return out

    def advance(self, clock: EventClock) -> list[Alert]:
        if not clock.quiet(self.topics):
            return []
        horizon = clock.time if self.horizon == "time" else clock.close
        out: list[Alert] = []
        for key in list(self.groups):
            group = self.groups[key]
            if group.dirty or (group.due is not None and horizon is not None and group.due <= horizon):
                out += self._judge(group, horizon, True, self.cap(group, clock))
            self._maybe_forget(group, clock.time)
        out += self._orphans(clock.time)
        return out

    def restore(self, rows: Iterable[Mapping[str, Any]], snapshots: Iterable[Mapping[str, Any]]) -> None:
        """Take over the versions (from `sno_snapshots`) and what was sent (from `sno_alerts`)."""
        for record in snapshots:
            if record.get("type") not in self.kinds:
                continue
            u = instant_key(record["updated_at"])
            for key in self.groups_of(record):
                self._group(key, record).add(self.member(record), u, record)
        for row in rows:
            if row.get("rule") != self.name:
                continue
            aid, state = str(row["alert_id"]), str(row["state"])
            if self.sent.get(aid) == "resolved":
                continue
            self.sent[aid] = state  # type: ignore[assignment]
            subject = subject_of(row)
            key = self.group_of_alert(
                str(row["service"]), str(row["environment"]), subject, str(row["subject"])
            )
            fired = row.get("fired_at") or row.get("event_time")
            if fired is not None:
                self.fired.setdefault(aid, instant_key(fired))
            if subject is None:
                subject = _Opaque(str(row["subject"]))
            self.meta[aid] = (
                subject,
                row.get("severity") or "ticket",
                str(row["service"]),
                str(row["environment"]),
                row.get("afnemer_id"),
                key,
            )
            self.by_group.setdefault(key, set()).add(aid)
            if key in self.groups:
                self.groups[key].dirty = True

    def size(self) -> int:
        return sum(len(g.versions) for g in self.groups.values()) + len(self.sent) + len(self.tombs)

    # ---- the machinery ------------------------------------------------------------------------------

    def _group(self, key: Key, record: Mapping[str, Any]) -> Group:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = self.new_group(key, record)
            tomb = self.tombs.pop(key, None)
            if tomb is not None:  # judged against what was sent before it was forgotten
                for aid, state in tomb[0].items():
                    self.sent.setdefault(aid, state)
                    self.by_group.setdefault(key, set()).add(aid)
        return group

    def _claims(self, group: Group, fresh: bool = False) -> list[dict[Subject, Claim]]:
        if fresh and group.stale:
            group.claims, group.stale = [], False
        while len(group.claims) < len(group.states):
            u, know = group.states[len(group.claims)]
            group.claims.append(self.claims(group, know, u))
        return group.claims

    def _judge(self, group: Group, horizon: int | None, gate: bool, cap: int | None = None) -> list[Alert]:
        if gate:
            self._adopt(group)
        if cap is not None and horizon is not None:
            horizon = min(horizon, cap)
        # the eager path may use claims computed before a change they depend on: it sends only fires
        # that the arriving snapshot itself proves
        transitions, due = simulate(group.states, self._claims(group, fresh=gate), horizon)
        out: list[Alert] = []
        simulated: set[str] = set()
        waiting = False
        for tr in transitions:
            aid = alert_id(self.name, group.service, group.environment, tr.subject.text)
            simulated.add(aid)
            if cap is not None and tr.at > cap:
                waiting = True  # decided by data its other stream has not closed yet
                continue
            held = self.sent.get(aid)
            if tr.state == "firing":
                if held is None and (tr.eager or gate):
                    out.append(self._send(group, tr, aid, tr.at))
            elif held == "firing" and gate:
                out.append(self._send(group, tr, aid, max(tr.at, self.fired.get(aid, tr.at))))
        if gate and not waiting:
            for aid in sorted(self.by_group.get(group.key, ())):
                if self.sent.get(aid) == "firing" and aid not in simulated:
                    if horizon is None:
                        # No event seen since a restart: what time passing decided (an open incident's
                        # clock crossing) is not on the timeline yet, so absent from it proves nothing.
                        # Judged again once event time is known (its horizon only moves forward).
                        waiting = True
                        continue
                    out.append(self._supersede(group, aid))
            group.dirty = waiting  # a resolve put off until event time is known: judged again then
            group.due = due
        return out

    def _send(self, group: Group, tr: Transition, aid: str, at: int) -> Alert:
        value, norm, summary = self.describe(group, tr)
        afnemer = tr.claim.data.get("afnemer_id")
        self.sent[aid] = tr.state
        if tr.state == "firing":
            self.fired[aid] = at
            self.meta[aid] = (
                tr.subject,
                tr.claim.severity,
                group.service,
                group.environment,
                afnemer,
                group.key,
            )
            self.by_group.setdefault(group.key, set()).add(aid)
        return self.emitter.alert(
            self.name,
            tr.claim.severity,
            tr.state,
            group.service,
            group.environment,
            tr.subject,
            value,
            norm,
            at,
            summary,
            afnemer,
            self.fired.get(aid, at),
        )

    def _supersede(self, group: Group, aid: str) -> Alert:
        """An alert sent that the timeline no longer holds (a restored one, or one sent before a version
        that arrived late): it resolves at the first snapshot after its firing that does not claim it."""
        subject = self.meta[aid][0]
        fired = self.fired.get(aid, group.states[-1][0] if group.states else 0)
        at = group.states[-1][0] if group.states else fired
        for (u, _know), claims in zip(group.states, self._claims(group), strict=True):
            if u >= fired and subject not in claims:
                at = u
                break
        why = f"{subject.text}: superseded by a later snapshot, which no longer shows this condition."
        return self._resolve(aid, max(at, fired), fired, why)

    def _resolve(self, aid: str, at: int, fired: int, summary: str) -> Alert:
        """The resolution of a sent alert that no transition resolves (superseded, or orphaned)."""
        subject, severity, service, env, afnemer, _key = self.meta[aid]
        self.sent[aid] = "resolved"
        return self.emitter.alert(
            self.name, severity, "resolved", service, env, subject, None, None, at, summary, afnemer, fired
        )

    def _orphans(self, time: int | None) -> list[Alert]:
        """Restored firing alerts whose entity the engine has not seen since: resolved once event time is
        past their firing by the forget horizon, so that nothing stays firing (the worker restores the
        snapshots of every entity with a firing alert, so this is a fallback)."""
        out: list[Alert] = []
        if time is None:
            return out
        for key, aids in list(self.by_group.items()):
            if key in self.groups or key in self.tombs:
                continue
            for aid in sorted(aids):
                fired = self.fired.get(aid, time)
                if self.sent.get(aid) != "firing" or fired + self.forget_us > time:
                    continue
                subject = self.meta[aid][0]
                out.append(self._resolve(aid, time, fired, f"{subject.text}: no snapshot of it seen since; "
                                         "resolved so that nothing stays firing."))
        return out

    def _adopt(self, group: Group) -> None:
        """Restored alerts whose group was not known at restore time (their entity's first version came
        later): attach the ones that belong to this group."""
        for key in [k for k in self.by_group if k not in self.groups and k != group.key]:
            for aid in list(self.by_group[key]):
                subject, _sev, service, env, _afn, _ = self.meta[aid]
                if self.group_of_alert(service, env, subject, subject.text) == group.key:
                    self.by_group[key].discard(aid)
                    self.by_group.setdefault(group.key, set()).add(aid)
            if not self.by_group[key]:
                del self.by_group[key]

    def _maybe_forget(self, group: Group, time: int | None) -> None:
        if group.dirty or group.due is not None or time is None:
            return
        ended = self.ended(group)
        if ended is None or time < ended + self.forget_us:
            return
        aids = self.by_group.pop(group.key, set())
        if any(self.sent.get(a) == "firing" for a in aids):
            self.by_group[group.key] = aids
            return
        self.tombs[group.key] = ({a: self.sent[a] for a in aids if a in self.sent}, time)
        for a in aids:
            self.sent.pop(a, None)
            self.fired.pop(a, None)
            self.meta.pop(a, None)
        del self.groups[group.key]
        self.forgot(group)
        for key in [k for k, (_, at) in self.tombs.items() if at + _TOMB_US < time]:
            del self.tombs[key]

    def forgot(self, group: Group) -> None:
        """A group was forgotten: a rule drops what it kept about it elsewhere."""

    def _forget_homes(self, homes: dict[Any, set[Key]], group: Group) -> None:
        for member in [m for m, keys in homes.items() if group.key in keys]:
            homes[member].discard(group.key)
            if not homes[member]:
                del homes[member]


@dataclass(frozen=True)
class _Opaque(Subject, kind="opaque", template="{raw}", typed=False):
    """The subject of a restored row written before subjects were typed: only its text is known."""

    raw: str

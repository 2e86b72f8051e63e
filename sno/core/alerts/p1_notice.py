"""``p1_not_notified`` (R13): afnemers of a production DigiD/Machtigen P1 not informed within the notice
time of its SNO version (30 minutes) of detection.

A version claims the span from the due instant (detection + notice time) to the notice, or else to the
resolution; a version notified in time claims nothing (the core's KPI counts ``notified − detected ≤
notice`` as within, and so does this). A P1 resolved before it was due without any notice still breached
R13 (the KPI counts it as not within): it claims the due instant alone. Whenever the snapshot arrives, a
breach that history holds is raised with its due instant as event time and resolved at the notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sno.core.alerts.emit import NAMES
from sno.core.alerts.entity import TimelineRule
from sno.core.alerts.incident_clock import incident_facts, resolved_at
from sno.core.alerts.model import IncidentSubject, Subject, at_key
from sno.core.alerts.timeline import Claim, Group, Key, Transition
from sno.core.intervals import instant_key

__all__ = ["P1Notice"]


class P1Notice(TimelineRule):
    name = "p1_not_notified"
    kinds = frozenset({"incident"})

    def groups_of(self, record: Mapping[str, Any]) -> list[Key]:
        return [(record["service"], str(record["incident_id"]))]

    def member(self, record: Mapping[str, Any]) -> str:
        return "incident"

    def group_of_alert(
        self, service: str, environment: str, subject: Subject | None, text: str
    ) -> Key | None:
        return (service, subject.incident if isinstance(subject, IncidentSubject) else text)

    def claims(self, group: Group, know: dict[str, dict[str, Any]], u: int) -> dict[Subject, Claim]:
        incident = know["incident"]
        facts = incident_facts(self.catalogue, incident)
        if facts is None:
            return {}
        norms, p, target, _ctx = facts
        notice = norms.p1_notice
        if notice is None or p != 1 or target is None:
            return {}  # no such rule (MijnOverheid), not a P1, or P1 not judged here (N.v.t., R11)
        detected = instant_key(incident["detected_at"])
        limit = round(notice.minutes * 60 * 1_000_000)
        due = detected + limit
        notified = incident.get("notified_at")
        if notified is not None and instant_key(notified) - detected <= limit:
            return {}
        resolved = resolved_at(incident)
        end = instant_key(notified) if notified is not None else (instant_key(resolved) if resolved else None)
        if end is not None:
            end = max(end, due)
        data = {
            "minutes": notice.minutes,
            "notified": notified,
            "detected": incident["detected_at"],
            "afnemer_id": incident.get("afnemer_id"),
        }
        return {
            IncidentSubject(str(incident["incident_id"])): Claim(
                due, end, due <= u, self.rules.p1_not_notified.severity, data
            )
        }

    def describe(self, group: Group, tr: Transition) -> tuple[float | int | None, float | int | None, str]:
        d = tr.claim.data
        name, env = NAMES.get(group.service, group.service), group.environment
        iid = tr.subject.text
        if tr.state == "firing":
            return (
                d["minutes"],
                d["minutes"],
                f"Afnemers of {name} {env} were not informed of P1 incident {iid} "
                f"within {d['minutes']:g} minutes of its detection at "
                f"{at_key(instant_key(d['detected'])):%Y-%m-%d %H:%M} (R13).",
            )
        if tr.how == "end":
            notified = d["notified"]
            minutes = (
                None if notified is None else (instant_key(notified) - instant_key(d["detected"])) / 60e6
            )
            told = (
                f"informed {minutes:.0f} minutes after detection"
                if minutes is not None
                else "resolved without afnemers being informed"
            )
            return (
                minutes,
                d["minutes"],
                f"P1 incident {iid} of {name} {env}: {told} (norm {d['minutes']:g} minutes, R13).",
            )
        return (
            None,
            d["minutes"],
            f"Incident {iid} of {name} {env}: a later snapshot (at "
            f"{at_key(tr.at):%Y-%m-%d %H:%M}) shows it informed in time or no longer a judged P1 (R10, R13).",
        )

    def ended(self, group: Group) -> int | None:
        incident = group.latest.get("incident")
        done = resolved_at(incident) if incident is not None else None
        return instant_key(done) if done is not None else None

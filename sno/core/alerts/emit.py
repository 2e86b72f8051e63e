"""Turning a decided transition into an :class:`Alert`: the one place that stamps ``emitted_at`` and
``replayed`` (docs/interfaces.md: replayed when emitted more than an hour after its event time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sno.core.alerts.model import Alert, Severity, State, Subject, alert_id, at_key
from sno.core.intervals import instant_key

__all__ = ["NAMES", "Emitter", "wall_clock"]

NAMES = {"digid": "DigiD", "digid-machtigen": "DigiD Machtigen", "mijnoverheid": "MijnOverheid"}


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Emitter:
    def __init__(self, clock: Callable[[], datetime], replayed_after_us: int) -> None:
        self.clock = clock
        self.replayed_after_us = replayed_after_us

    def alert(
        self,
        rule: str,
        severity: Severity,
        state: State,
        service: str,
        environment: str,
        subject: Subject,
        value: float | int | None,
        norm: float | int | None,
        event_us: int,
        summary: str,
        afnemer_id: str | None = None,
        fired_us: int | None = None,
    ) -> Alert:
        emitted = self.clock()
        text = subject.text
        return Alert(
            alert_id=alert_id(rule, service, environment, text),
            rule=rule,
            severity=severity,
            state=state,
            service=service,
            environment=environment,
            afnemer_id=afnemer_id,
            subject=text,
            value=value,
            norm=norm,
            event_time=at_key(event_us),
            emitted_at=emitted,
            replayed=instant_key(emitted) - event_us > self.replayed_after_us,
            summary=summary,
            subject_key=subject.key(),
            fired_at=at_key(fired_us if fired_us is not None else event_us),
        )

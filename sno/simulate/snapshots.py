"""The month's snapshots: outages, maintenance windows, incidents and forecasts, planned up front.

Incidents, outages and maintenance change over time, so production sends a full snapshot at each change
and the latest ``updated_at`` wins (`docs/events.md`, "Snapshots"). The simulator plans them all before
the first minute is written: for each, the snapshots it goes through (reported, notified, re-classified,
resolved, cancelled) and the minute each is sent in, some of them out of order. They are queued on the
run and written in their minute among the bulk events. The plan covers what the rules judge: excluded
causes (R8), maintenance on the usual days and sometimes beyond its limits (R9), incidents of every
priority with realistic clocks (R10–R13), the outage a capacity burst brings (R16) and the afnemers'
forecasts (R19).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Final

from sno.simulate.afnemers import MIJNOVERHEID_AFNEMERS
from sno.simulate.clock import DAY, HOUR, MINUTE, local_ms, nth_weekday
from sno.simulate.norms import resolution_hours
from sno.simulate.run import Run

_SERVICE_CODE: Final = {"digid": "DGD", "digid-machtigen": "MCH", "mijnoverheid": "MOH"}

#: R10: (impact, urgency) pairs that give each priority.
_CLASSIFICATIONS: Final[dict[int, list[tuple[str, str]]]] = {
    1: [("hoog", "hoog")],
    2: [("hoog", "midden"), ("midden", "hoog")],
    3: [
        ("midden", "midden"),
        ("laag", "hoog"),
        ("hoog", "laag"),
        ("laag", "midden"),
        ("midden", "laag"),
        ("laag", "laag"),
    ],
}

_INCIDENT_TITLES: Final = (
    "Verhoogd foutpercentage bij inloggen",
    "SMS-codes komen vertraagd aan",
    "Certificaatfout bij afnemer",
    "Berichten blijven hangen in verwerking",
    "Notificaties worden niet verstuurd",
    "Trage respons API",
    "Koppeling met BRP verstoord",
    "Inloggen met ID-kaart mislukt",
    "Machtiging kan niet worden geactiveerd",
)


class Snapshots:
    """Plans the run's snapshot events and queues them on the run (``Run.snapshot``)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.outage_seq = 0
        self.maintenance_seq = 0
        self.incident_seq = 0
        #: R11 targets (hours per priority) of each service, only to shape realistic incident clocks.
        self.target_hours = {service: resolution_hours(service, run.month) for service in run.services}

    def burst_outage(self, first: int) -> None:
        """Overload often brings a short outage with it; R16 leaves that minute out of U."""
        end = first + self.run.rng.randint(2, 6) * MINUTE
        self.outage(
            "digid",
            first + 20_000,
            end,
            "logius",
            function="authenticatie",
            title="Vertraging bij inloggen door piekbelasting",
        )

    def outage(
        self,
        service: str,
        started: int,
        ended: int | None,
        cause: str | None,
        *,
        function: str | None = None,
        title: str | None = None,
        environment: str | None = None,
        ddos: bool = False,
        analysis: str | None = None,
    ) -> None:
        """Snapshots of one outage: reported while ongoing (cause often unknown), then closed; the owner's
        ``analysis`` (R24) comes with the closing snapshot, ``ddos`` is known from the start."""
        rng = self.run.rng
        self.outage_seq += 1
        outage_id = f"{_SERVICE_CODE[service]}-{self.run.month_code}-S{self.outage_seq:03d}"
        base: dict[str, Any] = {"type": "outage", "service": service}
        if environment:
            base["environment"] = environment
        base.update(outage_id=outage_id, started_at=self.run.fmt.local(started))
        if function:
            base["function"] = function
        if title:
            base["title"] = title
        if ddos:
            base["ddos"] = True
        reported = started + rng.randint(2, 8) * MINUTE
        if ended is None or reported < ended:
            first = dict(base, updated_at=self.run.fmt.local(reported), ended_at=None)
            if rng.random() < 0.5 and cause is not None:
                first["cause"] = cause
            self.run.snapshot(reported, first)
        if ended is not None:
            closed = ended + rng.randint(1, 20) * MINUTE
            last = dict(base, updated_at=self.run.fmt.local(closed), ended_at=self.run.fmt.local(ended))
            if analysis:
                last["analysis"] = analysis
            if cause is not None:
                last["cause"] = cause
            self.run.snapshot(closed, last)

    def plan_outages(self, service: str) -> None:
        """A few outages per service, some with a cause R8 excludes; DigiD's website has one of its own."""
        rng = self.run.rng
        lo, hi = self.run.start, self.run.end

        def span(minutes_lo: int, minutes_hi: int) -> tuple[int, int]:
            started = self.run.random_ms(lo, hi)
            return started, started + rng.randint(minutes_lo, minutes_hi) * MINUTE

        if service == "digid":
            self.outage(
                service,
                *span(10, 40),
                "logius",
                function="authenticatie",
                title="Inloggen met de DigiD app mislukt",
                analysis="Een verlopen certificaat tussen app en koppelvlak; het is vervangen en de "
                "bewaking van vervaldata is aangescherpt.",
            )
            self.outage(
                service, *span(20, 90), rng.choice(("internet", "afnemer")), title="Storing bij een afnemer"
            )
            self.outage(
                service, *span(15, 60), "logius", function="website", title="www.digid.nl onbereikbaar"
            )
            day = rng.choice(self.run.days_in_range(workdays_only=True))
            started = local_ms(day, rng.randint(9, 15))
            self.outage(
                service,
                started,
                started + rng.randint(30, 120) * MINUTE,
                "logius",
                environment="preproduction",
                title="Pre-productie onbeschikbaar",
            )
        elif service == "digid-machtigen":
            self.outage(service, *span(15, 45), "logius", title="Machtigen traag en onbereikbaar", ddos=True)
            self.outage(service, *span(20, 60), "dependency", title="Storing DigiD")
        else:
            self.outage(
                service,
                *span(30, 90),
                "logius",
                function="berichtenbox",
                title="Berichtenbox niet beschikbaar",
            )
            self.outage(service, *span(20, 45), "dependency", function="portaal", title="Storing Diginetwerk")
            if rng.random() < 0.3:
                self.outage(service, *span(60, 180), "force_majeure", function="app", title="Calamiteit")
        if rng.random() < 0.3:
            started = self.run.random_ms(max(lo, hi - 2 * DAY), hi)
            self.outage(service, started, None, None, title="Onderzoek naar verstoring loopt")

    def maintenance(
        self,
        service: str,
        starts: int,
        ends: int,
        announced: int,
        *,
        kind: str = "planned",
        component: str | None = None,
        cancelled_at: int | None = None,
    ) -> None:
        """Snapshots of one maintenance window: announced, and for a cancelled one, the cancellation (R9)."""
        self.maintenance_seq += 1
        record: dict[str, Any] = {
            "type": "maintenance",
            "service": service,
            "maintenance_id": f"{_SERVICE_CODE[service]}-{self.run.month_code}-M{self.maintenance_seq:02d}",
            "updated_at": self.run.fmt.local(announced),
            "kind": kind,
            "status": "scheduled",
            "announced_at": self.run.fmt.local(announced),
            "starts_at": self.run.fmt.local(starts),
            "ends_at": self.run.fmt.local(ends),
        }
        if component:
            record["component"] = component
        self.run.snapshot(announced, dict(record))
        if cancelled_at is not None:
            record.update(updated_at=self.run.fmt.local(cancelled_at), status="cancelled")
            self.run.snapshot(cancelled_at, record)

    def plan_maintenance(self, service: str) -> None:
        """Planned windows on the usual days of R9, sometimes a third or one running past 06:00."""
        rng = self.run.rng
        year, month = self.run.month.year, self.run.month.month

        def window(
            day: date,
            from_h: int,
            to_h: int,
            *,
            to_m: int = 0,
            component: str | None = None,
            notice_days: int = 14,
        ) -> None:
            starts = local_ms(day, from_h)
            ends = local_ms(day, to_h, to_m)
            announced = starts - notice_days * DAY - rng.randint(0, 8) * HOUR
            self.maintenance(service, starts, ends, announced, component=component)

        if service == "digid":
            # One month in three a window runs past 06:00, one in three has a third window; which months
            # depends on the seed, so a few consecutive seeds (or months) always show both.
            variant = (self.run.seed + month) % 3
            window(nth_weekday(year, month, 0, 2), 0, rng.choice((3, 4, 5)))
            if variant == 1:
                window(nth_weekday(year, month, 2, 2), 4, 7, to_m=30)  # partly outside 00:00–06:00
            else:
                window(nth_weekday(year, month, 2, 2), 1, 5)
            if variant == 2:
                window(nth_weekday(year, month, 0, 4), 1, 3, notice_days=7)  # a third window
        elif service == "digid-machtigen":
            window(nth_weekday(year, month, 2, 2), 1, 4)
            if rng.random() < 0.2:
                window(nth_weekday(year, month, 1, 3), 3, 6, to_m=45)
            else:
                window(nth_weekday(year, month, 1, 3), 0, 4)
        else:
            window(nth_weekday(year, month, 2, 2), 0, 6, component="portaal-technisch")
            window(nth_weekday(year, month, 2, 4), 1, 5, component="portaal-functioneel")
            window(nth_weekday(year, month, 1, 2), 9, 15, component="berichtenbox")

    def plan_special_maintenance(self) -> None:
        """One emergency window and one cancelled planned window, in services drawn from those simulated."""
        rng = self.run.rng
        service = rng.choice(self.run.services)
        day = rng.choice(self.run.days_in_range())
        starts = local_ms(day, rng.randint(7, 20), rng.choice((0, 15, 30, 45)))
        self.maintenance(
            service,
            starts,
            starts + rng.randint(30, 120) * MINUTE,
            starts - rng.randint(30, 240) * MINUTE,
            kind="emergency",
        )
        service = rng.choice(self.run.services)
        day = nth_weekday(self.run.month.year, self.run.month.month, 3, 3)
        starts = local_ms(day, 1)
        component = "portaal-technisch" if service == "mijnoverheid" else None
        self.maintenance(
            service,
            starts,
            starts + 3 * HOUR,
            starts - 12 * DAY,
            component=component,
            cancelled_at=starts - rng.randint(1, 3) * DAY,
        )

    def plan_incidents(self, service: str) -> None:
        """Incidents of every priority (R10–R13) with realistic clocks, per service."""
        rng = self.run.rng
        counts = {
            "digid": {1: rng.randint(1, 2), 2: rng.randint(2, 4), 3: rng.randint(5, 10)},
            "digid-machtigen": {1: 1, 2: rng.randint(1, 2), 3: rng.randint(2, 5)},
            "mijnoverheid": {1: 1, 2: rng.randint(1, 3), 3: rng.randint(3, 7)},
        }[service]
        for priority, count in counts.items():
            for _ in range(count):
                self.incident(service, priority)
        if service == "digid":
            self.incident(service, 2, environment="preproduction")
            self.incident(service, 3, carried_over=True)

    def incident(
        self, service: str, priority: int, *, environment: str | None = None, carried_over: bool = False
    ) -> None:
        """Snapshots of one incident: open, perhaps notified and re-classified, resolved; some out of order.

        Resolution times are drawn as a fraction of the R11 target, mostly well within it; P1 notices
        (R13) mostly within 30 minutes.
        """
        rng = self.run.rng
        fmt = self.run.fmt.local
        self.incident_seq += 1
        incident_id = f"{_SERVICE_CODE[service]}-{self.run.month_code}-I{self.incident_seq:03d}"
        if carried_over:
            detected = self.run.start - rng.randint(4, 30) * HOUR
        elif priority == 1 or rng.random() < 0.3:
            detected = self.run.random_ms(self.run.start, self.run.end)
        else:
            day = rng.choice(self.run.days_in_range(workdays_only=True))
            detected = local_ms(day, rng.randint(8, 16), rng.randint(0, 59))
        final = rng.choice(_CLASSIFICATIONS[priority])
        initial = final
        if rng.random() < 0.25:
            initial = rng.choice(
                _CLASSIFICATIONS[min(3, priority + 1)] if priority < 3 else _CLASSIFICATIONS[2]
            )
        cause = rng.choices(
            ("logius", None, "afnemer", "internet", "dependency", "force_majeure"),
            (0.72, 0.1, 0.07, 0.04, 0.05, 0.02),
        )[0]
        fraction = rng.lognormvariate(math.log(0.3), 0.6)
        target = self.target_hours[service][priority]
        if priority == 1:
            resolved = detected + int(fraction * target * HOUR)
            notified: int | None = detected + int(
                rng.choices((rng.uniform(4, 28), rng.uniform(31, 75), -1.0), (0.9, 0.07, 0.03))[0] * MINUTE
            )
            if notified is not None and notified < detected:
                notified = None
        else:
            resolved = self.run.office_after(detected, fraction * target * 3600)
            notified = None
        if carried_over and resolved < self.run.start + HOUR:
            resolved = self.run.office_after(self.run.start, rng.uniform(1, 5) * 3600)
        base: dict[str, Any] = {"type": "incident", "service": service}
        if environment:
            base["environment"] = environment
        base.update(incident_id=incident_id, detected_at=fmt(detected))
        if cause:
            base["cause"] = cause
        base["title"] = rng.choice(_INCIDENT_TITLES)
        registered = detected + rng.randint(2, 15) * MINUTE
        first = dict(base, updated_at=fmt(registered), status="open", impact=initial[0], urgency=initial[1])
        if notified is not None and notified <= registered:
            first["notified_at"] = fmt(notified)
        snaps: list[tuple[int, dict[str, Any]]] = [(registered, first)]
        if notified is not None and notified > registered:
            snaps.append((notified, dict(first, updated_at=fmt(notified), notified_at=fmt(notified))))
        if initial != final:
            at = registered + int((resolved - registered) * rng.uniform(0.2, 0.8))
            at = max(at, snaps[-1][0] + 1000)
            snaps.append((at, dict(snaps[-1][1], updated_at=fmt(at), impact=final[0], urgency=final[1])))
        closed = max(resolved, snaps[-1][0]) + rng.randint(1, 30) * MINUTE
        snaps.append(
            (
                closed,
                dict(
                    snaps[-1][1],
                    updated_at=fmt(closed),
                    status="resolved",
                    impact=final[0],
                    urgency=final[1],
                    resolved_at=fmt(resolved),
                ),
            )
        )
        emits = [at for at, _ in snaps]
        if len(snaps) >= 3 and rng.random() < 0.4:
            # Delivered out of order: a middle snapshot arrives after the resolved one.
            emits[1] = closed + rng.randint(1, 60) * MINUTE
        for emit, (at, record) in zip(emits, snaps, strict=True):
            if at < self.run.month_end:  # a snapshot from after the month is not in this month's file
                self.run.snapshot(emit, record)

    def plan_forecasts(self) -> None:
        """R19: each MijnOverheid afnemer's forecast of its messages this month, mostly within 10 %."""
        rng = self.run.rng
        members, cumulative = MIJNOVERHEID_AFNEMERS
        total = self.run.expected("message")
        previous = 0.0
        for afnemer, acc in zip(members, cumulative, strict=True):
            expected = total * (acc - previous) / cumulative[-1]
            previous = acc
            if expected < 0.5:
                continue
            error = rng.gauss(0, 0.2 if rng.random() < 0.1 else 0.04)
            self.run.snapshot(
                self.run.start,
                {
                    "type": "forecast",
                    "service": "mijnoverheid",
                    "afnemer_id": afnemer,
                    "month": str(self.run.month),
                    "messages": max(0, round(expected * (1 + error))),
                },
            )

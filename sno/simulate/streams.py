"""The event streams: the bulk written minute by minute, and the low-volume ones hour by hour.

Authentications, transactions, Berichtenbox messages, notifications and presentation-API requests are
the bulk (R14, R15, R18): per minute a Poisson count, each event one f-string from the precomputed
tables. Validatieservice and Abonnementservice requests (R18) and support contacts (R20, R21) are few:
they are drawn per hour and bucketed into the minute they fall in. A few rarities are planned for the
month up front, so that every month shows them whatever the scale: a capacity burst (R15, R16), messages
still pending at the month's end and notifications sent out of order (R18).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from sno.simulate.afnemers import (
    AFNEMERS_BY_SERVICE,
    DIGID_AFNEMERS,
    MACHTIGEN_AFNEMERS,
    MIJNOVERHEID_AFNEMERS,
)
from sno.simulate.clock import HOUR, MINUTE, Hour, local_ms
from sno.simulate.run import Run
from sno.simulate.tables import (
    ABONNEMENT_MS,
    API_STATUS,
    ATTACHMENTS,
    AUTH_MS,
    AUTH_TAIL,
    BERICHTPRESENTATIE_MS,
    BURST_MS,
    MESSAGE_MS,
    NOTIFY_DELAY_MS,
    PHONE_WAIT_MS,
    TABLE_BITS,
    TXN_MS,
    TXN_TAIL,
    VALIDATIE_MS,
    poisson,
)
from sno.simulate.volumes import (
    BUSINESS,
    CITIZEN,
    DAILY,
    FLOOR_PER_DAY,
    NIGHTLY,
    NIGHTLY_SHAPE,
    OFFICE_SHAPE,
    PHONE,
    PHONE_MACHTIGEN,
    SUPPORT_DAILY,
    WRITTEN,
)


@dataclass(frozen=True)
class _Timed:
    """The fixed text of a bulk event with a start and a completion: its JSON around the drawn values."""

    type: str
    service: str
    started: str
    extra: str = ""

    @property
    def pieces(self) -> tuple[str, str, str, str]:
        """Before the event id, before the afnemer, before the start, before the completion."""
        return (
            f'{{"type":"{self.type}","event_id":"',
            f'","service":"{self.service}","afnemer_id":"',
            f'",{self.extra}"{self.started}":"',
            '","completed_at":"',
        )


_AUTHENTICATION: Final = _Timed("authentication", "digid", "started_at")
_TRANSACTION: Final = _Timed("transaction", "digid-machtigen", "started_at")
_BERICHTPRESENTATIE: Final = _Timed(
    "api_request", "mijnoverheid", "received_at", extra='"api":"berichtpresentatie",'
)
#: The presentation API's tail: its status code, drawn like the R14 outcomes, and its one BSN.
_PRESENTATION_TAIL: Final = [f',"status_code":{status},"bsn_count":1}}' for status in API_STATUS]


class Streams:
    """The run's event streams and the rarities planned into them."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.last_sent = {"email": 0, "app": 0}
        self.ooo_pending = 0
        #: Burst minutes (R16): the minute's authentication count and the campaigning afnemer.
        self.bursts: dict[int, tuple[int, str]] = {}
        self.ooo_minutes: set[int] = set()
        self.pending_minutes: set[int] = set()

    # ---- the month's rarities -------------------------------------------------------------------

    def plan_burst(self) -> int:
        """R15/R16: a few minutes in which one large afnemer's campaign pushes DigiD over its limit.

        Returns the first burst minute (the overload's outage is planned with the snapshots).
        """
        run = self.run
        rng = run.rng
        day = rng.choice(run.days_in_range(workdays_only=True))
        minutes = 3 if run.scale >= 0.01 else 1
        first = local_ms(day, rng.randint(10, 15), rng.randint(0, 55))
        first = min(max(first, run.start), run.end - minutes * MINUTE)
        campaign = DIGID_AFNEMERS[0][rng.randrange(3, 8)]
        for i in range(minutes):
            minute = first + i * MINUTE
            self.bursts[minute] = (int(run.capacity * rng.uniform(1.02, 1.15)), campaign)
            run.summary.burst_minutes.append(run.fmt.local(minute)[:16])
        return first

    def plan_mijnoverheid_rarities(self) -> None:
        """R18: a few notifications that overtake the queue, and messages pending at the month's end."""
        run = self.run
        for _ in range(max(2, round(run.expected("notification") * 4e-6))):
            self.ooo_minutes.add(run.random_minute())
        if run.end == run.month_end:
            last_hour = run.month_end - HOUR
            self.pending_minutes.update(last_hour + run.rng.randrange(60) * MINUTE for _ in range(3))

    # ---- per-minute streams (the bulk) ----------------------------------------------------------

    def minute_rates(self, hour: Hour) -> tuple[float, ...]:
        """Per-minute means of the bulk streams in this hour (zero for services not simulated)."""
        services = self.run.services
        per_minute = [
            ("digid", DAILY["authentication"], CITIZEN),
            ("digid-machtigen", DAILY["transaction"], CITIZEN),
            ("mijnoverheid", DAILY["message"], BUSINESS),
            ("mijnoverheid", DAILY["notification"] * 0.62, BUSINESS),
            ("mijnoverheid", DAILY["notification"] * 0.38, BUSINESS),
            ("mijnoverheid", DAILY["berichtpresentatie"], CITIZEN),
        ]
        return tuple(
            self.run.rate(hour, daily, shape) / 60 if s in services else 0.0 for s, daily, shape in per_minute
        )

    def minute(self, minute: int, rates: tuple[float, ...]) -> list[str]:
        lines: list[str] = []
        rng = self.run.rng
        auth, txn, message, email, app, presentation = rates
        if auth:
            self.authentications(lines, minute, poisson(rng, auth), self.bursts.get(minute))
        if txn:
            self.transactions(lines, minute, poisson(rng, txn))
        if message:
            self.messages(lines, minute, poisson(rng, message))
            if minute in self.pending_minutes:
                self.messages(lines, minute, 1, pending=True)
            if minute in self.ooo_minutes:
                self.ooo_pending += 1
            self.notifications(lines, minute, "email", poisson(rng, email))
            self.notifications(lines, minute, "app", poisson(rng, app))
            self.berichtpresentatie(lines, minute, poisson(rng, presentation))
        return lines

    def authentications(self, lines: list[str], minute: int, n: int, burst: tuple[int, str] | None) -> None:
        """DigiD authentications started in this minute (R14, R15); a burst minute exceeds the limit (R16)."""
        members, weights = DIGID_AFNEMERS
        table = AUTH_MS
        afnemers = self.run.rng.choices(members, cum_weights=weights, k=n)
        if burst is not None:
            target, campaign = burst
            afnemers += [campaign] * max(0, target - n)
            table = BURST_MS
        self.timed(lines, minute, afnemers, _AUTHENTICATION, table, AUTH_TAIL, self.run.fmt.utc)

    def transactions(self, lines: list[str], minute: int, n: int) -> None:
        """DigiD Machtigen transactions started in this minute (R14, R15)."""
        if n == 0:
            return
        afnemers = self.draw_afnemers(MACHTIGEN_AFNEMERS, n)
        self.timed(lines, minute, afnemers, _TRANSACTION, TXN_MS, TXN_TAIL, self.run.fmt.utc)

    def berichtpresentatie(self, lines: list[str], minute: int, n: int) -> None:
        """REST presentation API requests (R18: 200 ms for 99.9 %)."""
        if n == 0:
            return
        afnemers = self.draw_afnemers(MIJNOVERHEID_AFNEMERS, n)
        self.timed(lines, minute, afnemers, _BERICHTPRESENTATIE, BERICHTPRESENTATIE_MS, _PRESENTATION_TAIL)

    def draw_afnemers(self, afnemers: tuple[list[str], list[float]], n: int) -> list[str]:
        """``n`` afnemers drawn by their weights: the one draw every bulk stream makes per event."""
        members, weights = afnemers
        return self.run.rng.choices(members, cum_weights=weights, k=n)

    def timed(
        self,
        lines: list[str],
        minute: int,
        afnemers: list[str],
        template: _Timed,
        durations: list[int],
        tails: list[str],
        fmt: Callable[[int], str] | None = None,
    ) -> None:
        """One event per afnemer, started at a random moment of the minute and lasting a drawn duration.

        Authentications, transactions and presentation-API requests differ only in their names, their
        duration table and their tail (R14, R18), so one loop writes them all; each event draws its
        start, its duration and its tail in that order, the order the simulator's golden output rests on.
        """
        self.run.summary.events[template.type] += len(afnemers)
        fmt = fmt or self.run.fmt.local
        rng = self.run.rng
        rand = rng.random
        bits = rng.getrandbits
        opening, after_id, after_afnemer, between = template.pieces
        append = lines.append
        for event_id, afnemer in zip(self.run.next_ids(len(afnemers)), afnemers, strict=True):
            started = minute + int(rand() * MINUTE)
            append(
                f"{opening}{event_id}{after_id}{afnemer}{after_afnemer}{fmt(started)}{between}"
                f'{fmt(started + durations[bits(TABLE_BITS)])}"{tails[bits(10)]}'
            )

    def messages(self, lines: list[str], minute: int, n: int, pending: bool = False) -> None:
        """Berichtenbox messages received in this minute (R18); some are still pending at the month's end.

        ``pending`` forces this minute's messages to be unprocessed: a few are planned in the month's last
        hour so that every month has pending messages, whatever the scale.
        """
        if n == 0:
            return
        rng = self.run.rng
        self.run.summary.events["message"] += n
        fmt = self.run.fmt.local
        rand = rng.random
        bits = rng.getrandbits
        month_end = self.run.month_end
        closing = month_end - 2 * HOUR
        afnemers = self.draw_afnemers(MIJNOVERHEID_AFNEMERS, n)
        for event_id, afnemer in zip(self.run.next_ids(n), afnemers, strict=True):
            received = minute + int(rand() * MINUTE)
            processed = received + MESSAGE_MS[bits(TABLE_BITS)]
            status = "rejected" if rand() < 0.004 else "accepted"
            if pending or processed >= month_end or (received >= closing and rand() < 0.03):
                done = "null"
                status = "accepted"
            else:
                done = f'"{fmt(processed)}"'
            lines.append(
                f'{{"type":"message","event_id":"{event_id}","service":"mijnoverheid",'
                f'"afnemer_id":"{afnemer}","received_at":"{fmt(received)}","processed_at":{done},'
                f'"status":"{status}"{ATTACHMENTS[bits(TABLE_BITS)]}}}'
            )

    def notifications(self, lines: list[str], minute: int, channel: str, n: int) -> None:
        """Notifications queued in this minute, sent in order of arrival per channel (R18).

        Sends are first-in first-out: each goes out after its own delay and after the one queued before
        it. Rarely (at pre-drawn minutes) one overtakes the queue, the out-of-order send R18 counts.
        """
        if n == 0:
            return
        rng = self.run.rng
        self.run.summary.events["notification"] += n
        fmt = self.run.fmt.local
        bits = rng.getrandbits
        last = self.last_sent[channel]
        month_end = self.run.month_end
        queued_times = sorted(minute + int(rng.random() * MINUTE) for _ in range(n))
        afnemers = self.draw_afnemers(MIJNOVERHEID_AFNEMERS, n)
        for event_id, queued, afnemer in zip(self.run.next_ids(n), queued_times, afnemers, strict=True):
            sent = max(queued + NOTIFY_DELAY_MS[bits(TABLE_BITS)], last + 1)
            if self.ooo_pending and last > queued + 2 and sent < month_end:
                sent = queued + 1 + rng.randrange(last - queued - 1)  # overtakes; the queue keeps `last`
                self.ooo_pending -= 1
            else:
                last = sent
            done = f'"{fmt(sent)}"' if sent < month_end else "null"
            lines.append(
                f'{{"type":"notification","event_id":"{event_id}","service":"mijnoverheid",'
                f'"afnemer_id":"{afnemer}","channel":"{channel}","queued_at":"{fmt(queued)}",'
                f'"sent_at":{done}}}'
            )
        self.last_sent[channel] = last

    # ---- per-hour streams (low volume) ----------------------------------------------------------

    def low_rate_hour(self, hour: Hour) -> list[list[str]]:
        """Low-volume events of this hour, bucketed by minute so they join the minute they belong to."""
        buckets: list[list[str]] = [[] for _ in range(60)]
        rng = self.run.rng
        if "mijnoverheid" in self.run.services:
            lam = self.run.rate(hour, DAILY["validatieservice"], BUSINESS, FLOOR_PER_DAY * 3)
            for _ in range(poisson(rng, lam)):
                self.api_request(
                    buckets,
                    hour,
                    "validatieservice",
                    VALIDATIE_MS,
                    250 if rng.random() < 0.8 else rng.randint(1, 250),
                )
            for api, nightly in NIGHTLY.items():
                for _ in range(poisson(rng, self.run.rate(hour, nightly, NIGHTLY_SHAPE, FLOOR_PER_DAY))):
                    count = rng.randint(500, 60_000) if api == "abonnement-bsn-lijst" else 0
                    self.api_request(buckets, hour, api, ABONNEMENT_MS, count)
        for service in self.run.services:
            for channel, daily in SUPPORT_DAILY[service].items():
                if channel == "phone":
                    shape = PHONE_MACHTIGEN if service == "digid-machtigen" else PHONE
                elif channel == "twitter":
                    shape = PHONE
                elif channel == "afnemer":
                    shape = OFFICE_SHAPE
                else:
                    shape = WRITTEN
                for _ in range(poisson(rng, self.run.rate(hour, daily, shape, FLOOR_PER_DAY))):
                    self.support_contact(buckets, hour, service, channel)
        return buckets

    def api_request(
        self, buckets: list[list[str]], hour: Hour, api: str, table: list[int], bsn_count: int
    ) -> None:
        """Validatieservice and Abonnementservice requests (R18 limits per hour and per night)."""
        rng = self.run.rng
        members, weights = MIJNOVERHEID_AFNEMERS
        offset = int(rng.random() * HOUR)
        received = hour.start + offset
        completed = received + table[rng.getrandbits(TABLE_BITS)]
        status = API_STATUS[rng.getrandbits(10)]
        record = (
            f'{{"type":"api_request","event_id":"{self.run.next_id()}","service":"mijnoverheid",'
            f'"afnemer_id":"{rng.choices(members, cum_weights=weights)[0]}","api":"{api}",'
            f'"received_at":"{self.run.fmt.local(received)}","completed_at":"{self.run.fmt.local(completed)}",'
            f'"status_code":{status},"bsn_count":{bsn_count}}}'
        )
        buckets[offset // MINUTE].append(record)
        self.run.summary.events["api_request"] += 1

    def support_contact(self, buckets: list[list[str]], hour: Hour, service: str, channel: str) -> None:
        """One citizen or afnemer contact (R20, R21), answered (or not) in a realistic time."""
        rng = self.run.rng
        offset = int(rng.random() * HOUR)
        received = hour.start + offset
        abandoned = False
        satisfaction: int | None = None
        afnemer: str | None = None
        if channel == "phone":
            if rng.random() < 0.02:
                abandoned = True
                answered: int | None = None
            else:
                answered = received + PHONE_WAIT_MS[rng.getrandbits(TABLE_BITS)]
                if rng.random() < 0.3:
                    satisfaction = min(10, max(1, round(rng.gauss(8.1, 1.4))))
            kind = rng.choices(("question", "complaint", "incident"), (0.9, 0.07, 0.03))[0]
        elif channel == "twitter":
            answered = received + rng.randint(60_000, 90 * MINUTE)
            kind = rng.choices(("question", "complaint"), (0.8, 0.2))[0]
        elif channel == "afnemer":
            members, weights = AFNEMERS_BY_SERVICE[service]
            afnemer = rng.choices(members, cum_weights=weights)[0]
            office_hours = rng.lognormvariate(math.log(5), 0.8)
            answered = self.run.office_after(received, office_hours * 3600)
            kind = rng.choices(("question", "complaint", "incident"), (0.7, 0.2, 0.1))[0]
        else:  # email, webform: R20 "within 2 workdays" (18 office hours)
            office_hours = rng.lognormvariate(math.log(4), 0.75)
            answered = self.run.office_after(received, office_hours * 3600)
            if rng.random() < 0.15:
                satisfaction = min(10, max(1, round(rng.gauss(7.8, 1.6))))
            kind = rng.choices(("question", "complaint", "incident"), (0.88, 0.1, 0.02))[0]
        if answered is not None and answered >= self.run.month_end:
            answered = None  # still open when the month's file was written
            satisfaction = None
        record: dict[str, Any] = {
            "type": "support_contact",
            "event_id": self.run.next_id(),
            "service": service,
        }
        if afnemer is not None:
            record["afnemer_id"] = afnemer
        record.update(
            channel=channel,
            received_at=self.run.fmt.local(received),
            answered_at=None if answered is None else self.run.fmt.local(answered),
            abandoned=abandoned,
            kind=kind,
        )
        if satisfaction is not None:
            record["satisfaction"] = satisfaction
        buckets[offset // MINUTE].append(orjson.dumps(record).decode())
        self.run.summary.events["support_contact"] += 1

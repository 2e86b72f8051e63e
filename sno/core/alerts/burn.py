"""``processing_time_burn`` (R14, R16): multi-window, multi-burn-rate alerts on the processing-time budget.

At every minute boundary that the watermark has closed, each window pair (1 h and 5 min, 6 h and 30 min)
is judged over the minutes before it: burn = (share not within the processing limit) / (100 − the
processing norm) %, with minutes over capacity left out (R16). Within-the-limit comes from the core's
``contributions`` (as the rollups count it, ≤ 4 s DigiD, < 4 s Machtigen). An episode fires at the first
boundary where both windows burn faster than the factor and resolves at the first where either does not;
its subject is the boundary it started at. A boundary is judged only when its minutes are closed, so the
episodes depend on the counts alone, not on the order their events came in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sno.core.alerts.capacity import MINUTE_US, AuthMinutes
from sno.core.alerts.emit import NAMES, Emitter
from sno.core.alerts.model import Alert, EpisodeSubject, at_key, subject_of
from sno.core.alerts.series import Series
from sno.core.catalogue import Catalogue

__all__ = ["BurnRate"]


@dataclass
class _Pair:
    """The burn state of one service and environment."""

    boundary: int  # the next minute boundary to judge (µs)
    sums: dict[int, list[int]] = field(default_factory=dict)  # window minutes -> [count, not within]
    episodes: dict[str, EpisodeSubject] = field(default_factory=dict)  # window name -> firing episode
    quiet: set[str] = field(default_factory=set)  # episodes begun before the restored minutes: not sent
    warm_until: int = 0  # boundaries before this have incomplete windows (after a restore)
    added: dict[int, tuple[int, int]] = field(default_factory=dict)  # minute -> [count, not within] added


class BurnRate:
    name = "processing_time_burn"

    def __init__(self, catalogue: Catalogue, rules: Any, emitter: Emitter, minutes: AuthMinutes) -> None:
        self.catalogue = catalogue
        #: (service, UTC hour) -> (error budget, display name, limit text), or None without a norm: a UTC
        #: hour lies in one local month (whole-hour offsets, R1), so the month's norms are looked up once
        #: an hour, not at every minute judged (bounded: cleared past 4,096 entries)
        self._budgets: dict[tuple[str, int], tuple[float, str, str] | None] = {}
        self.rule = rules.processing_time_burn
        self.emitter = emitter
        self.minutes = minutes
        self.lengths = sorted(
            {w.long_minutes for w in self.rule.windows} | {w.short_minutes for w in self.rule.windows}
        )
        self.pairs: dict[tuple[str, str], _Pair] = {}
        self._restored: dict[tuple[str, str], dict[str, EpisodeSubject]] = {}
        self.sent: dict[str, tuple[int, str]] = {}  # alert id -> (episode start, state sent)
        self._warm: dict[tuple[str, str], int] = {}

    @property
    def keep_us(self) -> int:
        """How far behind the close horizon minutes must be kept: the longest window."""
        return (max(self.lengths, default=1) + 1) * MINUTE_US

    def advance(self, close_of: Callable[[str], int | None]) -> list[Alert]:
        out: list[Alert] = []
        for pair, series in sorted(self.minutes.series.items()):
            close = close_of(self.minutes.topic.get(pair, ""))
            if pair[1] not in self.rule.environments or close is None:
                continue
            state = self.pairs.get(pair)
            if state is None:
                first = series.next_slot(0)
                if first is None:
                    continue
                state = self.pairs[pair] = _Pair((first + 1) * MINUTE_US, {n: [0, 0] for n in self.lengths})
                state.episodes.update(self._restored.pop(pair, {}))
                state.warm_until = self._warm.pop(pair, 0)
            while state.boundary <= close:
                self._step(pair, series, state, close, out)
            old = close - 2 * 86_400_000_000
            for aid in [a for a, (at, st) in self.sent.items() if st == "resolved" and at < old]:
                del self.sent[aid]
        return out

    def _step(
        self, pair: tuple[str, str], series: Series, state: _Pair, close: int, out: list[Alert]
    ) -> None:
        b = state.boundary
        service, env = pair
        entering = b - MINUTE_US
        slot = entering // MINUTE_US
        count = series.get(slot)
        if count and not self.minutes.excluded(service, env, entering):  # R16: over capacity, left out
            state.added[entering] = (count, count - series.get(slot, 1))
        longest = max(self.lengths, default=1) * MINUTE_US
        for n, sums in state.sums.items():
            added = state.added.get(entering)
            if added is not None:
                sums[0] += added[0]
                sums[1] += added[1]
            leaving = state.added.get(entering - n * MINUTE_US)  # as it was added: its counts never change
            if leaving is not None:
                sums[0] -= leaving[0]
                sums[1] -= leaving[1]
        state.added.pop(entering - longest, None)
        self._judge(pair, state, b, out)
        state.boundary = b + MINUTE_US
        if not state.episodes and all(s[0] == 0 for s in state.sums.values()):
            # Every window is empty: nothing can happen before the next minute with events (or, with none
            # held, before the close horizon, behind which no event can arrive any more).
            nxt = series.next_slot(state.boundary // MINUTE_US)
            target = (nxt + 1) * MINUTE_US if nxt is not None else (close // MINUTE_US + 1) * MINUTE_US
            state.boundary = max(state.boundary, target)
            state.added.clear()

    def _budget(self, service: str, t: int) -> tuple[float, str, str] | None:
        """The processing-time error budget of the SNO version of instant ``t``'s local month (R5,
        R14), with the service's name and limit for the alert text; None without a positive budget."""
        key = (service, t // (60 * MINUTE_US))
        if key not in self._budgets:
            local = at_key(t)
            norms = self.catalogue.norms_for(service, local.year, local.month)
            budget = (100.0 - norms.performance.processing_norm) / 100.0 \
                if norms is not None and norms.performance is not None else 0.0
            if len(self._budgets) > 4096:
                self._budgets.clear()
            self._budgets[key] = (budget, NAMES.get(service, service),
                                  f"{norms.performance.processing_limit_seconds:g} s") \
                if budget > 0 and norms is not None and norms.performance is not None else None
        return self._budgets[key]

    def _judge(self, pair: tuple[str, str], state: _Pair, b: int, out: list[Alert]) -> None:
        service, env = pair
        judged = self._budget(service, b - 1)  # the month of the minute judged last (R5)
        if judged is None:
            return
        budget, name, limit = judged
        for w in self.rule.windows:
            long_c, long_bad = state.sums[w.long_minutes]
            short_c, short_bad = state.sums[w.short_minutes]
            burn_long = (long_bad / long_c) / budget if long_c else 0.0
            burn_short = (short_bad / short_c) / budget if short_c else 0.0
            hot = short_c >= w.min_events and burn_long > w.factor and burn_short > w.factor
            episode = state.episodes.get(w.name)
            if episode is not None and b <= episode.at:
                continue  # a restored episode: boundaries up to its start were the old engine's to judge
            if hot and episode is None:
                subject = EpisodeSubject(b, w.name)
                state.episodes[w.name] = subject
                if b < state.warm_until:
                    state.quiet.add(subject.text)  # its start lies before the minutes a restart restored
                    continue
                days = 30.0 / burn_long if burn_long else float("inf")
                alert = self.emitter.alert(
                    self.name,
                    w.severity,
                    "firing",
                    service,
                    env,
                    subject,
                    burn_long,
                    w.factor,
                    b,
                    f"{name} {env} burns its processing-time error budget ({100 * budget:g} % over "
                    f"{limit} a month) {burn_long:.1f}× too fast over {w.long_minutes} min and "
                    f"{burn_short:.1f}× over {w.short_minutes} min (alert above {w.factor:g}×): at this "
                    f"rate a month's budget lasts {days:.1f} days (R14).",
                )
                if self.sent.get(alert.alert_id) is None:  # not sent before a restart
                    self.sent[alert.alert_id] = (b, "firing")
                    out.append(alert)
            elif not hot and episode is not None:
                del state.episodes[w.name]
                if episode.text in state.quiet:
                    state.quiet.discard(episode.text)
                    continue
                alert = self.emitter.alert(
                    self.name,
                    w.severity,
                    "resolved",
                    service,
                    env,
                    episode,
                    burn_long,
                    w.factor,
                    b,
                    f"{name} {env} processing time burns its budget {burn_long:.1f}× over "
                    f"{w.long_minutes} min and {burn_short:.1f}× over {w.short_minutes} min, no longer "
                    f"both above {w.factor:g}× (R14).",
                    fired_us=episode.at,
                )
                if self.sent.get(alert.alert_id, (0, "firing"))[1] == "firing":
                    self.sent[alert.alert_id] = (episode.at, "resolved")
                    out.append(alert)

    def restore(self, rows: Iterable[Mapping[str, Any]], first_minute: dict[tuple[str, str], int]) -> None:
        """Firing episodes from `sno_alerts`, so the new engine ends them; and, when counts were restored,
        which boundaries have incomplete windows (episodes begun there were the old engine's to send)."""
        for row in rows:
            if row.get("rule") != self.name:
                continue
            subject = subject_of(row)
            if not isinstance(subject, EpisodeSubject):
                continue
            self.sent[str(row["alert_id"])] = (subject.at, str(row["state"]))
            if row["state"] == "firing":
                pair = (str(row["service"]), str(row["environment"]))
                self._restored.setdefault(pair, {})[subject.window] = subject
        for pair, minute in first_minute.items():
            self._warm[pair] = minute + max(self.lengths, default=1) * MINUTE_US

    def size(self) -> int:
        return sum(len(p.episodes) for p in self.pairs.values())

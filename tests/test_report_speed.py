"""The MijnOverheid report summed in ClickHouse equals the one summed in Python (R18, R19, R23).

`sno report` no longer brings a month's per-second message rows and exact notification instants into
Python: the named queries reduce them to `MijnOverheidMeasures`. These tests hold that reduction to the
core's own (`mijnoverheid_measures` on every stored row), KPI for KPI, on the golden report events through
the real broker and worker, on a simulated month folded by the pipeline's processor, and on hand-made
edge cases (ties on queued_at, a pending message on either side of its limit, tied peaks, nights).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.validate import Accepted, validate
from sno.core.calendar import Month
from sno.core.catalogue import load_catalogue
from sno.core.judge import judge_month, reference_report
from sno.core.kpi import Report
from sno.core.rules.common import Context
from sno.core.rules.mijnoverheid import mijnoverheid_measures
from sno.report.load import load_month, read_mijnoverheid_measures
from sno.rollups import read_month_inputs, read_snapshots
from sno.runtime.broker import LocalBroker
from sno.runtime.store import Store, open_store
from sno.simulate import simulate
from streams.processor import EventProcessor
from streams.sink import SeenLookup
from tests.kafka_util import produce_lines, topic_and_key
from tests.test_pipeline import run_worker

CATALOGUE = load_catalogue()
GOLDEN_EVENTS = Path(__file__).parent / "golden" / "reports" / "events.jsonl"
SERVICE, ENV = "mijnoverheid", "production"
APRIL, JUNE = Month(2026, 4), Month(2026, 6)
CEST = timezone(timedelta(hours=2))


def _fold_into(path: Path, lines: Sequence[bytes]) -> None:
    """Fold lines with the pipeline's own processor (validate, de-duplicate, contributions) and write its
    rows, as the worker's sink does, without a broker in between."""
    processor = EventProcessor()
    folded = processor.fold([(topic_and_key(line)[0], 0, offset, line) for offset, line in enumerate(lines)])
    if isinstance(folded, SeenLookup):  # out of event-time order, and nothing is stored yet
        folded = processor.resume([])
    with open_store(store=path) as st:
        for table in folded.tables:
            st.insert_json(table.table, table.columns, b"\n".join(chunk for _, chunk in table.chunks))


def _service(line: bytes) -> str | None:
    try:
        return orjson.loads(line).get("service")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _accepted(lines: Sequence[bytes]) -> list[dict[str, Any]]:
    return [r.record for r in map(validate, lines) if isinstance(r, Accepted)]


class Paths:
    """Both paths on one store: the measures ClickHouse sums and the ones the core sums from every row."""

    def __init__(self, st: Store, month: Month) -> None:
        norms = CATALOGUE.select(SERVICE, month).norms
        assert norms is not None and norms.mijnoverheid is not None
        self.inputs = read_month_inputs(st, SERVICE, ENV, month)
        self.snapshots = read_snapshots(st, SERVICE)
        self.sql = read_mijnoverheid_measures(st, SERVICE, ENV, month, norms.mijnoverheid)
        self.pure = mijnoverheid_measures(Context(SERVICE, ENV, month, norms, self.inputs, self.snapshots))
        self.loaded = load_month(st, SERVICE, ENV, month, CATALOGUE, days=False).report
        self.from_rows = judge_month(SERVICE, ENV, month, self.inputs, self.snapshots, CATALOGUE)


def _paths(path: Path, month: Month) -> Paths:
    with open_store(store=path) as st:
        return Paths(st, month)


def _assert_same_kpis(got: Report, expected: Report) -> None:
    assert list(got.kpis) == list(expected.kpis)
    for kpi_id, kpi in expected.kpis.items():
        assert got.kpis[kpi_id].model_dump(mode="json") == kpi.model_dump(mode="json"), kpi_id
    assert got == expected


# --- the golden report events through the broker and worker -----------------------------------------------


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    path = tmp_path_factory.mktemp("speed-golden") / "store"
    with LocalBroker() as broker:
        produce_lines(broker.bootstrap, GOLDEN_EVENTS.read_bytes().splitlines())
        done = run_worker(broker.bootstrap, path)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return _paths(path, APRIL)


def test_the_golden_month_gives_the_same_measures_summed_in_clickhouse_as_in_python(golden: Paths) -> None:
    """R18, R19, R23: every measure of the golden month, from the named queries and from the rows."""
    assert golden.sql == golden.pure
    assert golden.sql.notifications_out_of_order == 1  # notification 11 overtook 10 (test_report.py)
    assert golden.sql.messages.count == 60


def test_the_golden_month_report_is_the_same_kpi_for_kpi_on_both_paths(golden: Paths) -> None:
    """R18, R19, R23: the report from the measures equals the report from every stored row and the
    reference report straight from the events."""
    _assert_same_kpis(golden.loaded, golden.from_rows)
    reference = reference_report(
        _accepted(GOLDEN_EVENTS.read_bytes().splitlines()), SERVICE, ENV, str(APRIL), CATALOGUE
    )
    _assert_same_kpis(golden.loaded, reference)


# --- a simulated month and hand-made edge cases, folded by the pipeline's processor ----------------------

_ids = count()


def _event(kind: str, afnemer: str = "00000001000000000001", **fields: Any) -> bytes:
    body = {
        "type": kind,
        "event_id": f"edge-{next(_ids)}",
        "service": SERVICE,
        "environment": ENV,
        "afnemer_id": afnemer,
        **fields,
    }
    return orjson.dumps(body, default=lambda v: v.isoformat())


def _message(received: datetime, processed: datetime | None, afnemer: str = "00000001000000000001") -> bytes:
    return _event(
        "message",
        afnemer,
        received_at=received,
        processed_at=processed,
        status="accepted",
        attachment_count=0,
        attachment_bytes=0,
    )


def _notification(
    queued: datetime, sent: datetime, channel: str, afnemer: str = "00000001000000000001"
) -> bytes:
    return _event("notification", afnemer, queued_at=queued, sent_at=sent, channel=channel)


def _request(api: str, received: datetime) -> bytes:
    return _event(
        "api_request",
        api=api,
        received_at=received,
        completed_at=received + timedelta(seconds=1),
        status_code=200,
        bsn_count=0,
    )


T = datetime(2026, 6, 10, 10, 0, tzinfo=CEST)
#: June 2026 ends at 1 July 00:00 CEST = 30 June 22:00 UTC (R1, R2).
JUNE_END = datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


def _edge_lines() -> list[bytes]:
    """June 2026, worked out by hand in the tests below."""
    minute = timedelta(minutes=1)
    second = timedelta(seconds=1)
    return [
        # Notifications, e-mail: A and B queued at the same instant (a tie is not compared); C and D were
        # queued after A and sent before it; E and E' (two afnemers, same instants) too. App: G is sent at
        # the same instant as F, queued earlier: not strictly before, so in order.
        _notification(T, T + 5 * minute, "email"),  # A
        _notification(T, T + 1 * minute, "email"),  # B: tie with A on queued_at
        _notification(T + second, T + 2 * minute, "email"),  # C: out of order
        _notification(T + 2 * second, T + 3 * minute, "email"),  # D: out of order
        _notification(T + 3 * second, T + 4 * minute, "email", "00000001000000000002"),  # E: out of order
        _notification(T + 3 * second, T + 4 * minute, "email", "00000001000000000003"),  # E': out of order
        _notification(T + 6 * minute, T + 7 * minute, "email"),  # after A's send: in order
        _notification(T, T + 10 * minute, "app"),  # F
        _notification(T + 5 * second, T + 10 * minute, "app"),  # G
        # Messages: three in 10:00:01 and three in 10:00:03 (a tie: the earlier second is the peak).
        *[_message(T + second + i * timedelta(milliseconds=100), T + minute) for i in range(3)],
        *[_message(T + 3 * second, T + minute, "00000001000000000002") for _ in range(3)],
        # Pending at the month's end: received 24 h + 1 s before it (past the limit), and 24 h before it to
        # the second (its limit ends exactly at the month's end: not past it yet).
        _message(JUNE_END - timedelta(hours=24, seconds=1), None),
        _message(JUNE_END - timedelta(hours=24) + timedelta(milliseconds=500), None),
        # Abonnementservice: 23:30 on the 14th and 06:59 on the 15th are the night of the 14th; 07:00 is
        # in no night.
        _request("abonnement-alles", datetime(2026, 6, 14, 23, 30, tzinfo=CEST)),
        _request("abonnement-alles", datetime(2026, 6, 15, 6, 59, tzinfo=CEST)),
        _request("abonnement-alles", datetime(2026, 6, 15, 7, 0, tzinfo=CEST)),
        _request("validatieservice", T),
    ]


@dataclass
class Folded:
    """One store holding the simulated April and the hand-made June, both paths judged on it."""

    path: Path
    april: Paths
    june: Paths
    simulated: list[bytes]
    #: rows the bulky tables hold for the simulated April
    stored: dict[str, int]


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> Folded:
    """`sno simulate --month 2026-04 --scale 0.002 --seed 3` and the edge cases, folded into one store."""
    buf = io.BytesIO()
    simulate("2026-04", scale=0.002, seed=3, out=buf)
    # Only MijnOverheid's lines are folded: the other services add no row the MijnOverheid report reads.
    simulated = [line for line in buf.getvalue().splitlines() if _service(line) == SERVICE]
    path = tmp_path_factory.mktemp("speed-folded") / "store"
    _fold_into(path, [*simulated, *_edge_lines()])
    with open_store(store=path) as st:
        stored = {
            table: st.query(
                f"SELECT sum(1) FROM {table} WHERE service = 'mijnoverheid' AND toYYYYMM({col}) = 202604"
            )[0][0]
            for table, col in (("sno_message_second", "second"), ("sno_notification_order", "queued_at"))
        }
        return Folded(path, Paths(st, APRIL), Paths(st, JUNE), simulated, stored)


def test_the_simulated_month_gives_the_same_measures_summed_in_clickhouse_as_in_python(
    folded: Folded,
) -> None:
    """R18, R19, R23 on a simulated month: every measure is equal, and the month has what is compared."""
    april = folded.april
    assert april.sql == april.pure
    m = april.sql
    assert m.messages.count > 1_000 and m.notifications_compared > 1_000
    assert m.messages_peak_second is not None and len(m.messages_per_day) > 30
    assert {api for api, *_ in m.api_per_hour} >= {"berichtpresentatie", "validatieservice"}


def test_the_simulated_month_report_is_the_same_kpi_for_kpi_on_both_paths(
    folded: Folded,
) -> None:
    """R18, R19, R23: the report from the measures equals the one from every row and the reference report
    straight from the simulated events."""
    april, simulated = folded.april, folded.simulated
    _assert_same_kpis(april.loaded, april.from_rows)
    _assert_same_kpis(
        april.loaded, reference_report(_accepted(simulated), SERVICE, ENV, "2026-04", CATALOGUE)
    )


def test_the_edge_month_gives_the_same_measures_on_both_paths(
    folded: Folded,
) -> None:
    """R18: ties on queued_at, tied peaks, the limit of a pending message and nights agree on both paths."""
    june = folded.june
    assert june.sql == june.pure
    _assert_same_kpis(june.loaded, june.from_rows)


def test_notifications_queued_at_the_same_instant_are_not_out_of_order_and_overtaken_ones_count_once(
    folded: Folded,
) -> None:
    """R18 "op volgorde van binnenkomst", by hand: C, D, E and E' were sent before A, queued earlier on
    e-mail: 4. B ties with A on queued_at and is not compared with it; G is sent at F's instant, not
    before it. 9 notifications were sent and compared."""
    june = folded.june.sql
    assert (june.notifications_out_of_order, june.notifications_compared) == (4, 9)
    kpi = folded.june.loaded.kpis["notifications_out_of_order"]
    assert (kpi.value, kpi.status) == (4, "breached")


def test_a_pending_message_is_late_only_when_its_second_plus_24_hours_is_before_the_month_end(
    folded: Folded,
) -> None:
    """docs/interfaces.md: of the two pending messages one passed its limit before 1 July 00:00; the other's
    limit ends exactly then and is not counted yet. 6 processed + 1 late = 7 counted, 6 within."""
    june = folded.june
    assert (june.sql.messages.pending, june.sql.messages.pending_past_limit) == (2, 1)
    kpi = june.loaded.model_dump(mode="json")["kpis"]["messages_within_24h"]
    assert (kpi["count"], kpi["within"], kpi["pending_within_limit"]) == (7, 6, 1)


def test_the_peak_second_on_a_tie_is_the_earlier_second(
    folded: Folded,
) -> None:
    """R18: 10:00:01 and 10:00:03 each have 3 messages; the peak names 10:00:01 local."""
    kpi = folded.june.loaded.model_dump(mode="json")["kpis"]["messages_peak_per_second"]
    assert (kpi["value"], kpi["at"]) == (3, "2026-06-10T10:00:01+02:00")


def test_abonnement_requests_after_midnight_count_in_the_night_that_started_the_evening_before(
    folded: Folded,
) -> None:
    """R18: 23:30 on 14 June and 06:59 on the 15th are the night of the 14th; 07:00 is in no night."""
    assert folded.june.sql.abonnement_per_night == (("abonnement-alles", date(2026, 6, 14), 2),)


def test_the_mijnoverheid_report_reads_no_row_per_message_second_or_per_notification(
    folded: Folded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What keeps `sno report` fast on a full month: no query of the MijnOverheid report returns more rows
    than a month has hours plus days × afnemers, while the month's per-second message rows and
    notification instants are more than that (so reading them whole would fail this test)."""
    returned: list[tuple[str, int]] = []
    original: Callable[..., list[tuple[Any, ...]]] = Store.query

    def spy(self: Store, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        rows = original(self, sql, parameters)
        returned.append((sql, len(rows)))
        return rows

    monkeypatch.setattr(Store, "query", spy)
    with open_store(store=folded.path) as st:
        load_month(st, SERVICE, ENV, APRIL, CATALOGUE)
    afnemers = {e["afnemer_id"] for e in _accepted(folded.simulated) if e["type"] == "message"}
    bound = 30 * 24 + 30 * len(afnemers)
    assert min(folded.stored.values()) > bound
    assert max(n for _, n in returned) <= bound
    assert any("sno_notification_order" in sql for sql, _ in returned)

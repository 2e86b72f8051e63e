"""A small deterministic mix of every event type for pipeline tests, with explicit instants.

Spans the end of April 2026 into May (a month boundary inside one batch), with duplicates sent again a
little later, snapshots delivered out of order, and invalid lines of several kinds.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

T0 = datetime(2026, 4, 30, 21, 30, tzinfo=UTC)  # 23:30 local; three hours cross the local and UTC month ends
AFNEMERS = [f"0000000{n:013d}" for n in range(1, 8)]


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def events(n: int = 3000, seed: int = 7) -> tuple[list[bytes], list[bytes]]:
    """(valid lines including duplicates, invalid lines)."""
    rng = random.Random(seed)
    lines: list[dict] = []
    for i in range(n):
        t = T0 + timedelta(seconds=i * 3 * 3600 / n + rng.random())
        kind = i % 6
        afnemer = AFNEMERS[rng.randrange(len(AFNEMERS))]
        if kind in (0, 1):
            lines.append(
                {
                    "type": "authentication",
                    "event_id": f"auth-{i}",
                    "service": "digid",
                    "afnemer_id": afnemer,
                    "started_at": _ts(t),
                    "completed_at": _ts(
                        t + timedelta(milliseconds=rng.choice([300, 1200, 4000, 4001, 6000]))
                    ),
                    "outcome": "success",
                    "level": "midden",
                }
            )
        elif kind == 2:
            lines.append(
                {
                    "type": "transaction",
                    "event_id": f"tx-{i}",
                    "service": "digid-machtigen",
                    "afnemer_id": afnemer,
                    "started_at": _ts(t),
                    "completed_at": _ts(t + timedelta(milliseconds=rng.choice([500, 3999, 4000]))),
                    "outcome": "success",
                    "operation": "verifieren",
                }
            )
        elif kind == 3:
            processed = None if i % 7 == 0 else _ts(t + timedelta(minutes=rng.choice([1, 90, 1500])))
            lines.append(
                {
                    "type": "message",
                    "event_id": f"msg-{i}",
                    "service": "mijnoverheid",
                    "afnemer_id": afnemer,
                    "received_at": _ts(t),
                    "processed_at": processed,
                    "status": "accepted" if i % 11 else "rejected",
                    "attachment_count": i % 3,
                    "attachment_bytes": (i % 3) * 260_000,
                }
            )
        elif kind == 4:
            lines.append(
                {
                    "type": "notification",
                    "event_id": f"ntf-{i}",
                    "service": "mijnoverheid",
                    "queued_at": _ts(t),
                    "sent_at": _ts(t + timedelta(seconds=rng.choice([5, 50, 500]))),
                    "channel": rng.choice(["email", "app"]),
                }
            )
        else:
            api = rng.choice(["berichtpresentatie", "validatieservice", "abonnement-alles"])
            lines.append(
                {
                    "type": "api_request",
                    "event_id": f"api-{i}",
                    "service": "mijnoverheid",
                    "afnemer_id": afnemer,
                    "api": api,
                    "received_at": _ts(t),
                    "completed_at": _ts(t + timedelta(milliseconds=rng.choice([50, 200, 201, 40_000]))),
                    "status_code": 200,
                    "bsn_count": 250 if api == "validatieservice" else 0,
                }
            )
        if i % 400 == 0:
            lines.append(
                {
                    "type": "support_contact",
                    "event_id": f"sup-{i}",
                    "service": "digid",
                    "channel": "phone",
                    "received_at": _ts(t),
                    "answered_at": _ts(t + timedelta(seconds=15)),
                    "abandoned": False,
                    "satisfaction": 8,
                    "kind": "question",
                }
            )
    # Snapshots, newest first (out of order): the last `updated_at` must win.
    for k in range(3):
        base = T0 + timedelta(minutes=10 * k)
        resolved = {
            "type": "incident",
            "event_id": f"inc-{k}-b",
            "service": "digid",
            "incident_id": f"INC-{k}",
            "updated_at": _ts(base + timedelta(hours=2)),
            "status": "resolved",
            "impact": "hoog",
            "urgency": "midden",
            "detected_at": _ts(base),
            "resolved_at": _ts(base + timedelta(hours=2)),
            "title": f"Storing {k}",
        }
        opened = dict(resolved, event_id=f"inc-{k}-a", updated_at=_ts(base), status="open", resolved_at=None)
        lines += [resolved, opened]
        lines.append(
            {
                "type": "outage",
                "event_id": f"out-{k}",
                "service": "digid",
                "outage_id": f"OUT-{k}",
                "updated_at": _ts(base + timedelta(minutes=30)),
                "started_at": _ts(base),
                "ended_at": _ts(base + timedelta(minutes=20)),
                "cause": "logius",
            }
        )
    lines.append(
        {
            "type": "maintenance",
            "event_id": "mnt-1",
            "service": "digid",
            "maintenance_id": "MNT-1",
            "updated_at": _ts(T0 - timedelta(days=10)),
            "kind": "planned",
            "status": "scheduled",
            "announced_at": _ts(T0 - timedelta(days=10)),
            "starts_at": "2026-05-13T00:00:00+02:00",
            "ends_at": "2026-05-13T04:00:00+02:00",
        }
    )
    lines.append(
        {
            "type": "forecast",
            "event_id": "fc-1",
            "service": "mijnoverheid",
            "afnemer_id": AFNEMERS[0],
            "month": "2026-05",
            "messages": 400,
        }
    )
    encoded = [orjson.dumps(obj) for obj in lines]
    # Duplicates: every 50th event sent again a few hundred lines later (same event_id, within 24 h).
    with_dupes: list[bytes] = []
    for i, line in enumerate(encoded):
        with_dupes.append(line)
        if i % 50 == 10 and i + 300 < len(encoded):
            with_dupes.append(encoded[i])  # re-sent right away
    invalid = [
        b"not json at all",
        b'{"type": "authentication", "event_id": "bad-1", "service": "digid", '
        b'"started_at": "2026-04-30T23:50:00", "completed_at": "2026-04-30T23:50:01", "outcome": "success"}',
        b'{"type": "authentication", "event_id": "bad-2", "service": "digid", '
        b'"started_at": "2026-04-30T23:50:05+02:00", "completed_at": "2026-04-30T23:50:01+02:00", '
        b'"outcome": "success"}',
        b'{"type": "message", "event_id": "bad-3", "service": "mijnoverheid", "received_at": '
        b'"2026-04-30T23:50:00+02:00", "processed_at": null, "status": "accepted", "attachment_count": 0, '
        b'"attachment_bytes": 0, "meta": {"bsn": "123456782"}}',
        b'{"type": "teleportation", "event_id": "bad-4", "service": "digid"}',
    ]
    return with_dupes, invalid

"""`sno alerts`: list breach alerts from the `sno_alerts` table, or follow them on `sno.alerts`.

The table is the history (it survives the broker); `--follow` is for watching a live pipeline. Output is a
readable table by default and one JSON object per line with `--format json`, so it pipes into `jq`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from sno.commands._options import broker_option, clickhouse_option, fail, one_line_errors, store_option
from sno.core.alerts import INTERFACE_KEYS
from sno.core.calendar import TZ
from sno.core.topics import ALERTS_TOPIC

#: what one alert is on `sno.alerts` and in `--format json` (docs/interfaces.md "Alerts")
COLUMNS = INTERFACE_KEYS
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (`90m`, `24h`, `7d`), a date (local midnight, R1) or an
    instant with offset."""
    now = now or datetime.now(UTC)
    raw = text.strip()
    match = _DURATION.match(raw)
    if match:
        return now - timedelta(**{_UNIT[match[2]]: int(match[1])})
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: expected a duration (24h, 7d), a date (2026-04-01) or an instant with offset"
        ) from None
    if parsed.tzinfo is None:
        if len(raw) > 10:
            raise click.BadParameter(f"{text!r}: an instant needs a UTC offset (R1)")
        parsed = parsed.replace(tzinfo=TZ)
    return parsed


def _row_dict(row: Iterable[Any]) -> dict[str, Any]:
    out = dict(zip(COLUMNS, row, strict=True))
    for key in ("event_time", "emitted_at"):
        value = out[key]
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            out[key] = value.astimezone(TZ).isoformat()
    out["replayed"] = bool(out["replayed"])
    return out


def read_alerts(store: Any, since: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Alert state changes from `sno_alerts`, newest event time first; one row per (alert, state)."""
    where = "WHERE event_time >= {since:DateTime64(6, 'UTC')}" if since is not None else ""
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = since.astimezone(UTC).replace(tzinfo=None)
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM sno_alerts {where} "
        "ORDER BY event_time DESC, emitted_at DESC, alert_id, state LIMIT 1 BY alert_id, state"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    return [_row_dict(r) for r in store.query(sql, params)]


def _short_time(text: Any) -> str:
    try:
        return datetime.fromisoformat(str(text)).astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(text)


def _fmt_num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def _replayed(alert: Mapping[str, Any]) -> str:
    """A replayed alert says when it was sent: its event time is when the breach happened (or ended)."""
    if not alert.get("replayed"):
        return ""
    return f"replayed, sent {_short_time(alert.get('emitted_at'))}"


def render_table(alerts: list[Mapping[str, Any]]) -> str:
    """A plain-text table for people: when it happened (event time, also for a replayed alert), what,
    where, value against norm, whether it is a replay and when it was sent, and the sentence."""
    if not alerts:
        return "no alerts"
    header = (
        "event time", "state", "severity", "rule", "service/env", "subject", "value", "norm", "replayed"
    )
    rows = [
        (
            _short_time(a["event_time"]),
            str(a["state"]),
            str(a["severity"]),
            str(a["rule"]),
            f"{a['service']}/{a['environment'][:4]}",
            str(a["subject"]),
            _fmt_num(a.get("value")),
            _fmt_num(a.get("norm")),
            _replayed(a),
        )
        for a in alerts
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row, a in zip(rows, alerts, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        lines.append(f"    {a.get('summary', '')}")
    return "\n".join(lines)


def _print(alerts: list[Mapping[str, Any]], fmt: str) -> None:
    if fmt == "json":
        for a in alerts:
            click.echo(json.dumps(a, ensure_ascii=False))
    else:
        click.echo(render_table(alerts))


async def _follow(bootstrap: str, fmt: str, since: datetime | None) -> None:
    from aiokafka import AIOKafkaConsumer  # only --follow needs a Kafka client

    from sno.runtime.transport import aiokafka_options

    consumer = AIOKafkaConsumer(
        ALERTS_TOPIC,
        **aiokafka_options(),  # TLS and SASL from SNO_KAFKA_* (deploy/README.md)
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if since is not None else "latest",
    )
    await consumer.start()
    try:
        async for message in consumer:
            try:
                alert = json.loads(message.value)
            except ValueError:
                continue
            if since is not None:
                try:
                    if datetime.fromisoformat(alert["event_time"]) < since:
                        continue
                except (KeyError, TypeError, ValueError):
                    pass
            if fmt == "json":
                click.echo(json.dumps(alert, ensure_ascii=False))
            else:
                click.echo(render_table([alert]).split("\n", 1)[1])
    finally:
        await consumer.stop()


@click.command(name="alerts")
@store_option
@clickhouse_option
@broker_option
@click.option("--since", metavar="WHEN", help="Only alerts from WHEN: 24h, 7d, 2026-04-01 or an instant.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--limit", type=int, default=None, help="At most this many rows (newest first).")
@click.option("--follow", is_flag=True, help=f"Tail the {ALERTS_TOPIC} topic and print alerts as they come.")
@one_line_errors
def command(
    store: str,
    clickhouse: str | None,
    broker: str | None,
    since: str | None,
    fmt: str,
    limit: int | None,
    follow: bool,
) -> None:
    """List breach alerts, newest first (json: one object per line); --follow tails sno.alerts."""
    since_at = parse_since(since) if since else None
    if follow:
        if not broker:
            fail("--follow needs a broker: pass --broker HOST:PORT or set SNO_BROKER")
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        try:
            asyncio.run(_follow(broker, fmt, since_at))
        except KeyboardInterrupt:
            return
        except Exception as exc:
            fail(f"cannot follow {ALERTS_TOPIC} on {broker}: {exc}")
        return
    from sno.commands.report import require_store
    from sno.runtime.store import open_store

    require_store(store, clickhouse)  # a read command never creates a store (issue 17)
    with open_store(clickhouse, store, holder="sno alerts") as st:
        rows = read_alerts(st, since_at, limit)
    _print(rows, fmt)

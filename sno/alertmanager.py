"""Forward alerts to Prometheus Alertmanager (API v2), with the standard library only.

Alertmanager does the routing, grouping, silencing and paging that on-call people already use, so the
pipeline only has to post state changes. Labels follow Alertmanager's conventions (``alertname`` is the
rule; ``severity``, ``service``, ``environment``, ``afnemer_id`` and ``subject`` are labels one can group
and route on); the human text and the figures go in annotations. A resolved alert is posted again with
``endsAt`` set, which is how Alertmanager learns that it is over.

Times are event times (docs/interfaces.md): ``startsAt`` is when the breach began, ``endsAt`` when it ended,
not when the engine got to know. A replayed breach (history read late: a month replayed, a snapshot
arriving late) often comes with its firing and its resolution in one batch; it is then posted once, as
resolved, with both ``startsAt`` and ``endsAt``, so Alertmanager records it without paging anyone for a
breach that is already over.

Posting never raises into the caller: the stream must not stop because a pager is down. The result says
what could not be delivered, so the caller can log it or try again later.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["PostResult", "alertmanager_payload", "post_alerts"]


def _as_dict(alert: Any) -> dict[str, Any]:
    if isinstance(alert, Mapping):
        return dict(alert)
    out = alert.to_json()
    fired = getattr(alert, "fired_at", None)
    if fired is not None:
        out["fired_at"] = fired.isoformat()
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def alertmanager_payload(alert: Any) -> dict[str, Any]:
    """One alert (an ``Alert`` or its ``to_json()`` dict) as an Alertmanager API v2 ``postableAlert``.

    ``startsAt`` is the event time of firing; for a resolved alert ``endsAt`` is its event time and
    ``startsAt`` its firing event time when known (an ``Alert`` carries it as ``fired_at``; a bare JSON
    object does not, and Alertmanager then keeps the start it holds for the same label set).
    """
    a = _as_dict(alert)
    labels = {
        "alertname": str(a["rule"]),
        "severity": str(a["severity"]),
        "service": str(a["service"]),
        "environment": str(a["environment"]),
        "subject": str(a["subject"]),
        "alert_id": str(a["alert_id"]),
    }
    if a.get("afnemer_id"):
        labels["afnemer_id"] = str(a["afnemer_id"])
    annotations = {
        "summary": _text(a.get("summary")),
        "value": _text(a.get("value")),
        "norm": _text(a.get("norm")),
        "event_time": _text(a.get("event_time")),
    }
    body: dict[str, Any] = {"labels": labels, "annotations": annotations}
    if a["state"] == "resolved":
        body["endsAt"] = _text(a["event_time"])
        if a.get("fired_at"):
            body["startsAt"] = _text(a["fired_at"])
    else:
        body["startsAt"] = _text(a["event_time"])
    return body


def _coalesced(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A firing whose resolution is in the same call is left out: the resolved post carries both times."""
    resolved = {a.get("alert_id") for a in items if a.get("state") == "resolved" and a.get("fired_at")}
    return [a for a in items if not (a.get("state") == "firing" and a.get("alert_id") in resolved)]


@dataclass
class PostResult:
    """What happened to one ``post_alerts`` call: how many were delivered, and the ones that were not."""

    sent: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


def post_alerts(
    url: str,
    alerts: Iterable[Any],
    *,
    attempts: int = 4,
    backoff: float = 0.5,
    timeout: float = 5.0,
    batch: int = 500,
    sleep: Callable[[float], None] = time.sleep,
) -> PostResult:
    """POST alerts to ``{url}/api/v2/alerts`` in batches; retry a failed batch with exponential backoff
    (``backoff``, 2×, 4× … seconds) up to ``attempts`` times. Never raises: the alerts of batches that
    still failed come back in ``PostResult.failed`` (as ``as_json()`` dicts) with the last error."""
    result = PostResult()
    try:
        items = _coalesced([_as_dict(a) for a in alerts])
    except Exception as exc:  # a caller's bad input must not stop the stream either
        result.error = f"cannot read alerts: {exc}"
        return result
    endpoint = url.rstrip("/") + "/api/v2/alerts"
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        try:
            body = json.dumps([alertmanager_payload(a) for a in chunk]).encode()
        except Exception as exc:
            result.failed.extend(chunk)
            result.error = f"cannot encode alerts: {exc}"
            continue
        error = _post_with_retries(endpoint, body, attempts, backoff, timeout, sleep)
        if error is None:
            result.sent += len(chunk)
        else:
            result.failed.extend(chunk)
            result.error = error
    return result


def _post_with_retries(
    endpoint: str, body: bytes, attempts: int, backoff: float, timeout: float, sleep: Callable[[float], None]
) -> str | None:
    error: str | None = None
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        request = urllib.request.Request(
            endpoint, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
                return None
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            error = f"HTTP {exc.code} from {endpoint}: {detail}"
            if 400 <= exc.code < 500 and exc.code != 429:
                return error  # the request itself is wrong: repeating it cannot help
        except Exception as exc:
            error = f"{type(exc).__name__} posting to {endpoint}: {exc}"
    return error

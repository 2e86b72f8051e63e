"""Settings of the pipeline worker, and the Faust configuration they imply.

The Faust values below were measured on the embedded broker (README, "Start-up"): with Faust's defaults
the first event is processed ~31 s after start (group join and rebalance waits); with these, ~2.5 s.
They are also sound for a real cluster: short timeouts only make a dead worker's partitions move sooner.

The consumer group. Workers in one group split the partitions, which is right only when they write to
one store: two workers on two embedded stores in one group would each count part of the events, and
both stores would look complete. So each embedded store has a group of its own, `sno-pipeline-<id>`
(`consumer_group`), where the id is kept in the store's folder (`store-id`, made when the store is
first used) together with a digest of the folder's path, so that a copied store gets a group of its
own too. Workers on a ClickHouse server (`http://…`, `sno store serve` included) share `sno-pipeline`.
Changing groups costs nothing: every assignment resumes from the store's ledger, not from offsets.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sno.runtime.transport import KafkaSecurity

#: The largest record the worker's producer sends: a valid event (at most a 1 MiB line), its key and the
#: record batch's overhead, with room to spare.
FORWARD_MAX_BYTES = 2 * 1024 * 1024
#: The file in an embedded store's folder that names the store, for its consumer group.
STORE_ID_FILE = "store-id"


def store_id(folder: Path) -> str:
    """The id of the embedded store in `folder`, made the first time (atomically: two processes that
    race both read the one that won), plus a digest of the folder's resolved path."""
    folder = folder.resolve()
    path = folder / STORE_ID_FILE
    try:
        own = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        fresh = folder / f".{STORE_ID_FILE}.{os.getpid()}.tmp"
        fresh.write_text(uuid.uuid4().hex[:12] + "\n", encoding="ascii")
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
        own = path.read_text(encoding="ascii").strip()
    where = hashlib.sha1(str(folder).encode()).hexdigest()[:6]
    return f"{own}-{where}"


@dataclass
class PipelineSettings:
    broker: str
    clickhouse: str | None = None
    store: Path = field(default_factory=lambda: Path(os.environ.get("SNO_STORE", "./sno-data")))
    app_id: str = "sno-pipeline"
    #: the consumer group, when an operator names it (`--group` / SNO_GROUP); None: from the store
    group: str | None = None
    #: records per hand-over to the sink, at most (a fetch's records are handed over at once, in batches
    #: of this size: the fetch's long-poll, FETCH_MAX_WAIT_MS, bounds how long a record waits).
    batch_size: int = 1000
    #: partitions of the input topics when the worker creates them (the broker auto-creates otherwise).
    partitions: int = 2
    web: bool = False
    web_port: int = 6066
    #: seconds between refreshes of `sno_kpi_monthly` for the months that changed.
    kpi_refresh_seconds: float = 5.0
    loglevel: str = "warning"
    #: Alertmanager base URL (API v2) alerts are forwarded to, besides `sno.alerts`.
    alertmanager: str | None = None
    #: judge breach alerts as events pass (sno/core/ALERTS.md)
    alerts: bool = True
    #: how often the alert engine's clock moves without a batch, so that what waits for a quiet source
    #: (sno/core/alerts.toml `idle_source_seconds`) is decided soon after it goes quiet
    alert_tick_seconds: float = 5.0
    #: fold (validate, de-duplicate, roll up, judge alerts) in a child process: the second core
    fold_in_child: bool = True
    #: run the embedded ClickHouse engine in a process of its own, as a server would be
    #: (sno/runtime/store_process.py); only for the embedded store
    store_in_child: bool = True
    #: Prometheus metrics, /healthz and /readyz on this port (sno/runtime/metrics.py); None: not served
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    #: `text` or `json` (sno/runtime/logs.py); None: SNO_LOG_FORMAT, else text
    log_format: str | None = None
    #: TLS and SASL for every Kafka client, from SNO_KAFKA_* (sno/runtime/transport.py)
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity.from_env)

    def embedded_store(self) -> Path | None:
        """The folder of the embedded store the worker writes to; None for a ClickHouse server."""
        if self.clickhouse and not self.clickhouse.startswith("chdb://"):
            return None
        return Path(self.clickhouse[len("chdb://") :]) if self.clickhouse else self.store

    def consumer_group(self) -> str:
        """The consumer group (Faust app id) for this store: `app_id` for a ClickHouse server, which
        workers share; `app_id` and the store's id for an embedded store (module docstring); `group`
        when given (a one-off drain job of its own, for example)."""
        if self.group:
            return self.group
        folder = self.embedded_store()
        return self.app_id if folder is None else f"{self.app_id}-{store_id(folder)}"

    @property
    def datadir(self) -> Path:
        """Faust's own folder, kept under the store instead of the working directory."""
        return self.store.resolve() / "faust"

    def faust_config(self) -> dict[str, Any]:
        return {
            "broker": f"kafka://{self.broker.replace(',', ';kafka://')}",
            "store": "memory://",
            "datadir": str(self.datadir),
            "value_serializer": "raw",
            "key_serializer": "raw",
            # Start-up and rebalance: the measured settings (module docstring).
            "broker_session_timeout": 2.0,
            "broker_heartbeat_interval": 0.5,
            "broker_rebalance_timeout": 2.0,
            "stream_wait_empty": False,
            # Exactness comes from the ClickHouse ledger, not from Kafka offsets (streams/README.md);
            # offsets are committed often only so a restart re-reads little.
            "broker_commit_every": 10_000,
            "broker_commit_interval": 1.0,
            "consumer_auto_offset_reset": "earliest",
            # Bounded read-ahead: Faust otherwise takes every record the consumer has prefetched
            # (measured: 25 MB more resident memory, no faster).
            "stream_buffer_maxsize": 4_000,
            "broker_max_poll_records": 2_000,
            "web_enabled": self.web,
            "web_port": self.web_port,
            "topic_partitions": self.partitions,
            "producer_acks": -1,
            # The worker re-publishes valid events (forwarding to the owner partition) and dead letters:
            # a valid event may be a 1 MiB line (docs/events.md), over the client's default limit of 1 MB,
            # which stopped the worker at every start (tests/hostile). The broker's own limit still
            # applies; the topic took the event once, so it takes it again.
            "producer_max_request_size": FORWARD_MAX_BYTES,
            **self.kafka_security.faust(),
        }

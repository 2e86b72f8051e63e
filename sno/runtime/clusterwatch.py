"""Watching the Kafka cluster from the worker: a lost cluster is retried, then given up; a new one is refused.

Left to itself, a worker whose broker died stayed alive and consumed nothing, for good, and one whose
broker came back as a new cluster (the bundled Tansu keeps everything in memory: restarted, it is empty
and has a new cluster id) did the same, its status file still listing its partitions (issue 17). Kafka's
clients retry by themselves, so the worker does not need to reconnect; it needs to know when to stop
waiting. `ClusterWatch` is a thread that asks the cluster, every `INTERVAL` seconds, whether it is
there (an ApiVersions request, as `sno.runtime.broker.probe` sends), and:

- *lost*: no bootstrap server answers. Logged once (WARNING), then asked again with back-off (0.5 s,
  doubling, at most `MAX_BACKOFF`); logged once more when it answers again, with how long it was gone.
- *gone*: lost for `gone_seconds` (`SNO_BROKER_GONE_SECONDS`, default `GONE_SECONDS`). The worker
  exits non-zero so that its supervisor restarts it; the restarted worker resumes from the ledger.
- *a new cluster*: whenever the watch's connection was broken and is made again (a broker restarted,
  however fast), it asks the cluster id (the ledger's epoch, streams/README.md). Another id means the
  offsets the ledger holds mean nothing there; the worker exits non-zero at once, and its restart
  begins the new epoch.

One connection is kept open and asked again and again, so a broker that restarts between two asks
still breaks it and is noticed. Under SASL a connection may carry one ApiVersions request before it
authenticates, so there each ask opens a connection of its own (a restart within one interval is then
noticed only if it makes the cluster unreachable; a SASL cluster is a real Kafka cluster, whose id does
not change when its brokers restart).

The watch never acts on the worker itself: it calls `on_gone(error)` once, from its thread, and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Final

from sno.runtime.broker import BrokerError, _api_versions_request

log = logging.getLogger(__name__)

#: seconds between two asks while the cluster answers
INTERVAL: Final = 1.0
#: seconds a lost cluster may stay lost before the worker exits; SNO_BROKER_GONE_SECONDS overrides it
GONE_SECONDS: Final = 60.0
GONE_ENV: Final = "SNO_BROKER_GONE_SECONDS"
#: the longest wait between two asks while the cluster is lost
MAX_BACKOFF: Final = 5.0
#: seconds one ask (connect and answer) may take
ASK_TIMEOUT: Final = 2.0


class ClusterGone(BrokerError):
    """The Kafka cluster is lost for longer than allowed, or came back as another cluster."""


def gone_seconds(value: float | None = None) -> float:
    """The allowance: `value` when given, else SNO_BROKER_GONE_SECONDS, else `GONE_SECONDS`."""
    from sno.runtime.deadline import positive_seconds

    return positive_seconds(GONE_ENV, GONE_SECONDS, value)


class ClusterWatch:
    """The thread described in the module docstring; `start()` it once the worker knows its epoch."""

    def __init__(self, bootstrap: str, epoch: str, on_gone: Callable[[ClusterGone], None],
                 gone_after: float | None = None, interval: float = INTERVAL) -> None:
        from sno.runtime.transport import KafkaSecurity

        self.bootstrap = bootstrap
        self.epoch = epoch
        self.on_gone = on_gone
        self.gone_after = gone_seconds(gone_after)
        self.interval = interval
        security = KafkaSecurity.from_env()
        self._context = security.ssl_context()
        self._reuse = not security.protocol.startswith("SASL")
        self._servers = [_host_port(s) for s in bootstrap.split(",") if s.strip()]
        self._sock: socket.socket | None = None
        self._correlation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the error passed to `on_gone`, once it was
        self.gone: ClusterGone | None = None
        #: monotonic time the cluster was found lost; None while it answers
        self.lost_since: float | None = None
        #: times the cluster was lost and came back (for the tests and the logs)
        self.outages = 0

    def start(self) -> ClusterWatch:
        self._thread = threading.Thread(target=self._run, name="cluster-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(ASK_TIMEOUT + 1)
        self._close()

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.5
        reconnecting = False  # the worker asked the cluster id just before starting the watch
        while not self._stop.is_set():
            why = self._ask()
            if why is None and reconnecting:
                why = self._check_cluster()
                if self.gone is not None:
                    return
            if why is None:
                reconnecting = False
                if self.lost_since is not None:
                    self.outages += 1
                    log.warning("the Kafka cluster at %s answers again after %.1f s", self.bootstrap,
                                time.monotonic() - self.lost_since)
                    self.lost_since, backoff = None, 0.5
                self._stop.wait(self.interval)
                continue
            self._close()
            reconnecting = True  # the next connection made is a reconnection: the cluster id is asked
            now = time.monotonic()
            if self.lost_since is None:
                self.lost_since = now
                log.warning("lost the Kafka cluster at %s (%s); asking again with back-off, for up to %.0f s "
                            "(%s) before the worker exits", self.bootstrap, why, self.gone_after, GONE_ENV)
            elif now - self.lost_since >= self.gone_after:
                self._give_up(ClusterGone(
                    f"the Kafka cluster at {self.bootstrap} has not answered for "
                    f"{now - self.lost_since:.0f} s ({why}; {GONE_ENV}={self.gone_after:g}); the worker "
                    "exits so that its supervisor restarts it"))
                return
            left = self.gone_after - (now - self.lost_since)
            self._stop.wait(max(0.05, min(backoff, left)))
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _check_cluster(self) -> str | None:
        """After a reconnection: the same cluster (None), another one (gone), or no answer yet (why)."""
        if not self.epoch:
            return None
        try:
            now_id = asyncio.run(asyncio.wait_for(_cluster_id(self.bootstrap), 10.0))
        except Exception as exc:  # still coming up: asked again with back-off
            return f"its cluster id: {type(exc).__name__}: {exc}".rstrip(": ")
        if now_id and now_id != self.epoch:
            self._give_up(ClusterGone(
                f"the Kafka cluster at {self.bootstrap} came back as another cluster (id {now_id}, was "
                f"{self.epoch}): the offsets in the ledger mean nothing there (a broker that keeps no data, "
                "like the bundled one, restarted); the worker exits so that its restart begins a new epoch"))
        return None

    def _give_up(self, error: ClusterGone) -> None:
        self.gone = error
        self._close()
        try:
            self.on_gone(error)
        except Exception:  # the deadline armed by on_gone still ends it
            log.exception("acting on a lost Kafka cluster failed")

    # -- one ask ------------------------------------------------------------------------------

    def _ask(self) -> str | None:
        """None when the cluster answered an ApiVersions request, else why not (one line)."""
        try:
            if self._sock is None:
                self._sock = self._connect()
            self._correlation = (self._correlation + 1) & 0x7FFFFFFF
            self._sock.sendall(_api_versions_request(self._correlation))
            size, correlation = struct.unpack(">ii", _recv_exact(self._sock, 8))
            _recv_exact(self._sock, size - 4)
            if correlation != self._correlation:
                return "an unexpected answer"
            if not self._reuse:
                self._close()
            return None
        except ssl.SSLError as exc:
            return f"TLS failed: {exc.reason or exc}"
        except (OSError, ValueError, struct.error) as exc:
            return str(exc) or type(exc).__name__

    def _connect(self) -> socket.socket:
        """A connection to the first bootstrap server that takes one."""
        failure: OSError = OSError("no bootstrap server")
        for host, port in self._servers:
            try:
                raw = socket.create_connection((host, port), timeout=ASK_TIMEOUT)
            except OSError as exc:
                failure = exc
                continue
            sock = self._context.wrap_socket(raw, server_hostname=host) if self._context else raw
            sock.settimeout(ASK_TIMEOUT)
            return sock
        raise failure

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def _host_port(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    return host or "127.0.0.1", int(port)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return bytes(data)


async def _cluster_id(bootstrap: str) -> str:
    from sno.runtime.topics import cluster_id

    return await cluster_id(bootstrap)

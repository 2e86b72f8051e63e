"""Secure transport to Kafka and ClickHouse, from the environment, for every client the project uses.

Production runs Kafka with `SASL_SSL` (SCRAM) and ClickHouse over `https://`. One reading of the
environment gives the same settings to each client: Faust (`broker_credentials`), aiokafka (consumers,
producers, the admin client), kafka-python and clickhouse-connect. Secrets come from files named by
`*_FILE` variables (Kubernetes and compose mount secrets as files), never from a command line; the plain
variable works too, for a developer, but not both at once.

| variable | meaning |
|---|---|
| `SNO_KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
| `SNO_KAFKA_SASL_MECHANISM` | `SCRAM-SHA-512` (default with SASL), `SCRAM-SHA-256`, `PLAIN` |
| `SNO_KAFKA_SASL_USERNAME`, `SNO_KAFKA_SASL_PASSWORD[_FILE]` | the SASL user |
| `SNO_KAFKA_SSL_CAFILE` | the CA (PEM) that signed the brokers' certificates; `system`: the OS store |
| `SNO_KAFKA_SSL_CERTFILE`, `SNO_KAFKA_SSL_KEYFILE` | a client certificate (mutual TLS), optional |
| `SNO_KAFKA_SSL_CHECK_HOSTNAME` | `true` (default); `false` only for a broker reached by IP |
| `SNO_CLICKHOUSE_CA_FILE` | the CA bundle for an `https://` ClickHouse; `system` for the OS store; required |
| `SNO_CLICKHOUSE_PASSWORD[_FILE]` | the ClickHouse password when the DSN carries none |
| `SNO_CLICKHOUSE_CERT_FILE`, `SNO_CLICKHOUSE_KEY_FILE` | a client certificate, optional |
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
#: a CA setting that means "the operating system's trust store" rather than a file
SYSTEM_CA = "system"


class TransportError(ValueError):
    """A transport setting is missing or wrong; the message is one line naming the variable."""


def secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """`NAME`, or the content of the file `NAME_FILE` names (one trailing newline dropped)."""
    env = os.environ if env is None else env
    value, path = env.get(name), env.get(f"{name}_FILE")
    if value and path:
        raise TransportError(f"set {name} or {name}_FILE, not both")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise TransportError(f"{name}_FILE: cannot read {path}: {exc.strerror or exc}") from None
        return text[:-1] if text.endswith("\n") else text
    return value or None


def _file(name: str, env: Mapping[str, str], allow_system: bool = False) -> str | None:
    path = env.get(name) or None
    if path is None or (allow_system and path == SYSTEM_CA):
        return path
    if not Path(path).is_file():
        raise TransportError(f"{name}: no such file: {path}")
    return path


def _flag(name: str, env: Mapping[str, str], default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise TransportError(f"{name}: expected true or false, got {value!r}")
    return value in ("true", "1", "yes")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        env = os.environ if env is None else env
        protocol = (env.get("SNO_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").strip().upper()
        if protocol not in PROTOCOLS:
            raise TransportError(
                f"SNO_KAFKA_SECURITY_PROTOCOL: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
        sasl = protocol.startswith("SASL_")
        tls = protocol.endswith("SSL")
        mechanism = (env.get("SNO_KAFKA_SASL_MECHANISM") or ("SCRAM-SHA-512" if sasl else "")).strip().upper()
        if sasl and mechanism not in MECHANISMS:
            raise TransportError(
                f"SNO_KAFKA_SASL_MECHANISM: {mechanism!r} is not one of {', '.join(MECHANISMS)}")
        username = env.get("SNO_KAFKA_SASL_USERNAME") or None
        password = secret("SNO_KAFKA_SASL_PASSWORD", env)
        if sasl and not (username and password):
            raise TransportError(f"{protocol} needs SNO_KAFKA_SASL_USERNAME and SNO_KAFKA_SASL_PASSWORD_FILE")
        cafile = _file("SNO_KAFKA_SSL_CAFILE", env, allow_system=True)
        if tls and cafile is None:
            raise TransportError(f"{protocol} needs SNO_KAFKA_SSL_CAFILE (the CA that signed the brokers' "
                                 f"certificates, or `{SYSTEM_CA}`)")
        certfile = _file("SNO_KAFKA_SSL_CERTFILE", env)
        keyfile = _file("SNO_KAFKA_SSL_KEYFILE", env)
        if keyfile and not certfile:
            raise TransportError("SNO_KAFKA_SSL_KEYFILE needs SNO_KAFKA_SSL_CERTFILE")
        return cls(protocol, mechanism if sasl else None, username if sasl else None,
                   password if sasl else None, cafile if tls else None, certfile if tls else None,
                   keyfile if tls else None, _flag("SNO_KAFKA_SSL_CHECK_HOSTNAME", env, True))

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context aiokafka and Faust use: the CA, an optional client certificate, TLS 1.2+."""
        if not self.tls:
            return None
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if self.ssl_cafile == SYSTEM_CA else self.ssl_cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaConsumer, AIOKafkaProducer and AIOKafkaAdminClient."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaConsumer, KafkaProducer and KafkaAdminClient."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options.update(ssl_check_hostname=self.ssl_check_hostname,
                           ssl_cafile=None if self.ssl_cafile == SYSTEM_CA else self.ssl_cafile,
                           ssl_certfile=self.ssl_certfile, ssl_keyfile=self.ssl_keyfile)
        if self.sasl_mechanism:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options

    def faust(self) -> dict[str, Any]:
        """Faust settings: `broker_credentials` (Faust hands them to every aiokafka client it makes)."""
        if self.protocol == "PLAINTEXT":
            return {}
        import faust

        context = self.ssl_context()
        if self.sasl_mechanism:
            credentials: Any = faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                                     ssl_context=context, mechanism=self.sasl_mechanism)
        else:
            credentials = faust.SSLCredentials(context)
        return {"broker_credentials": credentials}


def aiokafka_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What every aiokafka client of the project adds to its keyword arguments."""
    return KafkaSecurity.from_env(env).aiokafka()


def kafka_python_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return KafkaSecurity.from_env(env).kafka_python()


def clickhouse_options(dsn: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `clickhouse_connect.get_client(dsn=…)`.

    An `https://` DSN needs `SNO_CLICKHOUSE_CA_FILE`: without it the connection is refused here, in one
    line, rather than trusted to whatever the host's store holds or failing deep in urllib3.
    """
    env = os.environ if env is None else env
    scheme = urlsplit(dsn).scheme.lower()
    options: dict[str, Any] = {}
    if scheme in ("http", "https", "clickhouse", "clickhouses"):
        parsed = urlsplit(dsn)
        password = secret("SNO_CLICKHOUSE_PASSWORD", env)
        if password and parsed.password:
            raise TransportError("the ClickHouse DSN carries a password and SNO_CLICKHOUSE_PASSWORD(_FILE) "
                                 "is set too: keep it in the file only")
        if password:
            options["password"] = password
    if scheme in ("http", "clickhouse"):
        options["interface"] = "http"
    if scheme in ("https", "clickhouses"):
        # clickhouse-connect takes TLS from the port (443/8443), not from the DSN's scheme: without this an
        # https:// DSN on another port would be sent in plain text.
        options["interface"] = "https"
        ca = _file("SNO_CLICKHOUSE_CA_FILE", env, allow_system=True)
        if ca is None:
            raise TransportError("an https:// ClickHouse needs SNO_CLICKHOUSE_CA_FILE (the CA that signed "
                                 f"the server's certificate, or `{SYSTEM_CA}`)")
        options["verify"] = True
        if ca != SYSTEM_CA:
            options["ca_cert"] = ca
        cert = _file("SNO_CLICKHOUSE_CERT_FILE", env)
        key = _file("SNO_CLICKHOUSE_KEY_FILE", env)
        if key and not cert:
            raise TransportError("SNO_CLICKHOUSE_KEY_FILE needs SNO_CLICKHOUSE_CERT_FILE")
        if cert:
            options["client_cert"] = cert
        if key:
            options["client_cert_key"] = key
    return options

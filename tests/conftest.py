"""Fixtures with real components: the bundled broker on a free port and embedded ClickHouse stores.

One fixture per side effect: `broker` (a process), `store_path` (a folder), `run_sno` (a CLI process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sno.runtime.broker import LocalBroker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """Bootstrap address of a real Kafka-compatible broker (Tansu) shared by the session."""
    with LocalBroker() as local:
        yield local.bootstrap


@pytest.fixture
def fresh_broker() -> Iterator[LocalBroker]:
    """A broker of the test's own, for tests that need empty topics."""
    with LocalBroker() as local:
        yield local


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """An empty folder for an embedded ClickHouse store."""
    path = tmp_path / "store"
    path.mkdir()
    return path


def sno_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNO_")}
    env.update(extra)
    return env


@pytest.fixture
def run_sno(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the `sno` command in a subprocess (as users do) and return the completed process."""

    def run(*args: str, timeout: float = 120, input: bytes | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "sno.cli", *args], cwd=tmp_path, capture_output=True,
            timeout=timeout, input=input, env=env or sno_env(),
        )

    return run

"""Locked installs: requirements.lock and requirements-dev.lock pin every package with its hashes, agree
with pyproject.toml's ranges, and are what `make test`, `make demo`, CI and the image install."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"runtime": ROOT / "requirements.lock", "dev": ROOT / "requirements-dev.lock"}
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def parse(lock: Path) -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes)."""
    entries: dict[str, tuple[str, str | None, int]] = {}
    current = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            assert current not in entries, f"{lock.name}: {current} twice"
            entries[current] = (match.group(2), match.group(3), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, marker, hashes = entries[current]
            assert re.fullmatch(r"\s*--hash=sha256:[0-9a-f]{64}\s*\\?", line), line
            entries[current] = (version, marker, hashes + 1)
    return entries


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_every_locked_package_is_pinned_exactly_with_at_least_one_hash(kind: str) -> None:
    entries = parse(LOCKS[kind])
    assert len(entries) > 40
    assert all(hashes >= 1 for _, _, hashes in entries.values()), [n for n, e in entries.items() if not e[2]]
    # The build backend is locked too: `pip install --no-build-isolation` fetches nothing unhashed.
    assert {"setuptools", "wheel"} <= set(entries)


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_the_locks_pin_versions_within_the_ranges_of_pyproject(kind: str) -> None:
    entries = parse(LOCKS[kind])
    wanted = list(_project()["dependencies"])
    if kind == "dev":
        wanted += _project()["optional-dependencies"]["dev"]
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{kind} lock lacks {name}"
        assert requirement.specifier.contains(entries[name][0], prereleases=True), (text, entries[name][0])


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = parse(LOCKS["runtime"]), parse(LOCKS["dev"])
    for name, (version, _, _) in runtime.items():
        assert dev[name][0] == version, f"{name}: {version} at run time, {dev[name][0]} in the tests"


def test_this_environment_is_exactly_the_dev_lock() -> None:
    """What the tests run on is what the lock says (make installs it with --require-hashes)."""
    locked = parse(LOCKS["dev"])
    for name, (version, marker, _) in locked.items():
        if marker and not Requirement(f"x; {marker}").marker.evaluate():  # type: ignore[union-attr]
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} {version} is locked but not installed")
        assert installed == version, f"{name}: {installed} installed, {version} locked"


def test_make_ci_and_the_image_install_from_the_locks_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): pyproject.toml requirements-dev.lock$", makefile, re.MULTILINE)
    assert "pip install --quiet --require-hashes --no-deps -r requirements-dev.lock" in makefile
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.MULTILINE)
    assert re.search(r"^demo: \$\(STAMP\)", makefile, re.MULTILINE)
    assert re.search(r"^lock:", makefile, re.MULTILINE) and "--generate-hashes" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/audit" in (ROOT / ".ci" / "run").read_text()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "!requirements.lock" in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text()

"""The SNO core stays pure: importing any module of sno.core loads no Kafka or ClickHouse client."""

from __future__ import annotations

import subprocess
import sys
import textwrap

FORBIDDEN = ("faust", "aiokafka", "kafka", "clickhouse_connect", "chdb")


def test_importing_every_core_module_loads_no_streaming_or_database_package() -> None:
    """The stream and the report share sno.core, so it must import in a process without a broker."""
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import sno.core
        names = ["sno.core"] + [m.name for m in pkgutil.walk_packages(sno.core.__path__, "sno.core.")]
        for name in names:
            importlib.import_module(name)
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({FORBIDDEN!r}))
        print(len(names), ",".join(loaded))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    imported, loaded = (
        result.stdout.strip().split(" ", 1) if " " in result.stdout.strip() else (result.stdout.strip(), "")
    )
    assert int(imported) >= 12, result.stdout
    assert loaded == "", f"sno.core loaded {loaded}"

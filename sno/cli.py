"""The `sno` command.

Each sub-command lives in its own module under `sno.commands` and is imported only when it is
run, so `sno schema` does not pay for importing Faust and `sno report` does not start a broker.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

#: sub-command name -> module under sno.commands that defines a click command called `command`.
COMMANDS: dict[str, str] = {
    "broker": "broker",
    "worker": "worker",
    "ingest": "ingest",
    "replay": "replay",
    "report": "report",
    "simulate": "simulate",
    "demo": "demo",
    "schema": "schema",
    "alerts": "alerts",
    "bench": "bench",
    "store": "store",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, mod in COMMANDS.items() if _module_exists(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None or not _module_exists(module_name):
            return None
        module = importlib.import_module(f"sno.commands.{module_name}")
        return module.command


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"sno.commands.{name}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sno-kpi")
def main() -> None:
    """Measure DigiD, DigiD Machtigen and MijnOverheid against their SNO."""


if __name__ == "__main__":
    main()

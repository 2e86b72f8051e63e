"""How an ingest (or replay) run ends early, and how far it got: the errors whose one-line message the user
sees, and the `Progress` that says where to resume (`--from-line`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["STDIN", "BrokerUnavailableError", "IngestError", "Interrupted", "Progress", "SourceError"]

#: The file name that means standard input.
STDIN: Final = "-"


class IngestError(Exception):
    """A failure that ends an ingest run; its message is one line for the user.

    `progress`, when the run had begun, says how far it got: every line before `progress.file` line
    `progress.line` was published (acknowledged by the broker), so the run can resume there.
    """

    def __init__(self, message: str, progress: Progress | None = None) -> None:
        super().__init__(message)
        self.progress = progress

    def __str__(self) -> str:
        text = super().__str__()
        return text if self.progress is None else f"{text}; {self.progress.describe()}"


class BrokerUnavailableError(IngestError):
    """The broker could not be reached, or stopped acknowledging what was sent."""


class SourceError(IngestError):
    """An input file could not be opened or read to its end."""


class Interrupted(IngestError):
    """The run was interrupted (Ctrl-C, SIGTERM) before every line was published."""


@dataclass(frozen=True)
class Progress:
    """How far a run got: `published` lines (blank ones included) were acknowledged by the broker, and
    `line` of `file` is the first that may not have been; `files` are that file and those after it.
    `file` is None when every line was published."""

    published: int
    file: str | None
    line: int | None
    files: tuple[str, ...] = ()
    #: what "published" means here: to the broker (ingest) or into the store (replay)
    verb: str = "published"
    command: str = "sno ingest"

    def describe(self) -> str:
        if self.file is None:
            return f"all {self.published:,} lines were {self.verb}"
        where = "standard input" if self.file == STDIN else self.file
        resume = " ".join([self.command, *(_quote(f) for f in self.files), "--from-line", str(self.line)])
        return (
            f"{self.published:,} lines were {self.verb}; the first line not {self.verb} is line "
            f"{self.line:,} of {where} (resume with: {resume})"
        )


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


"""The input files of one run, the one reader of `sno ingest` and `sno replay`: opened (plain, gzip or
standard input), split into lines in 1 MiB blocks read one block ahead of the validation in a worker
thread, and the position every line has in the run, from which `Progress` (the resume point) follows."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Final

from tqdm import tqdm

from schemas.deadletter import DeadLetter
from schemas.validate import MAX_LINE_BYTES
from sno.ingest.errors import STDIN, BrokerUnavailableError, IngestError, Interrupted, Progress, SourceError
from sno.ingest.lines import IngestSummary, publish_lines
from sno.ingest.publisher import DEFAULT_LINGER_MS, BatchPublisher, describe

__all__ = ["LineChunk", "LineReader", "Sources", "open_source"]

#: Bytes read from a file at a time.
READ_BLOCK: Final = 1024 * 1024


@dataclass(slots=True)
class LineChunk:
    """Lines of one read block. `oversize` maps the index of a line that was too long to its full size
    (the line itself is then only its first `MAX_LINE_BYTES + 1` bytes). `caught_up` is true when the
    source had no more data at hand, so that partly filled batches should go out now."""

    lines: list[bytes]
    oversize: dict[int, int]
    caught_up: bool


class LineReader:
    """Splits a binary stream into lines in large blocks, never holding more than about 1 MiB of one
    line: the rest of an over-long line is counted and dropped, since it will be rejected anyway."""

    def __init__(self, stream: IO[bytes], *, block: int = READ_BLOCK, max_line: int = MAX_LINE_BYTES) -> None:
        self._stream = stream
        self._block = block
        self._max = max_line
        self._carry = b""
        self._skipping = False  # inside an over-long line, dropping bytes until its end
        self._skip_size = 0
        self._eof = False
        read1 = getattr(stream, "read1", None)
        self._read = read1 if callable(read1) else stream.read

    def read_chunk(self) -> LineChunk | None:
        """The next block's complete lines, or None after the last line."""
        if self._eof:
            return None
        data = self._read(self._block)
        if not data:
            self._eof = True
            lines: list[bytes] = []
            oversize: dict[int, int] = {}
            if self._skipping:
                oversize[0] = self._skip_size
                lines.append(self._carry)
            elif self._carry:
                lines.append(self._carry[:-1] if self._carry.endswith(b"\r") else self._carry)
            self._carry = b""
            return LineChunk(lines, oversize, True) if lines else None
        caught_up = len(data) < self._block
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                self._skip_size += len(data)
                return LineChunk([], {}, caught_up)
            self._skip_size += end
            lines, oversize = [self._carry], {0: self._skip_size}
            self._skipping = False
            self._carry = b""
            data = data[end + 1 :]
        else:
            lines, oversize = [], {}
        buffer = self._carry + data if self._carry else data
        parts = buffer.split(b"\n")
        self._carry = parts.pop()
        if b"\r" in buffer:
            parts = [p[:-1] if p.endswith(b"\r") else p for p in parts]
        base = len(lines)
        lines.extend(parts)
        for index, line in enumerate(parts):
            if len(line) > self._max:
                oversize[base + index] = len(line)
                lines[base + index] = line[: self._max + 1]
        if len(self._carry) > self._max:
            self._skipping = True
            self._skip_size = len(self._carry)
            self._carry = self._carry[: self._max + 1]
        return LineChunk(lines, oversize, caught_up)



def open_source(path: str) -> IO[bytes]:
    """Open a JSON Lines file for reading: plain, gzip (`.gz`), or standard input (`-`)."""
    if path == STDIN:
        return sys.stdin.buffer
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")  # the caller closes it
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc



#: What reading a file can raise: the OS, gzip (a truncated member is EOFError, bad data BadGzipFile,
#: an OSError, or zlib.error), and a stream closed under the reader (ValueError).
_READ_ERRORS: Final = (OSError, EOFError, zlib.error, ValueError)


class Sources:
    """The input files of one run, read in blocks one block ahead of validation in a worker thread:
    the one reader of `sno ingest` and `sno replay`.

    Every file is opened at once, so a typo fails before anything is sent. `from_line` skips the lines
    before it in the first file (a resumed run; line numbers stay those of the file). `publish` may be
    called again after it stopped at `limit` lines, also from another event loop (`sno replay` runs one
    per chunk): a block read ahead is kept for the next call. `progress` says how far the run got.
    """

    def __init__(self, paths: Sequence[str], *, from_line: int = 1) -> None:
        if from_line < 1:
            raise IngestError("--from-line counts from 1")
        self.paths = list(paths)
        self.streams: list[tuple[str, IO[bytes]]] = []
        try:
            for path in self.paths:
                self.streams.append((path, open_source(path)))
        except BaseException:
            self.close()
            raise
        self.index = 0
        self.reader = LineReader(self.streams[0][1]) if self.streams else None
        self.next_line = 1
        #: lines handed to the publisher, and lines of earlier calls or files, across the whole run
        self.position = 0
        self._skip = from_line - 1
        self._starts: list[tuple[int, int]] = [(0, from_line)]  # per file: (position, line) of its start
        self._ahead: LineChunk | BaseException | None = None

    async def publish(
        self,
        publisher: BatchPublisher,
        summary: IngestSummary,
        *,
        limit: int | None = None,
        bar: tqdm[Any] | None = None,
        linger_ms: int = DEFAULT_LINGER_MS,
        on_deadletter: Callable[[DeadLetter], None] | None = None,
        publish_deadletters: bool = True,
    ) -> bool:
        """Publish up to about `limit` lines (all without one) and wait until the broker acknowledged
        them; True when there is more to read.

        On a read or broker failure, raises `SourceError` / `BrokerUnavailableError` carrying the
        `progress` (what was read before a read failure is published first, when the broker allows).
        """
        loop = asyncio.get_running_loop()
        sent = 0
        last_flush = time.monotonic()
        pending: asyncio.Future[LineChunk | None] | None = None
        try:
            while self.reader is not None and (limit is None or sent < limit):
                if pending is None:
                    pending = self._read(loop)
                try:
                    chunk = await pending
                except _READ_ERRORS as exc:
                    pending = None
                    await self._fail_reading(publisher, exc)
                pending = None
                if chunk is None:
                    self._next_file()
                    continue
                if self.reader is not None and (limit is None or sent + len(chunk.lines) < limit):
                    pending = self._read(loop)  # one block ahead while this one is validated
                chunk = self._skipped(chunk)
                path = self.streams[self.index][0]
                publish_lines(
                    chunk.lines, self.next_line, path, publisher, summary, chunk.oversize,
                    position=self.position, on_deadletter=on_deadletter,
                    publish_deadletters=publish_deadletters,
                )
                self.next_line += len(chunk.lines)
                self.position += len(chunk.lines)
                sent += len(chunk.lines)
                await publisher.submit_ready()
                now = time.monotonic()
                if chunk.caught_up or (now - last_flush) * 1000 >= linger_ms:
                    await publisher.flush()
                    last_flush = now
                if bar is not None:
                    bar.update(len(chunk.lines))
            await publisher.drain()
        except BrokerUnavailableError as exc:
            raise BrokerUnavailableError(exc.args[0], self.progress(publisher)) from exc.__cause__
        except asyncio.CancelledError:
            raise Interrupted("interrupted", self.progress(publisher)) from None
        finally:
            if pending is not None:
                # Keep what was read ahead for the next call: its future belongs to this event loop.
                try:
                    self._ahead = await pending
                except BaseException as exc:
                    self._ahead = exc
        return self.reader is not None

    def _read(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[LineChunk | None]:
        ahead, self._ahead = self._ahead, None
        future: asyncio.Future[LineChunk | None] = loop.create_future()
        if isinstance(ahead, BaseException):
            future.set_exception(ahead)
        elif ahead is not None:
            future.set_result(ahead)
        else:
            assert self.reader is not None
            return loop.run_in_executor(None, self.reader.read_chunk)
        return future

    def _skipped(self, chunk: LineChunk) -> LineChunk:
        """Drop the lines before `from_line` (of the first file), counting them as already done."""
        if not self._skip:
            return chunk
        drop = min(self._skip, len(chunk.lines))
        self._skip -= drop
        self.next_line += drop
        oversize = {i - drop: size for i, size in chunk.oversize.items() if i >= drop}
        return LineChunk(chunk.lines[drop:], oversize, chunk.caught_up)

    async def _fail_reading(self, publisher: BatchPublisher, exc: BaseException) -> None:
        path = self.streams[self.index][0]
        message = f"cannot read {path}: {describe(exc)}"
        try:
            await publisher.drain()  # what was read before the failure is good: publish it
        except BrokerUnavailableError as broker:
            progress = self.progress(publisher)
            raise BrokerUnavailableError(f"{message}, and {broker.args[0]}", progress) from exc
        raise SourceError(message, self.progress(publisher)) from exc

    def progress(self, publisher: BatchPublisher | None = None, *, at: int | None = None,
                 verb: str = "published", command: str = "sno ingest") -> Progress:
        """How far the run got: every line before the first one the broker may not have (or, without a
        publisher, before the next one to read; or before position `at`). `published` counts this
        run's lines only (not those skipped by `from_line`)."""
        if at is not None:
            first = at
        else:
            first = self.position if publisher is None else publisher.unpublished_from(self.position)
        # The file holding position `first`: the last one that starts at or before it (an empty file
        # starts where the next one does).
        index = max(i for i, (start, _) in enumerate(self._starts) if start <= first)
        if index >= len(self.paths):
            return Progress(first, None, None, (), verb, command)
        start, line = self._starts[index]
        return Progress(first, self.paths[index], line + first - start, tuple(self.paths[index:]), verb,
                        command)

    def _next_file(self) -> None:
        self.index += 1
        self.next_line = 1
        self._skip = 0
        self._starts.append((self.position, 1))
        self.reader = LineReader(self.streams[self.index][1]) if self.index < len(self.streams) else None

    def close(self) -> None:
        for path, stream in self.streams:
            if path != STDIN:
                with contextlib.suppress(OSError):
                    stream.close()


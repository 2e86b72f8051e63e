"""Child processes that die with their parent, however the parent dies (SIGKILL included).

A worker killed with SIGKILL runs no clean-up code, so nothing the worker does can stop its children:
each child must arrange its own death, in itself, before it does anything else. Linux offers exactly
that: `prctl(PR_SET_PDEATHSIG, sig)` makes the kernel send `sig` to the process when its parent dies.
Two details make it exact:

- The signal is armed in the child, so a parent that dies *before* it is armed is missed. The child
  therefore checks, right after arming, that its parent is still the process that started it
  (`os.getppid()`); if not, it exits at once.
- The kernel's "parent" is the *thread* that forked the child: a child started from a thread that
  later ends gets the signal then, while the parent process lives on. Children that must outlive such
  threads are started from the main thread (the worker starts its fold and engine processes there).

`preexec` arms a child of `subprocess.Popen` between fork and exec, so the new program (the Tansu
broker, `sno worker` started by `sno replay`) is covered from its first instruction. `install` does
the same for every process `multiprocessing` starts (its "spawn" processes and its resource tracker,
which it starts through `multiprocessing.util.spawnv_passfds`). The resource tracker is treated apart:
killing it outright would skip its one duty, unlinking the named semaphores of a dead worker from
/dev/shm. It is armed with SIGUSR1 instead, and on that signal waits up to `TRACKER_GRACE` seconds for
the end of its pipe (which comes once the worker's other children, killed alongside, are gone), then
cleans up and exits either way.

Elsewhere than Linux nothing is armed (`arm` returns False) and callers fall back to polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final

#: prctl(2) option: the signal a process gets when its parent dies
PR_SET_PDEATHSIG: Final = 1
#: seconds the resource tracker waits for its pipe to close after the worker died
TRACKER_GRACE: Final = 2.0
#: how `multiprocessing` starts its resource tracker (Python 3.11 and 3.12)
_TRACKER_COMMAND: Final = "from multiprocessing.resource_tracker import main;main("

_prctl: Any = None
_installed = False
#: every Popen of `_spawnv_passfds`, kept so that none is ever collected: its finaliser would reap the
#: child, and `multiprocessing`, which waits for that pid itself, would then wait forever
_spawned: list[subprocess.Popen[bytes]] = []


def _libc_prctl() -> Any:
    global _prctl
    if _prctl is None:
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl


def arm(parent: int, sig: int = signal.SIGKILL, on_orphan: Callable[[], None] | None = None) -> bool:
    """In a child, first thing: get `sig` when the parent dies, and make sure `parent` (the pid of the
    process that started it) has not died already; if it has, `on_orphan()` (default: exit at once).

    Returns whether the kernel armed the signal (False elsewhere than Linux).
    """
    prctl = _libc_prctl()
    armed = False
    if prctl and sys.platform.startswith("linux"):
        armed = prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    if os.getppid() != parent:
        if on_orphan is None:
            os._exit(1)
        on_orphan()
    return armed


def arm_or_watch(parent: int) -> None:
    """`arm`, or where the kernel cannot, a thread that polls the parent (exits within 0.5 s)."""
    if arm(parent):
        return

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def preexec(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child dies with the process (thread) creating it.

    Everything is looked up here, in the parent; between fork and exec the child only calls prctl,
    getppid and _exit (no allocation, no lock).
    """
    parent = os.getpid()
    prctl = _libc_prctl() if sys.platform.startswith("linux") else None
    number = int(sig)
    getppid, exit_ = os.getppid, os._exit

    def arm_child() -> None:
        if prctl:
            prctl(PR_SET_PDEATHSIG, number, 0, 0, 0)
        if getppid() != parent:
            exit_(1)

    return arm_child


def install() -> None:
    """Make every process `multiprocessing` starts from now on die with its parent (idempotent).

    Call it on the main thread before the first child is started: that also starts the resource
    tracker there, so that its parent-death signal follows the main thread, not a passing one.
    """
    global _installed
    if _installed:
        return
    import multiprocessing.resource_tracker
    import multiprocessing.util

    multiprocessing.util.spawnv_passfds = _spawnv_passfds  # type: ignore[assignment]
    _installed = True
    if threading.current_thread() is threading.main_thread():
        multiprocessing.resource_tracker.ensure_running()


def _spawnv_passfds(path: str, args: Sequence[str], passfds: Sequence[int]) -> int:
    """`multiprocessing.util.spawnv_passfds` with the child armed between fork and exec."""
    args = list(args)
    sig = signal.SIGKILL
    if len(args) >= 2 and args[-2] == "-c" and args[-1].startswith(_TRACKER_COMMAND):
        fd = int(args[-1][len(_TRACKER_COMMAND) :].rstrip(")"))
        args[-1] = f"from sno.runtime.children import tracker_main;tracker_main({fd}, {os.getpid()})"
        sig = signal.SIGUSR1
    process = subprocess.Popen(
        args, executable=path, pass_fds=tuple(sorted(map(int, passfds))), close_fds=True,
        restore_signals=False, preexec_fn=preexec(sig),
    )
    _spawned.append(process)
    return process.pid


def tracker_main(fd: int, parent: int) -> None:
    """multiprocessing's resource tracker, ending (and cleaning up) when the worker that started it dies."""

    def leave(*_: object) -> None:
        raise SystemExit(0)  # inside the tracker's read loop: its `finally` unlinks what is left

    def orphaned(*_: object) -> None:
        # A dead worker's semaphores are expected (crash-only), and the tracker's warning about them
        # would come after the worker's last line on the shared stderr, which must say why it ended.
        warnings.filterwarnings("ignore", message="resource_tracker:", category=UserWarning)
        signal.signal(signal.SIGALRM, leave)
        signal.setitimer(signal.ITIMER_REAL, TRACKER_GRACE)

    signal.signal(signal.SIGUSR1, orphaned)
    arm(parent, signal.SIGUSR1, on_orphan=orphaned)
    from multiprocessing.resource_tracker import main

    with contextlib.suppress(SystemExit):
        main(fd)

"""Ending worker processes now, not when they are done (Ctrl-C, a failed build).

``ProcessPoolExecutor.shutdown`` waits for the items its workers are running,
and its ``with`` block does so on every exception, KeyboardInterrupt included:
a coverage band or a layer can take minutes. A Ctrl-C in a terminal also
signals every worker (the whole process group), which would raise
KeyboardInterrupt inside the item, print a traceback from each worker, and
leave the pool half broken (python/cpython#125886). So workers ignore SIGINT
(:func:`ignore_sigint`: the parent decides), and the parent ends its pool by
the workers' PIDs (:func:`end_pool`): pending items cancelled, then SIGTERM,
then SIGKILL after a short grace.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

#: seconds a worker has between SIGTERM and SIGKILL
GRACE = 0.3


def ignore_sigint() -> None:
    """Pool initializer: a Ctrl-C reaches the parent, which ends the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def end_pool(pool: ProcessPoolExecutor, grace: float = GRACE) -> None:
    """Cancel what waits in ``pool`` and end its workers now, without waiting for them."""
    # The PIDs first: shutdown forgets the processes it hands to its manager thread.
    pids = list(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    end_processes(pids, grace)


def end_processes(pids: Iterable[int], grace: float = GRACE) -> list[int]:
    """SIGTERM each process, SIGKILL those still running after ``grace`` seconds.

    Returns
    -------
    The PIDs that were signalled (those that had not already ended).
    """
    signalled = []
    for pid in pids:
        # a process that ignores SIGTERM (multiprocessing's resource tracker) gets SIGKILL
        sig = signal.SIGKILL if _ignores_sigterm(pid) else signal.SIGTERM
        if _send(pid, sig):
            signalled.append(pid)
    deadline = time.monotonic() + grace
    left = [p for p in signalled if running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [p for p in left if running(p)]
    for pid in left:
        _send(pid, signal.SIGKILL)
    return signalled


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (children first), from ``/proc``; [] where there is none."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None:
            parents.setdefault(int(stat[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(0), [])
        found += children
        todo += children
    return found


def _stat(pid: int) -> list[str] | None:
    """``[state, ppid]`` of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    return text.rsplit(")", 1)[1].split()[:2]


def _ignores_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigIgn:"):
                    return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended; its parent reaps it)."""
    stat = _stat(pid)
    if stat is not None:
        return stat[0] not in ("Z", "X")
    if os.path.isdir("/proc"):
        return False
    try:  # no /proc: ask the kernel (which cannot tell a zombie)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _send(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True

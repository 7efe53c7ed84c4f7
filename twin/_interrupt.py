"""Ctrl-C in the ``twin`` command: one line, exit code 130 within 2 s, no process left.

The command installs :func:`install` first thing (before its heavy imports).
The first SIGINT raises KeyboardInterrupt in the main thread as usual, so
``finally`` blocks end the pools (:mod:`twin._executors`) and remove temporary
directories; later ones are ignored, so that this unwinding is not itself
interrupted. :func:`finish` then ends every process this one started, reaps
them, and says what was published (a build publishes layer by layer, each
with an atomic catalog swap, so some layers may be).

Two things could still keep the command from exiting: a main thread inside
a long C call (GDAL writing a COG, a numpy step) does not run Python's signal
handler until the call returns, and interpreter exit joins the pools' manager
threads. So the signal also wakes a watchdog thread through
:func:`signal.set_wakeup_fd` (written by the C-level handler, whatever the
main thread does): :data:`DEADLINE` seconds later it ends the processes, says
the line if it was not said yet, and leaves with :func:`os._exit`.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

#: the exit code of a command ended by Ctrl-C (128 + SIGINT), as shells report it
EXIT_CODE = 130
#: seconds after the signal by which the watchdog ends the command if it has not ended
DEADLINE = 0.8
#: seconds the watchdog waits for the main thread already ending the processes
FINISHING = 4.0
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


class _State:
    installed = False
    pid = 0
    interrupted = False
    catalog: Path | None = None
    #: layer -> version published when the command began; None: no catalog
    before: dict[str, str] | None = None
    said = False
    lock = threading.Lock()


_state = _State()


def install() -> None:
    """Handle SIGINT in this process as the ``twin`` command does (main thread only)."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        return
    _state.installed = True
    _state.pid = os.getpid()
    os.register_at_fork(after_in_child=_forget)
    _adopt_orphans()
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _unraisable
    threading.Thread(target=_watchdog, args=(read,), name="twin-interrupt", daemon=True).start()


def interrupted() -> bool:
    """Whether Ctrl-C was pressed since :func:`install`."""
    return _state.interrupted


def watch_catalog(path: Path) -> None:
    """Say, if interrupted, which layers of the catalog at ``path`` this command published."""
    _state.catalog = path
    _state.before = _published(path)


def finish() -> None:
    """End every process this one started, reap them, and say the one line (once)."""
    with _state.lock:
        _finish_locked()


def _finish_locked() -> None:
    if _state.said or os.getpid() != _state.pid:  # said, or a forked child: not its to say
        return
    tracker = _resource_tracker()
    end_descendants(keep={tracker} if tracker else set())
    os.write(2, f"{message()}\n".encode())
    _state.said = True
    if tracker:
        # Last: ended earlier, a pool's queue finalizer in another thread relaunches it
        # with a warning. Its semaphore names stay in /dev/shm, as after a kill -9.
        with suppress(OSError):
            os.kill(tracker, signal.SIGKILL)
            os.waitpid(tracker, 0)


def _resource_tracker() -> int | None:
    """multiprocessing's resource tracker process, if this process started one."""
    tracker = sys.modules.get("multiprocessing.resource_tracker")
    pid = getattr(getattr(tracker, "_resource_tracker", None), "_pid", None)
    return pid if isinstance(pid, int) else None


def leave() -> None:
    """:func:`finish`, then exit with :data:`EXIT_CODE` at once.

    Everything this process started has ended and its ``finally`` blocks have
    run; interpreter exit would only join the pools' threads and tear down
    GDAL and numpy (half a second), or hang on a thread that will not end.
    """
    finish()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(EXIT_CODE)


def message() -> str:
    """What an interrupted command leaves: published layers, if any, and the catalog."""
    before = _state.before
    after = _published(_state.catalog) if _state.catalog is not None else before
    changed = sorted(n for n, v in (after or {}).items() if (before or {}).get(n) != v)
    if changed:
        return (
            f"twin: interrupted: published {', '.join(changed)}; "
            "the rest not published, the previous catalog stands for them"
        )
    if _state.catalog is not None and before is None:
        return "twin: interrupted: nothing published"
    return "twin: interrupted: nothing published, the previous catalog stands"


def end_descendants(grace: float | None = None, keep: set[int] | None = None) -> list[int]:
    """End every process under this one but ``keep`` (SIGTERM, SIGKILL later) and reap them.

    Returns
    -------
    The PIDs that were still running.
    """
    # Looked up, not imported: the watchdog thread must not wait on the import lock the
    # main thread may hold. Every pool is started by twin._executors (layers and tiles
    # start none): before its import, nothing was started.
    pools = sys.modules.get("twin._executors")
    if pools is None:
        return []
    grace = pools.GRACE if grace is None else grace
    me = os.getpid()
    keep = keep or set()
    ended = pools.end_processes([p for p in pools.descendants(me) if p not in keep], grace)
    # Again until none is left: a process may have been started meanwhile, and the
    # workers of an ended worker are adopted here (see _adopt_orphans) to be reaped.
    deadline = time.monotonic() + grace
    while True:
        for pid in pools.descendants(me):
            if pid not in keep:
                with suppress(ChildProcessError):  # not ours (yet): its parent reaps it
                    os.waitpid(pid, os.WNOHANG)
        left = [p for p in pools.descendants(me) if p not in keep]
        if not left or time.monotonic() > deadline:
            return ended
        ended += pools.end_processes([p for p in left if pools.running(p)], 0.0)
        time.sleep(0.005)


def _forget() -> None:
    """In a forked child (a builder's worker): Ctrl-C is the command's to handle."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _state.installed = False


def _on_sigint(signum: int, frame: object) -> None:
    if _state.interrupted:
        return  # already unwinding: let the finally blocks run
    _state.interrupted = True
    raise KeyboardInterrupt


def _unraisable(unraisable: Any) -> None:
    """Keep quiet about a Ctrl-C that Python could not raise where it landed.

    A signal that arrives while Python runs a callback whose exceptions go nowhere
    (a weakref callback inside importlib) makes Python print "Exception ignored
    in ..." with a traceback; the watchdog still ends the command within
    :data:`DEADLINE` and says the one line, so that traceback is noise.
    """
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _state.interrupted:
        return
    sys.__unraisablehook__(unraisable)


def _watchdog(read: int) -> None:
    while True:
        data = os.read(read, 64)
        if not data:
            return
        if signal.SIGINT in data:
            break
    time.sleep(DEADLINE)
    # The main thread may be ending the processes and saying the line (under a second,
    # more on a loaded machine): leaving in the middle would orphan what it has not
    # reaped yet, so wait for it (its steps are bounded); else do it from here.
    if _state.lock.acquire(timeout=FINISHING):
        _finish_locked()
    os._exit(EXIT_CODE)


def _published(path: Path | None) -> dict[str, str] | None:
    """Layer -> version of the catalog at ``path`` (extras left out); None if there is none."""
    if path is None:
        return None
    try:
        layers = json.loads(path.read_bytes()).get("layers", {})
    except (OSError, ValueError):
        return None
    return {n: e.get("version", "") for n, e in layers.items() if not e.get("parent")}


def _adopt_orphans() -> None:
    """Make this process the one orphaned descendants are reparented to (Linux).

    A worker forked by a worker (the coverage builder's, under a layer pool)
    outlives its ended parent for a moment; adopted here, :func:`end_descendants`
    still finds, ends and reaps it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        return

"""Where processes run: every pool this package starts, and how they are ended.

Layer jobs
    A build picks one executor for its whole graph (:func:`open_executor`):
    this process, a forkserver pool, or a Dask cluster. The parent process
    alone publishes, whatever runs the jobs. Every executor is a
    :class:`concurrent.futures.Executor` (Dask's through
    :meth:`distributed.Client.get_executor`), so the graph runner waits on
    plain futures. A Dask cluster must see the workspace's build directory at
    the same path as the parent (the same machine, or a shared file system
    mounted alike): a job writes its layer into ``build/<layer>/.tmp-...`` and
    the parent renames it.
Work inside a job
    ``layers`` and ``tiles`` start no process: they take a ``submit`` or
    ``map`` from their caller. :func:`forked_pool` makes one (the coverage
    model's band sums, the tiles of an export). Its workers are forked at its
    first submit, so they inherit, copy-on-write, what the callee set up just
    before (the coverage model with its DEM, the layer being tiled) instead of
    having it pickled to them.

Every worker ignores SIGINT (:func:`ignore_sigint`: the parent decides), and
on Ctrl-C or an error a pool's workers are ended by PID without waiting for
what they run (:func:`end_pool`): ``shutdown`` would wait for items that can
take minutes, and a Ctrl-C signalling the whole process group would raise
KeyboardInterrupt inside each item, print a traceback from each worker and
leave the pool half broken (python/cpython#125886). The CLI then ends
whatever else this process started (:mod:`twin._interrupt`, through
:func:`descendants` and :func:`end_processes`): the forkserver, a local Dask
cluster's processes, workers a job forked. A build killed with SIGKILL can do
none of that, so the kernel ends what it started (``PR_SET_PDEATHSIG``): forked
workers die with their parent, the forkserver with the build
(:mod:`twin._forkserver`), and its layer workers with the forkserver.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from twin.errors import TwinError
from twin.gdal_env import allow_vrt

#: the environment variable naming the scheduler when ``--scheduler`` is not given
SCHEDULER_ENV = "TWIN_SCHEDULER"
LOCAL_PREFIX = "local:"
#: seconds a worker has between SIGTERM and SIGKILL
GRACE = 0.3
#: the PID of the process starting the forkserver, for it to die with (twin._forkserver)
FORKSERVER_PARENT_ENV = "TWIN_FORKSERVER_PARENT"


@dataclass
class Running:
    """An open executor and, for Dask, the scheduler address jobs may connect back to."""

    pool: Executor | None
    scheduler: str | None = None


def resolve_scheduler(scheduler: str | None) -> str | None:
    """``scheduler``, else ``$TWIN_SCHEDULER``, else None; checks ``local:N``."""
    value = scheduler if scheduler else os.environ.get(SCHEDULER_ENV) or None
    if value is not None and value.startswith(LOCAL_PREFIX):
        n = value.removeprefix(LOCAL_PREFIX)
        if not n.isdigit() or int(n) < 1:
            raise TwinError(f"scheduler {value!r}: expected local:N with N ≥ 1 worker processes")
    return value


def _dask_client(scheduler: str) -> tuple[Any, Any]:
    """A connected client and, for ``local:N``, the cluster this build owns."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise TwinError(
            f"scheduler {scheduler!r}: needs dask.distributed (pip install 'onemap-twin[dask]')"
        ) from None
    cluster = None
    if scheduler.startswith(LOCAL_PREFIX):
        # Worker processes start GDAL afresh from this environment (see twin.gdal_env).
        allow_vrt()
        cluster = LocalCluster(
            n_workers=int(scheduler.removeprefix(LOCAL_PREFIX)),
            threads_per_worker=1,
            processes=True,
            # no dashboard; the scheduler's small HTTP server (health, metrics) on a free
            # port, so that several clusters on one machine do not clash over 8787
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
        )
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(scheduler, timeout="30s"), None
    except OSError as exc:
        raise TwinError(f"scheduler {scheduler!r}: cannot connect: {exc}") from None


@contextmanager
def open_executor(workers: int, scheduler: str | None = None) -> Iterator[Running]:
    """The executor a build's layer jobs run on, shut down (and a local cluster closed) after.

    On Ctrl-C or an error the pool's workers are ended now (:func:`end_pool`);
    a local cluster's workers too, before the client and cluster close.

    Parameters
    ----------
    workers
        Process-pool size when there is no scheduler (1: run jobs in this process).
    scheduler
        A Dask scheduler address (``tcp://host:8786``) or ``local:N``; None: no Dask.
    """
    if scheduler is not None:
        client, cluster = _dask_client(scheduler)
        pool = client.get_executor(pure=False)
        interrupted = False
        try:
            yield Running(pool, client.scheduler.address)
        except BaseException:
            interrupted = True
            raise
        finally:
            pool.shutdown(wait=False)
            if interrupted and cluster is not None:
                # A graceful close waits on the workers' running tasks; end them first.
                end_processes(_cluster_pids(cluster))
            bounded = {"timeout": 2} if interrupted else {}
            client.close(**bounded)
            if cluster is not None:
                cluster.close(**bounded)
        return
    if workers <= 1:
        yield Running(None)
        return
    # The workers start GDAL afresh from this environment (see twin.gdal_env).
    allow_vrt()
    context = mp.get_context("forkserver")
    server = _start_forkserver()
    process_pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_layer_worker,
        initargs=(server,),
    )
    try:
        yield Running(process_pool)
    except BaseException:
        # Ctrl-C or an error in this process: the running layer jobs are not waited for
        # (their temporary directories are swept by the next build).
        end_pool(process_pool)
        raise
    process_pool.shutdown(wait=True, cancel_futures=True)


def _start_forkserver() -> int | None:
    """Start multiprocessing's forkserver (if not running) with SIGINT blocked from birth;
    its PID.

    The forkserver is a fresh interpreter that imports this command's modules
    (its ``__main__``) before it ignores SIGINT itself: a Ctrl-C signalling the
    process group meanwhile would print its KeyboardInterrupt traceback beside
    the command's one line. Blocked in this thread while it is started, SIGINT
    stays blocked in it (a signal mask is inherited across fork and exec) and in
    the layer workers it forks; this process loses no Ctrl-C: one arriving
    meanwhile is delivered to another of its threads, or once unblocked.
    """
    from multiprocessing import forkserver, resource_tracker

    # it dies with the thread that starts it, its workers with it (twin._forkserver)
    forkserver.set_forkserver_preload(["__main__", "twin._forkserver"])
    os.environ[FORKSERVER_PARENT_ENV] = str(os.getpid())
    try:
        if not hasattr(signal, "pthread_sigmask"):
            forkserver.ensure_running()
        else:
            # First, on its own: starting the resource tracker unblocks SIGINT when done.
            resource_tracker.ensure_running()
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                forkserver.ensure_running()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    finally:
        del os.environ[FORKSERVER_PARENT_ENV]
    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def _cluster_pids(cluster: Any) -> list[int]:
    """The worker processes of a local Dask cluster (its nannies' children)."""
    pids = []
    for worker in getattr(cluster, "workers", {}).values():
        process = getattr(getattr(worker, "process", None), "process", None)
        pid = getattr(process, "pid", None)
        if isinstance(pid, int):
            pids.append(pid)
    return pids


@contextmanager
def dask_client(scheduler: str | None) -> Iterator[Any]:
    """A Dask client for tasks a builder submits itself, or None without a scheduler.

    Inside a Dask worker (a layer job run by :func:`open_executor`) this is
    :func:`distributed.worker_client`, which frees the worker's thread while
    the job waits on its own tasks (a 1-thread worker would otherwise deadlock).
    """
    if scheduler is None:
        yield None
        return
    from distributed import Client, worker_client
    from distributed.worker import get_worker

    try:
        get_worker()
    except ValueError:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with worker_client() as client:
        yield client


# ----------------------------------------------------------------------------- forked pools


def can_fork() -> bool:
    """Whether this process may fork workers (not on spawn-only platforms or in daemons)."""
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


@contextmanager
def forked_pool(
    workers: int, *, keep_freed_memory: bool = False
) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` processes forked from this one; None: work in this process.

    The workers are forked at the pool's first ``submit`` (or ``map``): a
    :class:`~concurrent.futures.ProcessPoolExecutor` with the fork start
    method starts all its processes then, not when it is made. So a callee
    handed ``pool.submit`` or ``pool.map`` may put what its tasks need in
    module state just before its first submit, and the workers inherit it
    copy-on-write, never pickled (:mod:`layers.coverage._sum`,
    :func:`tiles.export.export_vector`).

    Each worker dies with this process, ignores SIGINT and, with
    ``keep_freed_memory``, keeps the memory numpy frees (:func:`_init_forked`).
    Leaving the block normally waits for the pool; on Ctrl-C, an error, or a
    generator closed early, its workers are ended now (:func:`end_pool`).

    Parameters
    ----------
    workers
        Processes; with 1 or fewer, or where this process cannot fork
        (:func:`can_fork`), None is yielded and the caller works serially.
    keep_freed_memory
        For work whose items allocate the same large arrays over and over.
    """
    if workers <= 1 or not can_fork():
        yield None
        return
    with _forked(workers, keep_freed_memory) as pool:
        yield pool


@contextmanager
def forked_process() -> Iterator[ProcessPoolExecutor | None]:
    """One process forked from this one at its first ``submit``, for work this one does
    meanwhile something else (a tile export's layers read while it loads numba,
    :func:`tiles.export.export_vectors`); None where this process cannot fork.

    Its process is as a :func:`forked_pool`'s worker and ended the same ways.
    """
    if not can_fork():
        yield None
        return
    with _forked(1, False) as pool:
        yield pool


@contextmanager
def _forked(workers: int, keep_freed_memory: bool) -> Iterator[ProcessPoolExecutor]:
    pool = ProcessPoolExecutor(
        workers,
        mp_context=mp.get_context("fork"),
        initializer=_init_forked,
        initargs=(os.getpid(), keep_freed_memory),
    )
    with _frozen_heap():
        try:
            yield pool
        except BaseException:
            # a coverage band's sites or a zoom's tiles can take minutes: not waited for
            end_pool(pool)
            raise
        pool.shutdown(wait=True)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive now left out of garbage collection until the block ends.

    As the :func:`gc.freeze` docs advise before forking: the workers' collections
    then never write to these objects' headers, so their pages stay shared
    instead of being copied into each worker, and this process's collections
    meanwhile skip them (after the imports of a tile export, some 170,000: a
    full collection of them cost a twentieth of a second). Objects frozen
    before (by the caller) stay frozen.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # from glibc's <malloc.h>


def _init_forked(parent: int, keep_freed_memory: bool) -> None:
    """Initializer of a forked worker: die with the parent, leave Ctrl-C to it, and
    keep freed memory if asked."""
    _die_with_parent(parent)
    ignore_sigint()
    if keep_freed_memory:
        _keep_freed_memory()


def _die_with_parent(parent: int) -> None:
    """End this worker when the process that forked it ends.

    A build killed with SIGKILL cannot shut its pool down, and forked workers
    share the pool's pipes, so they would wait on each other forever. On Linux
    the kernel sends them SIGKILL when their parent dies (``PR_SET_PDEATHSIG``).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _keep_freed_memory() -> None:
    """Let this worker's allocator keep the memory numpy frees (glibc only).

    Every coverage site allocates the same few dozen arrays of the same sizes,
    a few MB each. glibc serves such blocks with fresh ``mmap`` pages and
    unmaps them on free, so each site paid for page faults and zeroed pages
    again (a tenth of its CPU at 10 m). From the heap, without trimming, the
    next site reuses the pages; the worker's memory stays at its peak until
    the pool ends.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(2**31 - 1))
    except (OSError, AttributeError):  # not glibc: keep its defaults
        return


# ----------------------------------------------------------------------------- ending processes


def init_layer_worker(server: int | None) -> None:
    """Initializer of the forkserver's layer workers: die with the forkserver ``server``
    (which dies with the build, :mod:`twin._forkserver`), leave Ctrl-C to the build."""
    _die_with_parent(server if server is not None else os.getppid())
    ignore_sigint()


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
    # SIGKILL is delivered when the kernel next runs the process: on a loaded machine that
    # can take a moment, and callers count on the workers being gone when this returns.
    deadline = time.monotonic() + 2.0
    while left and time.monotonic() < deadline:
        left = [p for p in left if running(p)]
        if left:
            time.sleep(0.005)
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

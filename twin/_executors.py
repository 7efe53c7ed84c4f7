"""Where layer jobs run: this process, a local process pool, or a Dask cluster.

A build picks one executor for its whole graph (:func:`open_executor`); the
parent process alone publishes, whatever runs the jobs. Every executor is a
:class:`concurrent.futures.Executor` (Dask's through
:meth:`distributed.Client.get_executor`), so the graph runner waits on plain
futures.

A Dask cluster must see the workspace's build directory at the same path as
the parent (the same machine, or a shared file system mounted alike): a job
writes its layer into ``build/<layer>/.tmp-...`` and the parent renames it.

On Ctrl-C (or any error) the pool's workers are ended by PID without waiting
for their jobs (:func:`layers._pools.end_pool`); they ignore SIGINT themselves.
The CLI then ends whatever else this process started (:mod:`twin._interrupt`):
the forkserver, a local Dask cluster's processes, workers a builder forked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from layers._pools import end_pool, end_processes, ignore_sigint
from twin.errors import TwinError
from twin.gdal_env import allow_vrt

#: the environment variable naming the scheduler when ``--scheduler`` is not given
SCHEDULER_ENV = "TWIN_SCHEDULER"
LOCAL_PREFIX = "local:"


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
    process_pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("forkserver"), initializer=ignore_sigint
    )
    try:
        yield Running(process_pool)
    except BaseException:
        # Ctrl-C or an error in this process: the running layer jobs are not waited for
        # (their temporary directories are swept by the next build).
        end_pool(process_pool)
        raise
    process_pool.shutdown(wait=True, cancel_futures=True)


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

"""The dask.distributed client prediction runs on: an existing scheduler (address or scheduler file, e.g. one that
dask-jobqueue started on SLURM) or a LocalCluster sized to this machine."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Callable, Iterator

from ..errors import InputError

CONNECT_TIMEOUT_S = 10
WAIT_S = 2
PAUSED_LIMIT_S = 30  # all workers paused (memory over 80% of their limit) this long without progress: out of memory


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, scheduler_file: str | None = None, workers: int | None = None,
                threads_per_worker: int | None = None, memory_limit: str | None = None,
                processes: bool = True) -> Iterator:
    """A connected distributed.Client; a LocalCluster it started is closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler or scheduler_file:
        if scheduler_file and not Path(scheduler_file).is_file():
            raise InputError(f"scheduler file not found: {scheduler_file}; give the file the dask scheduler wrote "
                             "(dask scheduler --scheduler-file F)")
        target = scheduler or f"file {scheduler_file}"
        try:
            client = Client(scheduler, scheduler_file=scheduler_file, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            raise InputError(f"no dask scheduler answers at {target} within {CONNECT_TIMEOUT_S} s; start one "
                             "(dask scheduler, or a dask-jobqueue cluster) or check the address") from err
        with client:
            yield client
        return
    if memory_limit is not None:
        from dask.utils import parse_bytes

        try:
            parse_bytes(memory_limit)
        except ValueError as err:
            raise InputError(f"--memory-limit {memory_limit!r} is not a size; give e.g. 2GiB or 500MB") from err
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # LocalCluster's start-up chatter; restored below
    try:
        with LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                          memory_limit=memory_limit or "auto", dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            yield client
    finally:
        quiet.setLevel(level)


def wait_tasks(client, futures: list, doing: str, on_result: Callable | None = None) -> list:
    """The results of `futures`, in their order (`on_result` is called with each as it arrives). A worker that died
    (most often out of memory) or every worker paused for PAUSED_LIMIT_S (memory over 80% of its limit) while
    `doing` is one clear InputError; the tasks not finished are cancelled."""
    from distributed import wait
    from distributed.scheduler import KilledWorker

    results, pending, paused_since = {}, set(futures), None
    advice = ("give each worker more (--memory-limit) or fewer threads; the chunks written so far are kept and a "
              "rerun resumes")
    try:
        while pending:
            try:
                done, pending = wait(pending, timeout=WAIT_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for future in done:
                results[future.key] = future.result()
                if on_result is not None:
                    on_result(results[future.key])
            paused_since = None if done or not _all_paused(client) else paused_since or time.monotonic()
            if paused_since is not None and time.monotonic() - paused_since > PAUSED_LIMIT_S:
                raise InputError(f"every dask worker has been paused for {PAUSED_LIMIT_S} s while {doing} because it "
                                 f"uses over 80% of its memory limit (the model alone may need more): {advice}")
    except KilledWorker as err:
        raise InputError(f"a dask worker died while {doing} ({getattr(err, 'task', err)}), most often because it ran "
                         f"out of memory: {advice}") from err
    finally:
        client.cancel(list(pending))
    return [results[future.key] for future in futures]


def _all_paused(client) -> bool:
    workers = client.scheduler_info().get("workers", {})
    return bool(workers) and all(w.get("status") == "paused" for w in workers.values())


def most_worker_threads(client) -> int:
    """The most threads any of the cluster's workers runs tasks on (1 without workers)."""
    return max((w.get("nthreads") or 1 for w in client.scheduler_info().get("workers", {}).values()), default=1)


def smallest_worker_memory(client) -> int | None:
    """The smallest memory limit of the cluster's workers in bytes (None: no worker has one)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info().get("workers", {}).values()]
    return min(limits) if limits and all(limits) else None

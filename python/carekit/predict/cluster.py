"""The dask.distributed client prediction runs on: an existing scheduler (address or scheduler file, e.g. one that
dask-jobqueue started on SLURM) or a LocalCluster sized to this machine."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

from ..errors import InputError

CONNECT_TIMEOUT_S = 10


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

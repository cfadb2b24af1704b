"""A dask worker runs one chunk per thread (--threads-per-worker) and each chunk's network on one thread, so that
workers and their chunks share a machine's cores without oversubscribing them; in-process prediction keeps the
runtime's default (all cores)."""

import os
import subprocess
import sys

import pytest

from carekit.predict.chunks import ModelRef, cached_model
from carekit.predict.cluster import dask_client

from .conftest import HELA_MODEL

COUNT_THREADS = """
import sys
import numpy as np, psutil
from carekit.models import load_model
import onnxruntime
runner = load_model(sys.argv[1], engine="onnx", threads=None if sys.argv[2] == "default" else int(sys.argv[2]))
before = psutil.Process().num_threads()
runner.forward(np.zeros((1, 64, 64, 1), np.float32))
print(psutil.Process().num_threads() - before)
"""


def _threads_added(threads: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT_THREADS, str(HELA_MODEL), threads], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: ONNX Runtime starts no extra thread either way")
def test_onnx_runtime_capped_to_one_thread_starts_no_thread_pool():
    assert _threads_added("1") == 0
    assert _threads_added("default") >= 1  # in-process default unchanged: a pool over the machine's cores


def test_worker_loads_the_model_on_one_thread_per_task_and_lean_only_under_a_tight_memory_limit():
    ref = ModelRef(str(HELA_MODEL.resolve()))
    share = lambda r: (cached_model(r).threads, cached_model(r).lean_memory)  # noqa: E731
    with dask_client(workers=1, threads_per_worker=1, memory_limit="1GiB") as client:
        assert client.submit(share, ref).result() == (1, True)  # 1 GiB per thread: no ONNX Runtime arena
    with dask_client(workers=1, threads_per_worker=1, memory_limit="5GiB") as client:
        assert client.submit(share, ref).result() == (1, False)  # 5 GiB per thread: the faster arena
    with dask_client(workers=1, threads_per_worker=2, memory_limit="6GiB") as client:
        assert client.submit(share, ref).result() == (1, True)  # two chunks at once, one thread each; 3 GiB each
    assert share(ref) == (None, False)  # outside a worker: the runtime's defaults

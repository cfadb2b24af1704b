"""A/B of the dask path's overhead vs in-process `restore`: with and without a per-worker network lock (one
network call at a time per worker process, on all its threads, while its other tasks read and write; installed here
around predict.chunks' restore_stack), alternated, on the HeLa package (ONNX Runtime), 1 worker x 2 threads.

    .venv/bin/python benchmarks/distributed_overhead.py [--rounds 3] [--planes 4] [--size 1024]

Each round times in-process restore, then the dask path with the lock and without it (order alternating between
rounds), the model already loaded everywhere: wall seconds, and CPU seconds of this process and the worker (less
sensitive to other jobs on the cores than wall time; threads that spin while waiting show there). Prints one JSON
line per round and the medians; the load average is recorded, since other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from distributed_benchmark import HELA, _timed_large, _warm, write_results  # noqa: E402
from conftest import nuclei_like, write_ngff  # noqa: E402  (put on the path by distributed_benchmark)

from carekit.ngff import open_source  # noqa: E402
from carekit.predict import load_model, restore  # noqa: E402
from carekit.predict.cluster import dask_client  # noqa: E402


def _set_lock(enabled: bool) -> bool:
    from carekit.predict import chunks, layouts

    lock = threading.Lock()

    def locked(*args, **kwargs):
        with lock:
            return layouts.restore_stack(*args, **kwargs)

    chunks.restore_stack = locked if enabled else layouts.restore_stack
    return enabled


def _cpu_s() -> float:
    return time.process_time()


def _timed_cpu(run, client=None) -> tuple[float, float]:
    """(wall s, CPU s of this process and the workers) of `run()`."""
    workers = (lambda: sum(client.run(_cpu_s).values())) if client is not None else (lambda: 0.0)
    cpu, wall, worker_cpu = time.process_time(), time.perf_counter(), workers()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu + workers() - worker_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--planes", type=int, default=4)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--record", action="store_true", help="add the run to benchmarks/results/distributed.*")
    args = parser.parse_args()
    image = nuclei_like((args.planes, args.size, args.size))
    rows = []
    with tempfile.TemporaryDirectory(prefix="carekit-overhead-") as temp, \
            dask_client(workers=1, threads_per_worker=2) as client:
        work = Path(temp)
        source = open_source(write_ngff(work / "o.ome.zarr", image, "TYX", {}, (1, args.size, args.size)))
        runner = load_model(HELA)
        restore(runner, image[0, :256, :256], progress=False)
        _warm(client, work)
        for number in range(args.rounds):
            row = {"round": number, "load_average": round(os.getloadavg()[0], 2)}
            row["in_process_s"], row["in_process_cpu_s"] = _timed_cpu(
                lambda: restore(runner, image, "TYX", progress=False))
            for enabled in ((True, False) if number % 2 == 0 else (False, True)):
                client.run(_set_lock, enabled)
                name = "lock" if enabled else "no_lock"
                row[f"dask_{name}_s"], row[f"dask_{name}_cpu_s"] = _timed_cpu(
                    lambda: _timed_large(client, HELA, source, work / "o-out.ome.zarr"), client)
                row[f"overhead_{name}"] = row[f"dask_{name}_s"] / row["in_process_s"] - 1
            row["lock_over_no_lock"] = row["dask_lock_s"] / row["dask_no_lock_s"]
            row["load_average_end"] = round(os.getloadavg()[0], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    medians = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "round"}
    print(json.dumps({"medians": medians, "image": [args.planes, args.size, args.size], "rounds": args.rounds}))
    if args.record:
        record(rows, medians, [args.planes, args.size, args.size])


def record(rows: list, medians: dict, image: list) -> None:
    """Add this run to benchmarks/results/distributed.json (key overhead_lock_ab) and rewrite distributed.md."""
    path = HERE / "results" / "distributed.json"
    results = json.loads(path.read_text())
    results.setdefault("overhead_lock_ab", []).append(
        {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "image": image, "rounds": rows,
         "medians": medians})
    write_results(results)


if __name__ == "__main__":
    main()

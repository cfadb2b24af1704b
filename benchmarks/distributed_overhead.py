"""A/B of the dask path's overhead vs in-process `restore` on the HeLa package (ONNX Runtime), for two shapes of a
local cluster on this machine's cores: 1 worker x all threads (chunks share the worker's cores, each network call
capped to them all) and the LocalCluster default, one single-threaded worker per core (one network call per core).

    .venv/bin/python benchmarks/distributed_overhead.py [--rounds 8] [--planes 4] [--size 1024] [--record]

Each round times in-process restore, then the dask path on each cluster (order alternating between rounds), the
model already loaded everywhere: wall seconds, and CPU seconds of this process and the workers (less sensitive to
other jobs on the cores than wall time). Prints one JSON line per round and the medians; the load average is
recorded, since other jobs may share the cores. (An earlier version A/B-tested a per-worker network lock; its
recorded runs stay in benchmarks/results/distributed.*.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from distributed_benchmark import HELA, _timed_large, _warm, write_results  # noqa: E402
from conftest import nuclei_like, write_ngff  # noqa: E402  (put on the path by distributed_benchmark)

from carekit.ngff import open_source  # noqa: E402
from carekit.predict import load_model, restore  # noqa: E402
from carekit.predict.cluster import dask_client  # noqa: E402


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
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--planes", type=int, default=4)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--record", action="store_true", help="add the run to benchmarks/results/distributed.*")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    shapes = {f"1x{cores}": (1, cores), f"{cores}x1": (cores, 1)}
    image = nuclei_like((args.planes, args.size, args.size))
    rows = []
    with tempfile.TemporaryDirectory(prefix="carekit-overhead-") as temp, contextlib.ExitStack() as stack:
        work = Path(temp)
        source = open_source(write_ngff(work / "o.ome.zarr", image, "TYX", {}, (1, args.size, args.size)))
        runner = load_model(HELA)
        restore(runner, image[0, :256, :256], progress=False)
        clients = {name: stack.enter_context(dask_client(workers=w, threads_per_worker=t))
                   for name, (w, t) in shapes.items()}
        for client in clients.values():
            _warm(client, work)
        for number in range(args.rounds):
            row = {"round": number, "load_average": round(os.getloadavg()[0], 2)}
            row["in_process_s"], row["in_process_cpu_s"] = _timed_cpu(
                lambda: restore(runner, image, "TYX", progress=False))
            for name in (list(shapes) if number % 2 == 0 else list(shapes)[::-1]):
                row[f"dask_{name}_s"], row[f"dask_{name}_cpu_s"] = _timed_cpu(
                    lambda: _timed_large(clients[name], HELA, source, work / "o-out.ome.zarr"), clients[name])
                row[f"overhead_{name}"] = row[f"dask_{name}_s"] / row["in_process_s"] - 1
            row["load_average_end"] = round(os.getloadavg()[0], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    medians = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "round"}
    print(json.dumps({"medians": medians, "image": [args.planes, args.size, args.size], "rounds": args.rounds}))
    if args.record:
        record(rows, medians, [args.planes, args.size, args.size], list(shapes))


def record(rows: list, medians: dict, image: list, shapes: list) -> None:
    """Add this run to benchmarks/results/distributed.json (key overhead_cluster_ab) and rewrite distributed.md."""
    path = HERE / "results" / "distributed.json"
    results = json.loads(path.read_text())
    results.setdefault("overhead_cluster_ab", []).append(
        {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "image": image, "shapes": shapes,
         "network_threads_per_task": "1", "rounds": rows, "medians": medians})
    write_results(results)


if __name__ == "__main__":
    main()

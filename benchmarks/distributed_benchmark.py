"""Large-data prediction on dask.distributed (carekit.predict.distributed) against in-process `restore`.

    .venv/bin/python benchmarks/distributed_benchmark.py [--quick]

Runs on a fresh clone from model-zoo/care-hela-nuclei-denoising.zip (2D); the 3D case and the bounded-memory case
train a tiny network for a few steps first. Measures: max |dask - in-memory| (2D, 3D probabilistic); overhead of the
dask path vs in-process restore on the same cores; time per chunk and total with 1 and 2 single-thread workers and
the efficiency projected for N workers; peak RSS per worker on a dataset several times a worker's --memory-limit;
rescale="auto" with the shipped generalist (model-zoo/care-generalist-nuclei-denoising.zip) on synthetic nuclei
magnified 3x (the factor 'auto' picks is recorded): max |dask - in-memory| and time against in-process and against
the dask run without it; --classical-blend with the HeLa package on gowt1 frames at 10 photons: max |dask -
in-memory| and time against in-process and against the dask run without it.
Results: benchmarks/results/distributed.json and distributed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "distributed"))  # the tests' OME-Zarr writer and nuclei-like images
from conftest import nuclei_like, write_ngff  # noqa: E402

from carekit.ngff import open_source  # noqa: E402
from carekit.predict import load_model, restore  # noqa: E402
from carekit.predict.cluster import dask_client  # noqa: E402
from carekit.predict.distributed import restore_large  # noqa: E402

HELA = ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"
GENERALIST = ROOT / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def _tiny_model(folder: Path, axes: str, **overrides) -> Path:
    from carekit.config import TrainConfig
    from carekit.train.care import train_care

    shape = (16, 48, 48) if axes == "ZYX" else (96, 96)
    volumes = [np.random.default_rng(i).random(shape).astype(np.float32) for i in range(2)]
    config = TrainConfig(**{"axes": axes, "patch_size": (8, 16, 16) if axes == "ZYX" else (32, 32),
                            "patches_per_image": 8, "epochs": 1, "steps_per_epoch": 2, "batch_size": 4,
                            "unet_first": 8, **overrides})
    train_care(volumes, volumes, config, folder, progress=False)
    return folder


def correctness(work: Path) -> dict:
    image2 = nuclei_like((2, 600, 700))
    src2 = open_source(write_ngff(work / "c2.ome.zarr", image2, "TYX", {"Y": 0.1, "X": 0.1}, (1, 256, 256)))
    model3 = _tiny_model(work / "m3", "ZYX", probabilistic=True)
    image3 = nuclei_like((1, 12, 200, 160), seed=1)
    src3 = open_source(write_ngff(work / "c3.ome.zarr", image3, "TZYX", {}, (1, 6, 64, 64)))
    with dask_client(workers=1, threads_per_worker=2, processes=False) as client:
        restore_large(client, HELA, src2, work / "c2-out.ome.zarr", progress=False)
        restore_large(client, model3, src3, work / "c3-out.ome.zarr", progress=False)
        histogram = restore_large(client, HELA, src2, work / "c2h-out.ome.zarr", progress=False, exact_bytes=0)
    ref2, ref3 = restore(HELA, image2, "TYX", progress=False), restore(model3, image3, "TZYX", progress=False)
    out2, out3 = zarr.open_group(str(work / "c2-out.ome.zarr")), zarr.open_group(str(work / "c3-out.ome.zarr"))
    return {"2d": {"shape": image2.shape, "chunks": [1, 256, 256],
                   "max_abs_diff": float(np.abs(out2["0"][:] - ref2.image).max()),
                   "max_abs_diff_histogram_percentiles": float(np.abs(
                       zarr.open_group(str(work / "c2h-out.ome.zarr"))["0"][:] - ref2.image).max()),
                   "chunks_total": histogram.chunks_total},
            "3d_probabilistic": {"shape": image3.shape, "chunks": list(out3["0"].chunks),
                                 "max_abs_diff": float(np.abs(out3["0"][:] - ref3.image).max()),
                                 "max_abs_diff_scale": float(np.abs(out3["scale/0"][:] - ref3.scale).max())}}


def _timed_large(client, model, source, out: Path) -> tuple[float, list[float]]:
    start = time.perf_counter()
    result = restore_large(client, model, source, out, progress=False, overwrite=True)
    return time.perf_counter() - start, result.chunk_seconds


def _warm(client, work: Path, model=HELA) -> None:
    """Load the model on every worker (once per worker process) before timing."""
    warm = open_source(write_ngff(work / "warm.ome.zarr", nuclei_like((4, 64, 64)), "TYX", {}, (1, 64, 64)))
    restore_large(client, model, warm, work / "warm-out.ome.zarr", progress=False, overwrite=True, rescale=None,
                  classical_blend=False)


def overhead_and_scaling(work: Path, planes: int, size: int) -> dict:
    image = nuclei_like((planes, size, size))
    whole = open_source(write_ngff(work / "o.ome.zarr", image, "TYX", {}, (1, size, size)))
    half = open_source(write_ngff(work / "s.ome.zarr", image, "TYX", {}, (1, size // 2, size // 2)))
    runner = load_model(HELA)
    restore(runner, image[0, :256, :256], progress=False)
    start = time.perf_counter()
    restore(runner, image, "TYX", progress=False)
    in_process = time.perf_counter() - start
    record = {"image": [planes, size, size], "in_process_restore_s": in_process}
    with dask_client(workers=1, threads_per_worker=2) as client:
        _warm(client, work)
        total, per_chunk = _timed_large(client, HELA, whole, work / "o-out.ome.zarr")
        record["dask_1_worker_2_threads"] = {"chunks": [1, size, size], "total_s": total,
                                             "chunk_s_mean": float(np.mean(per_chunk)),
                                             "overhead_vs_in_process": total / in_process - 1}
    for workers in (1, 2):
        with dask_client(workers=workers, threads_per_worker=1) as client:
            _warm(client, work)
            total, per_chunk = _timed_large(client, HELA, half, work / f"s{workers}-out.ome.zarr")
            noop = _scheduler_cost(client)
        record[f"{workers}_workers_1_thread"] = {"chunks": [1, size // 2, size // 2], "n_chunks": len(per_chunk),
                                                 "total_s": total, "chunk_s_mean": float(np.mean(per_chunk)),
                                                 "scheduler_s_per_task": noop}
    one, two = record["1_workers_1_thread"], record["2_workers_1_thread"]
    record["measured_efficiency_2_workers"] = one["total_s"] / (2 * two["total_s"])
    record["projected"] = _projection(one["chunk_s_mean"], one["scheduler_s_per_task"])
    return record


def _noop(x):
    return x


def _scheduler_cost(client, n: int = 500) -> float:
    start = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    return (time.perf_counter() - start) / n


def _projection(chunk_s: float, task_s: float, n_chunks: int = 100_000) -> list[dict]:
    """Efficiency with N workers on n_chunks chunks if each worker brings its own cores: the scheduler handles tasks
    one after another (task_s each), the workers run chunks in parallel (chunk_s each)."""
    rows = []
    for n in (1, 2, 8, 32, 128, 512):
        parallel = n_chunks * chunk_s / n
        total = max(parallel, n_chunks * task_s) + task_s * n
        rows.append({"workers": n, "total_h": total / 3600, "efficiency": n_chunks * chunk_s / (n * total)})
    return rows


def _peak_rss_mb() -> float:
    """Peak resident memory of this process since it started (VmHWM). Not getrusage's ru_maxrss: Linux carries that
    over from the parent through fork and exec, so a dask worker spawned by a large process reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _tiny_onnx_package(work: Path) -> Path:
    """A fast tiny network (U-Net depth 1, 4 filters, 2 training steps) packaged with ONNX weights (run first: models.weights.WEIGHT_PRIORITY), so the
    workers run ONNX Runtime and never load TensorFlow."""
    from carekit.zoo.package import build_package

    model = _tiny_model(work / "tiny2d", "YX", unet_depth=1, unet_first=4)
    return build_package(model, work / "tiny2d.zip", name="tiny benchmark network", formats=("keras_hdf5", "onnx"),
                         unzipped_folder=False).zip_path


def bounded_memory(work: Path, planes: int, size: int, memory_limit: str) -> dict:
    from dask.utils import parse_bytes

    model = _tiny_onnx_package(work)
    root = zarr.open_group(str(work / "big.ome.zarr"), mode="w", zarr_format=2)
    array = root.create_array("0", shape=(planes, size, size), chunks=(1, 1024, 1024), dtype="float32")
    rng = np.random.default_rng(0)
    for t in range(planes):
        array[t] = rng.normal(100, 10, (size, size)).astype(np.float32)
    root.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "t", "type": "time"},
                                                             {"name": "y", "type": "space"},
                                                             {"name": "x", "type": "space"}],
                                  "datasets": [{"path": "0", "coordinateTransformations": [
                                      {"type": "scale", "scale": [1, 1, 1]}]}]}]
    dataset_bytes = planes * size * size * 4
    with dask_client(workers=2, threads_per_worker=1, memory_limit=memory_limit) as client:
        _warm(client, work, model)
        warm_rss = client.run(_peak_rss_mb)
        total, per_chunk = _timed_large(client, model, open_source(work / "big.ome.zarr"), work / "big-out.ome.zarr")
        peaks = client.run(_peak_rss_mb)
    return {"dataset_gib_float32": dataset_bytes / 2**30, "memory_limit_per_worker": memory_limit,
            "dataset_over_memory_limit": dataset_bytes / parse_bytes(memory_limit), "workers": 2,
            "image": [planes, size, size], "chunks": [1, 1024, 1024], "n_chunks": len(per_chunk), "total_s": total,
            "chunk_s_mean": float(np.mean(per_chunk)), "peak_rss_mb_per_worker_after_warm_up": sorted(warm_rss.values()),
            "peak_rss_mb_per_worker": sorted(peaks.values()),
            "network": "U-Net depth 1, 4 filters (2 training steps), ONNX weights (no TensorFlow on the workers)"}


def rescaled(work: Path, planes: int, size: int) -> dict:
    """rescale='auto' on nuclei magnified 3x (1024 px tiles repeated to `size`, a multiple of 1024): in-process vs
    dask (1 worker x 2 threads, 512 px chunks), and the dask run without rescaling."""
    from scipy import ndimage

    small = nuclei_like((planes, 342, 342), seed=4).astype(np.float32)  # 12 nuclei each: as dense as in a cell
    tile = ndimage.zoom(small, (1, 3, 3), order=1)[:, :1024, :1024].astype(np.uint16)
    image = np.tile(tile, (1, size // 1024, size // 1024))
    source = open_source(write_ngff(work / "r.ome.zarr", image, "TYX", {}, (1, 512, 512)))
    runner = load_model(GENERALIST)
    restore(runner, image[0, :256, :256], progress=False, check_domain=False, rescale=None, classical_blend=False)
    start = time.perf_counter()
    expected = restore(runner, image, "TYX", progress=False, check_domain=False, rescale="auto",
                       classical_blend=False)
    record = {"image": list(image.shape), "chunks": [1, 512, 512], "in_process_s": time.perf_counter() - start}
    with dask_client(workers=1, threads_per_worker=2) as client:
        _warm(client, work, GENERALIST)
        for name, rescale in (("dask_rescaled", "auto"), ("dask_plain", None)):
            start = time.perf_counter()
            result = restore_large(client, GENERALIST, source, work / f"r-{name}.ome.zarr", progress=False,
                                   rescale=rescale, classical_blend=False)
            record[f"{name}_s"] = time.perf_counter() - start
            record[f"{name}_chunks"] = result.chunks_total
    out = zarr.open_group(str(work / "r-dask_rescaled.ome.zarr"), mode="r")
    record["factor"] = out.attrs["carekit"]["source"]["rescale"]
    record["max_abs_diff_over_range"] = float(np.abs(out["0"][:] - expected.image).max() / np.ptp(expected.image))
    record["max_abs_diff_scale_over_range"] = float(np.abs(out["scale/0"][:] - expected.scale).max()
                                                    / np.ptp(expected.scale))
    return record


def classical_blend(work: Path, planes: int, tiles: int) -> dict:
    """--classical-blend with the HeLa package on gowt1 frames at 10 photons (where it mixes in NLM), each plane
    `tiles` x `tiles` frames: in-process vs dask (1 worker x 2 threads; the blend's tasks are whole planes), and the
    dask run without the blend (512 px chunks)."""
    from carekit.config import SynthConfig
    from carekit.data.builtin import clean_images
    from carekit.synth.pairs import make_pairs

    frames = clean_images("gowt1", 2)[0][:planes]
    image = np.stack([np.tile(low, (tiles, tiles)) for low in make_pairs(frames, SynthConfig(photons=[10.0]))[0]])
    source = open_source(write_ngff(work / "b.ome.zarr", image.astype(np.float32), "TYX", {}, (1, 512, 512)))
    runner = load_model(HELA)
    restore(runner, image[0, :256, :256], progress=False, check_domain=False)
    start = time.perf_counter()
    expected = restore(runner, image, "TYX", progress=False, check_domain=False, classical_blend=True)
    record = {"image": list(image.shape), "in_process_s": time.perf_counter() - start,
              "blend": [blend.summary() for blend in expected.classical_blend]}
    with dask_client(workers=1, threads_per_worker=2) as client:
        _warm(client, work)
        for name, blend in (("dask_blended", True), ("dask_plain", False)):
            start = time.perf_counter()
            result = restore_large(client, HELA, source, work / f"b-{name}.ome.zarr", progress=False,
                                   classical_blend=blend)
            record[f"{name}_s"] = time.perf_counter() - start
            record[f"{name}_chunks"] = result.chunks_total
    out = zarr.open_group(str(work / "b-dask_blended.ome.zarr"), mode="r")["0"][:]
    record["max_abs_diff_over_range"] = float(np.abs(out - expected.image).max() / np.ptp(expected.image))
    return record


def write_results(results: dict) -> None:
    (HERE / "results" / "distributed.json").write_text(json.dumps(results, indent=2, default=list))
    lines = [f"# Distributed prediction benchmark ({results['machine']}, {results['date']})", "",
             f"Load average at the start of the last run: {results.get('load_average', '?')} (other jobs share the "
             "cores: times are noisy).", ""]
    c = results.get("correctness")
    if c:
        lines += ["## Correctness (dask vs in-memory restore)", "",
                  f"- 2D TYX {tuple(c['2d']['shape'])}, chunks {c['2d']['chunks']}: max |diff| "
                  f"{c['2d']['max_abs_diff']:.2g} (exact percentiles), {c['2d']['max_abs_diff_histogram_percentiles']:.2g}"
                  " (histogram percentiles, uint16: one bin per value)",
                  f"- 3D TZYX {tuple(c['3d_probabilistic']['shape'])} probabilistic, chunks "
                  f"{c['3d_probabilistic']['chunks']}: max |diff| mean {c['3d_probabilistic']['max_abs_diff']:.2g}, "
                  f"scale {c['3d_probabilistic']['max_abs_diff_scale']:.2g}", ""]
    o = results.get("scaling")
    if o:
        d = o["dask_1_worker_2_threads"]
        lines += ["## Overhead and scale-out (HeLa package, ONNX Runtime)", "",
                  f"Image {o['image']} uint16. In-process restore: {o['in_process_restore_s']:.1f} s. Dask, 1 worker "
                  f"x 2 threads, one chunk per plane: {d['total_s']:.1f} s (overhead {100 * d['overhead_vs_in_process']:+.0f}%,"
                  " model already loaded on the worker, percentile pass and pyramid included).", "",
                  "| workers x threads | chunks | n | total s | s per chunk | scheduler s per task |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for key in ("1_workers_1_thread", "2_workers_1_thread"):
            r = o[key]
            lines.append(f"| {key[0]} x 1 | {r['chunks']} | {r['n_chunks']} | {r['total_s']:.1f} | "
                         f"{r['chunk_s_mean']:.2f} | {r['scheduler_s_per_task'] * 1e3:.1f} ms |")
        lines += ["", f"Measured efficiency with 2 workers: {o['measured_efficiency_2_workers']:.2f} (this machine "
                  "has 2 cores, shared with other jobs; each worker's network is capped to its one thread).", "",
                  "Projected for 100,000 chunks if each worker has its own cores (per-chunk cost and scheduler cost "
                  "per task as measured with 1 worker):", "", "| workers | total h | efficiency |", "| --- | --- | --- |"]
        lines += [f"| {p['workers']} | {p['total_h']:.2f} | {p['efficiency']:.2f} |" for p in o["projected"]]
        lines.append("")
    b = results.get("bounded_memory")
    if b:
        lines += ["## Bounded memory", "",
                  f"{b['dataset_gib_float32']:.1f} GiB float32 dataset {b['image']} ({b['dataset_over_memory_limit']:.1f}x "
                  f"a worker's --memory-limit {b['memory_limit_per_worker']}), {b['workers']} workers x 1 thread, "
                  f"{b['network']}, {b['n_chunks']} chunks of {b['chunks']}: {b['total_s']:.0f} s "
                  f"({b['chunk_s_mean']:.2f} s per chunk); peak RSS per worker "
                  f"{', '.join(f'{m:.0f}' for m in b['peak_rss_mb_per_worker'])} MB (after the warm-up on a tiny "
                  f"image: {', '.join(f'{m:.0f}' for m in b['peak_rss_mb_per_worker_after_warm_up'])} MB).", ""]
    lines += _rescale_lines(results.get("rescale"))
    lines += _blend_lines(results.get("blend"))
    lines += _lock_ab_lines(results.get("overhead_lock_ab", []))
    lines += _cluster_ab_lines(results.get("overhead_cluster_ab", []))
    (HERE / "results" / "distributed.md").write_text("\n".join(lines))
    print("\n".join(lines))


def _rescale_lines(r: dict | None) -> list[str]:
    if not r:
        return []
    return ["## Rescale on the large-data path", "",
            f"Shipped generalist, rescale=auto (factor {r['factor']:.2f}) on {r['image']} uint16 nuclei magnified 3x, "
            f"chunks {r['chunks']}: max |dask - in-memory| {r['max_abs_diff_over_range']:.2g} of the restoration's "
            f"range, {r['max_abs_diff_scale_over_range']:.2g} of the scale's. In-process restore: "
            f"{r['in_process_s']:.1f} s; dask, 1 worker x 2 threads: {r['dask_rescaled_s']:.1f} s rescaled, "
            f"{r['dask_plain_s']:.1f} s without rescaling ({r['dask_rescaled_chunks']} chunks; percentile passes and "
            "pyramid included).", ""]


def _blend_lines(r: dict | None) -> list[str]:
    if not r:
        return []
    return ["## The classical blend on the large-data path", "",
            f"HeLa package, --classical-blend on {r['image']} gowt1 frames at 10 photons ({'; '.join(r['blend'])}): "
            f"max |dask - in-memory| {r['max_abs_diff_over_range']:.2g} of the restoration's range. In-process "
            f"restore: {r['in_process_s']:.1f} s; dask, 1 worker x 2 threads: {r['dask_blended_s']:.1f} s blended "
            f"({r['dask_blended_chunks']} whole-plane chunks), {r['dask_plain_s']:.1f} s without the blend "
            f"({r['dask_plain_chunks']} chunks; percentile pass and pyramid included).", ""]


def _runs_section(title: str, intro: str, runs: list, line) -> list[str]:
    """A markdown section for recorded A/B runs of benchmarks/distributed_overhead.py: `line(run, medians, loads)`
    gives each run's line (none: no section)."""
    if not runs:
        return []
    lines = [f"## {title} (`benchmarks/distributed_overhead.py`)", "", intro, ""]
    lines += [line(run, run["medians"], [r["load_average"] for r in run["rounds"]]) for run in runs]
    return lines + [""]


def _lock_ab_lines(runs: list) -> list[str]:
    """The per-worker network lock A/B runs, one line each."""
    def line(run, m, loads):
        cpu = (f"; CPU s in-process {m['in_process_cpu_s']:.1f}, lock {m['dask_lock_cpu_s']:.1f}, no lock "
               f"{m['dask_no_lock_cpu_s']:.1f}" if "in_process_cpu_s" in m else "")
        return (f"- {run['date']}, {run['image']}, {len(run['rounds'])} rounds, load average "
                f"{min(loads):.1f}-{max(loads):.1f}: in-process {m['in_process_s']:.1f} s; dask with lock "
                f"{m['dask_lock_s']:.1f} s ({100 * m['overhead_lock']:+.0f}%), without {m['dask_no_lock_s']:.1f} s "
                f"({100 * m['overhead_no_lock']:+.0f}%); lock / no lock per round {m['lock_over_no_lock']:.2f}{cpu}")

    return _runs_section("Overhead: per-worker network lock A/B", "HeLa package, 1 worker x 2 threads, in-process "
                         "restore and dask with/without the lock in each round (order alternating); medians over the "
                         "rounds:", runs, line)


def _cluster_ab_lines(runs: list) -> list[str]:
    """The cluster-shape A/B runs, one line each."""
    def line(run, m, loads):
        parts = [f"{name}: {m[f'dask_{name}_s']:.2f} s ({100 * m[f'overhead_{name}']:+.1f}%, CPU "
                 f"{m[f'dask_{name}_cpu_s']:.1f} s)" for name in run["shapes"]]
        threads = f", network threads per chunk: {run['network_threads_per_task']}" \
            if "network_threads_per_task" in run else ""
        return (f"- {run['date']}, {run['image']}, {len(run['rounds'])} rounds{threads}, load average "
                f"{min(loads):.1f}-{max(loads):.1f}: in-process {m['in_process_s']:.2f} s (CPU "
                f"{m['in_process_cpu_s']:.1f} s); dask {'; '.join(parts)}")

    return _runs_section("Overhead by cluster shape", "HeLa package, in-process restore and dask on each local "
                         "cluster shape (workers x threads) in each round (order alternating); medians over the "
                         "rounds:", runs, line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not the reported numbers)")
    parser.add_argument("--only", nargs="+", choices=("correctness", "scaling", "bounded_memory", "rescale", "blend"))
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    results_path = HERE / "results" / "distributed.json"
    results = json.loads(results_path.read_text()) if args.only and results_path.exists() else {}
    results.update({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
                    "load_average": round(os.getloadavg()[0], 1)})
    only = args.only or ("correctness", "scaling", "bounded_memory", "rescale", "blend")
    with tempfile.TemporaryDirectory(prefix="carekit-dask-bench-") as temp:
        work = Path(temp)
        if "correctness" in only:
            results["correctness"] = correctness(work)
            write_results(results)
        if "scaling" in only:
            results["scaling"] = overhead_and_scaling(work, *((2, 512) if args.quick else (4, 1024)))
            write_results(results)
        if "bounded_memory" in only:
            results["bounded_memory"] = bounded_memory(work, *((2, 4096, "512MiB") if args.quick
                                                               else (32, 4096, "512MiB")))
            write_results(results)
        if "rescale" in only:
            results["rescale"] = rescaled(work, *((1, 1024) if args.quick else (2, 3072)))
            write_results(results)
        if "blend" in only:
            results["blend"] = classical_blend(work, *((1, 1) if args.quick else (4, 4)))
            write_results(results)


if __name__ == "__main__":
    main()

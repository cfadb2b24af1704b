"""Overhead of running a model inside ImageJ (run_in_fiji) against direct Python prediction, at 2048^2:
first call (JVM + Jython + worker start), warm calls, and numpy <-> ImagePlus transfer speed both ways.

    .venv/bin/python benchmarks/fiji_benchmark.py [--package ZIP] [--size 2048] [--repeats 3]

Results: benchmarks/results/fiji.json and fiji.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", default=str(ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"))
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from carekit.fiji import convert
    from carekit.fiji.run import run_in_fiji
    from carekit.models import load_model
    from carekit.predict import restore

    image = np.random.default_rng(0).poisson(20, (args.size, args.size)).astype(np.float32)
    megabytes = image.nbytes / 1e6

    runner = load_model(args.package, engine="onnx")
    restore(runner, image[:256, :256], progress=False)
    direct = best_of(lambda: restore(runner, image, progress=False), args.repeats)

    start = time.perf_counter()
    run_in_fiji(args.package, image[:256, :256])
    first_call = time.perf_counter() - start
    fiji = best_of(lambda: run_in_fiji(args.package, image), args.repeats)

    push = best_of(lambda: convert.to_imageplus(image, "YX"), args.repeats)
    imp = convert.to_imageplus(image, "YX")
    pull = best_of(lambda: convert.from_imageplus(imp), args.repeats)

    results = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
               "size": args.size, "direct_predict_s": direct, "run_in_fiji_warm_s": fiji,
               "overhead_ratio": fiji / direct, "first_call_s": first_call,
               "numpy_to_imageplus_MB_per_s": megabytes / push, "imageplus_to_numpy_MB_per_s": megabytes / pull}
    (HERE / "results" / "fiji.json").write_text(json.dumps(results, indent=2))
    lines = [f"# ImageJ round trip ({results['machine']}, {results['date']})", "",
             f"{args.size}² float32 image, ONNX Runtime in the warm worker, best of {args.repeats}.", "",
             "| measure | value |", "| --- | --- |",
             f"| direct Python predict | {direct:.2f} s |",
             f"| run_in_fiji, warm | {fiji:.2f} s |",
             f"| overhead ratio (goal <= 1.15) | {fiji / direct:.2f} |",
             f"| first call (JVM, Jython, worker start, model load; 256² image) | {first_call:.1f} s |",
             f"| numpy -> ImagePlus | {megabytes / push:.0f} MB/s |",
             f"| ImagePlus -> numpy | {megabytes / pull:.0f} MB/s |"]
    (HERE / "results" / "fiji.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

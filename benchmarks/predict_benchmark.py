"""Prediction throughput and peak memory: carekit (package via ONNX Runtime / TF SavedModel, model folder via Keras)
against csbdeep's own CARE.predict on the same model, at 2048^2 and 8192^2.

    .venv/bin/python benchmarks/predict_benchmark.py [--model DIR] [--package ZIP] [--sizes 2048 8192]

Runs on a fresh clone from the shipped package alone: without --model, the model folder that csbdeep and Keras need
is rebuilt from the package (its carekit.json and Keras weights) in a temporary folder.

Each case runs in a fresh process (peak memory = the process's VmHWM, including the runtime). Results:
benchmarks/results/predict.json and predict.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASE = r'''
import json, sys, time, os
import numpy as np
kind, model, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
image = np.random.default_rng(0).poisson(20, (size, size)).astype(np.float32)

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024

if kind == "csbdeep":
    from carekit.train.care import load_care
    from csbdeep.data import PercentileNormalizer
    care = load_care(model)
    n_tiles = None if size <= 2048 else (size // 2048, size // 2048)
    run = lambda: care.predict(image, "YX", normalizer=PercentileNormalizer(1, 99.8), n_tiles=n_tiles)
    care.predict(image[:256, :256], "YX")
else:
    from carekit.models import load_model
    from carekit.predict import restore
    engine = {"carekit-onnx": "onnx", "carekit-tensorflow": "tensorflow", "carekit-keras": "keras"}[kind]
    runner = load_model(model, engine=engine)
    run = lambda: restore(runner, image, progress=False)
    restore(runner, image[:256, :256], progress=False)
baseline = peak_mb()
start = time.perf_counter()
run()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "after_warmup_mb": baseline}))
'''


def run_case(kind: str, model: Path, size: int) -> dict:
    result = subprocess.run([sys.executable, "-c", CASE, kind, str(model), str(size)], capture_output=True, text=True,
                            cwd=ROOT)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record["megapixels_per_s"] = size * size / 1e6 / record["seconds"]
    return record


def model_folder_from_package(package: Path, folder: Path) -> Path:
    """A carekit model folder (carekit.json, csbdeep config.json, weights_best.h5) from a carekit package."""
    from carekit.config import ModelRecord
    from carekit.train.care import csbdeep_config
    from csbdeep.models import CARE

    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder / "package")
    record = ModelRecord.load(folder / "package")
    model_dir = folder / record.name
    CARE(csbdeep_config(record.train), name=model_dir.name, basedir=str(folder))
    shutil.copy(folder / "package" / "carekit.json", model_dir / "carekit.json")
    shutil.copy(folder / "package" / "care_keras.h5", model_dir / "weights_best.h5")
    return model_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="trained model folder (default: rebuilt from --package)")
    parser.add_argument("--package", default=str(ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    args = parser.parse_args()
    temp = tempfile.TemporaryDirectory(prefix="carekit-benchmark-")
    if args.model is None:
        args.model = str(model_folder_from_package(Path(args.package), Path(temp.name)))
    cases = [("csbdeep", args.model), ("carekit-onnx", args.package), ("carekit-tensorflow", args.package),
             ("carekit-keras", args.model)]
    results = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
               "runs": []}
    for size in args.sizes:
        for kind, model in cases:
            record = {"size": size, "method": kind, **run_case(kind, Path(model), size)}
            print(json.dumps(record), flush=True)
            results["runs"].append(record)
    (HERE / "results" / "predict.json").write_text(json.dumps(results, indent=2))
    lines = [f"# Prediction benchmark ({results['machine']}, {results['date']})", "",
             "Same trained model (U-Net depth 2, 32 filters). Random Poisson image. csbdeep: CARE.predict with "
             "PercentileNormalizer(1, 99.8) (n_tiles=(4,4) at 8192^2 so it fits in memory); carekit: restore() with "
             "1024^2 tiles (its default).", "",
             "| size | method | seconds | Mpx/s | throughput vs csbdeep | peak MB | memory vs csbdeep |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for size in args.sizes:
        runs = [r for r in results["runs"] if r["size"] == size]
        base = next((r for r in runs if r["method"] == "csbdeep" and "seconds" in r), None)
        for r in runs:
            if "error" in r:
                lines.append(f"| {size}² | {r['method']} | failed: {r['error']} | | | | |")
                continue
            speed = f"{base['seconds'] / r['seconds']:.2f}x" if base else "-"
            memory = f"{r['peak_mb'] / base['peak_mb']:.2f}x" if base else "-"
            lines.append(f"| {size}² | {r['method']} | {r['seconds']:.2f} | {r['megapixels_per_s']:.2f} | {speed} | "
                         f"{r['peak_mb']:.0f} | {memory} |")
    (HERE / "results" / "predict.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

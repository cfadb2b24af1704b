"""fp32 against bf16 mixed precision (carekit's `precision` setting) for prediction and training, with the shipped
model (model-zoo/care-hela-nuclei-denoising.zip: its ONNX and Keras weights, its training configuration) and the
built-in HeLa images.

    .venv/bin/python benchmarks/precision_benchmark.py [--sizes 2048 8192] [--train-steps 300] [--emulated-accuracy]

- Prediction: a held-out HeLa frame at 3 photons, mirrored to size x size, restored in a fresh process per case
  (seconds, Mpx/s, peak memory = the process's VmHWM): fp32 with the package's ONNX weights (the default engine)
  and its Keras weights, bf16 with its Keras weights (how carekit runs packages in bf16).
- Accuracy: the held-out frames 16-19 at 3 and 10 photons (as model-zoo/make_hela_denoising.py): PSNR against the
  ground truth in fp32 and bf16, and max / mean |bf16 - fp32|.
- Training: CARE from scratch with the shipped model's configuration (batch 16, 64x64 patches) on its data:
  steps per second (after the first, compiling step), PSNR on the held-out frames (predicted in fp32) after the
  same number of steps, and bf16 again for the fp32 run's training time.

Where the CPU has no bf16 instructions (AVX512_BF16/AMX) and there is no GPU, it says so and measures fp32 only;
--emulated-accuracy then adds the accuracy of emulated bf16 (same numerics, timings meaningless). On a GPU the
reduced precision is the GPU's (bf16, or fp16 before compute capability 8.0). Results:
benchmarks/results/precision.json and precision.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGE = ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"
TRAIN_RECORD = ROOT / "model-zoo" / "care-hela-nuclei-denoising.carekit.json"
HELD_OUT_SEED, PHOTONS = 2024, [3.0, 10.0]


def held_out():
    """(noisy, ground truth, name) for frames 16-19 of the built-in HeLa time-lapse at 3 and 10 photons."""
    from carekit.config import SynthConfig
    from carekit.data import builtin
    from carekit.synth.pairs import make_pairs

    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs(frames[16:], SynthConfig(photons=PHOTONS, seed=HELD_OUT_SEED))
    names = [f"frame {16 + i // len(PHOTONS)}, {PHOTONS[i % len(PHOTONS)]:g} photons" for i in range(len(lows))]
    return list(zip(lows, highs, names))


def peak_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def case_hardware() -> dict:
    from carekit import precision
    from carekit.train.tf import gpu_compute_capability

    gpu = gpu_compute_capability()
    reduced, _ = precision.resolve("bf16", gpu, precision.cpu_has_bf16(), emulation=False)
    return {"cpu_bf16": precision.cpu_has_bf16(), "gpu_capability": gpu, "reduced": reduced}


def case_predict(precision: str, engine: str, size: int) -> dict:
    import numpy as np

    from carekit.predict import load_model, restore

    low = held_out()[0][0]
    image = np.pad(low, [(0, max(0, size - n)) for n in low.shape], mode="symmetric")[:size, :size]
    runner = load_model(PACKAGE, engine=engine, precision=precision)
    restore(runner, image[:256, :256], progress=False)
    after_warmup = peak_mb()
    start = time.perf_counter()
    restore(runner, image, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "megapixels_per_s": size * size / 1e6 / seconds, "peak_mb": peak_mb(),
            "after_warmup_mb": after_warmup}


def case_accuracy(precision: str) -> dict:
    import numpy as np

    from carekit.evaluate.metrics import score
    from carekit.predict import load_model, restore

    fp32, reduced = load_model(PACKAGE, engine="keras"), load_model(PACKAGE, precision=precision)
    rows = []
    for low, high, name in held_out():
        a, b = restore(fp32, low, progress=False).image, restore(reduced, low, progress=False).image
        rows.append({"name": name, "psnr_fp32": score(high, a).psnr, "psnr_reduced": score(high, b).psnr,
                     "max_abs_diff": float(np.abs(a - b).max()), "mean_abs_diff": float(np.abs(a - b).mean()),
                     "output_range": float(a.max() - a.min())})
    return {"precision": reduced.precision, "images": rows}


def case_train(precision: str, steps: int, seconds: float) -> dict:
    """Train from scratch for `steps` steps, or (steps 0) for `seconds` of training after the first step."""
    import tempfile

    import numpy as np
    from csbdeep.internals.train import DataWrapper

    from carekit import workflows
    from carekit.config import ModelRecord
    from carekit.evaluate.metrics import score
    from carekit.models.spec import network_spec_from_record
    from carekit.predict import restore
    from carekit.train.care import build_care, fit_from_generator, prepare_training_data
    from carekit.train.precision import choose, optimizer_for, with_precision
    import keras

    shipped = ModelRecord.model_validate_json(TRAIN_RECORD.read_text())
    config = shipped.train.model_copy(update={"precision": choose(precision), "epochs": 1,
                                              "steps_per_epoch": steps or 10**6})
    lows, highs, _ = workflows.training_pairs(shipped.data, 2)
    (x, y), _ = prepare_training_data(lows, highs, config)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())
            if not steps and times[-1] - times[0] >= seconds:
                self.model.stop_training = True

    with tempfile.TemporaryDirectory() as tmp:
        care = build_care(config, Path(tmp) / "model")
        optimizer = optimizer_for(keras.optimizers.Adam(config.learning_rate), config.precision)
        care.prepare_for_training(optimizer=optimizer)
        batches = DataWrapper(x, y, config.batch_size, length=config.steps_per_epoch)
        fit_from_generator(care.keras_model, iter(batches), epochs=1, steps_per_epoch=config.steps_per_epoch,
                           callbacks=[Clock()])
    network = with_precision(care.keras_model, "fp32")

    class Runner:
        spec = network_spec_from_record(ModelRecord(carekit_version="-", name="benchmark", train=config))

        def __call__(self, batch):
            return network(batch, training=False).numpy()

    psnr = [score(high, restore(Runner(), low, progress=False).image).psnr for low, high, _ in held_out()]
    return {"precision": config.precision, "steps": len(times), "train_seconds": times[-1] - times[0],
            "steps_per_s": (len(times) - 1) / (times[-1] - times[0]), "psnr": float(np.mean(psnr))}


CASES = {"hardware": case_hardware, "predict": case_predict, "accuracy": case_accuracy, "train": case_train}


def run_case(*args, env: dict | None = None) -> dict:
    """One measurement in a fresh process (its own peak memory, no state shared between precisions)."""
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--case", *map(str, args)],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit code {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def machine() -> str:
    from carekit.precision import cpu_flags

    model = next((line.partition(":")[2].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in cpu_flags()]
    return f"{platform.machine()} {model}, {os.cpu_count()} cores ({', '.join(simd) or 'no AVX2'})"


def measure(args, hardware: dict) -> dict:
    reduced = hardware["reduced"] if hardware["reduced"] != "fp32" else None
    results = {"prediction": [], "accuracy": None, "training": []}
    for size in args.sizes:
        cases = [("fp32", "onnx"), ("fp32", "keras")] + ([(reduced, "keras")] if reduced else [])
        for precision, engine in cases:
            record = {"size": size, "precision": precision, "weights": engine,
                      **run_case("predict", precision, engine, size)}
            print(json.dumps(record), flush=True)
            results["prediction"].append(record)
    if reduced or args.emulated_accuracy:
        emulated = None if reduced else {"CAREKIT_ALLOW_EMULATED_BF16": "1"}
        results["accuracy"] = {"emulated": bool(emulated), **run_case("accuracy", reduced or "bf16", env=emulated)}
        print(json.dumps(results["accuracy"]), flush=True)
    fp32 = run_case("train", "fp32", args.train_steps, 0)
    results["training"].append({"run": "fp32, equal steps", **fp32})
    if reduced and "error" not in fp32:
        results["training"].append({"run": f"{reduced}, equal steps",
                                    **run_case("train", reduced, args.train_steps, 0)})
        results["training"].append({"run": f"{reduced}, equal time",
                                    **run_case("train", reduced, 0, fp32["train_seconds"])})
    print(json.dumps(results["training"]), flush=True)
    return results


def summary(results: dict) -> dict:
    """The goals in numbers: speed-ups of the reduced precision and its PSNR differences (where measured)."""
    reduced, out = results["hardware"]["reduced"], {}

    def seconds(size, precision, weights):
        return next((r["seconds"] for r in results["prediction"] if "seconds" in r
                     and (r["size"], r["precision"], r["weights"]) == (size, precision, weights)), None)

    for size in sorted({r["size"] for r in results["prediction"]}):
        fp32, onnx = seconds(size, "fp32", "keras"), seconds(size, "fp32", "onnx")
        fast = seconds(size, reduced, "keras")
        if reduced != "fp32" and fp32 and fast:
            out[f"prediction {size}²: speed-up over fp32 Keras / fp32 ONNX"] = \
                f"{fp32 / fast:.2f}x / {onnx / fast:.2f}x" if onnx else f"{fp32 / fast:.2f}x"
    accuracy = results.get("accuracy") or {}
    images = accuracy.get("images")
    if images:
        label = f"{accuracy['precision']}{' (emulated)' if accuracy['emulated'] else ''} - fp32"
        differences = [r["psnr_reduced"] - r["psnr_fp32"] for r in images]
        out[f"prediction PSNR difference {label} (mean, range)"] = \
            f"{sum(differences) / len(differences):+.3f} dB ({min(differences):+.3f} to {max(differences):+.3f})"
        out[f"prediction max / mean |{label}|"] = \
            f"{max(r['max_abs_diff'] for r in images):.4f} / {max(r['mean_abs_diff'] for r in images):.5f}"
    if reduced == "fp32":
        return out
    runs = {r["run"]: r for r in results["training"] if "error" not in r}
    base, steps, timed = (runs.get(f"{p}, equal {what}") for p, what in
                          (("fp32", "steps"), (reduced, "steps"), (reduced, "time")))
    if base and steps:
        out["training steps/s speed-up"] = f"{steps['steps_per_s'] / base['steps_per_s']:.2f}x"
        out["training PSNR difference at equal steps"] = f"{steps['psnr'] - base['psnr']:+.2f} dB"
    if base and timed:
        out["training PSNR difference at equal time"] = f"{timed['psnr'] - base['psnr']:+.2f} dB"
    return out


def markdown(results: dict) -> str:
    hw = results["hardware"]
    lines = [f"# Precision benchmark ({results['machine']}, {results['date']})", "",
             f"Command: `{results['command']}`; load average at start {results['load_average']}"
             + (" (a shared machine: timings are slower than on an idle one)."
                if results["load_average"][0] > os.cpu_count() else "."), ""]
    if hw["reduced"] == "fp32":
        lines += ["**This machine has no bf16 instructions (AVX512_BF16/AMX) and no GPU: bf16 would be emulated, "
                  "so carekit uses fp32 and only fp32 is measured here.**", ""]
    lines += [f"- {key}: {value}" for key, value in results["summary"].items()] + [""] * bool(results["summary"])
    lines += ["## Prediction (shipped model, HeLa frame mirrored to size x size, fresh process per case)", "",
              "| size | precision | weights | seconds | Mpx/s | vs fp32 Keras | peak MB |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results["prediction"]:
        if "error" in r:
            lines.append(f"| {r['size']}² | {r['precision']} | {r['weights']} | failed: {r['error']} | | | |")
            continue
        base = next((b for b in results["prediction"] if b["size"] == r["size"] and b["precision"] == "fp32"
                     and b["weights"] == "keras" and "seconds" in b), None)
        speed = f"{base['seconds'] / r['seconds']:.2f}x" if base else "-"
        lines.append(f"| {r['size']}² | {r['precision']} | {r['weights']} | {r['seconds']:.2f} | "
                     f"{r['megapixels_per_s']:.2f} | {speed} | {r['peak_mb']:.0f} |")
    accuracy = results["accuracy"]
    if accuracy and "images" in accuracy:
        label = f"{accuracy['precision']}{' (emulated: accuracy only)' if accuracy['emulated'] else ''}"
        lines += ["", f"## Accuracy: fp32 against {label}, held-out HeLa frames (normalized units)", "",
                  "| image | PSNR fp32 | PSNR reduced | PSNR difference | max abs diff | mean abs diff | "
                  "output range |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for r in accuracy["images"]:
            lines.append(f"| {r['name']} | {r['psnr_fp32']:.3f} | {r['psnr_reduced']:.3f} | "
                         f"{r['psnr_reduced'] - r['psnr_fp32']:+.3f} | {r['max_abs_diff']:.4f} | "
                         f"{r['mean_abs_diff']:.5f} | {r['output_range']:.2f} |")
    elif accuracy:
        lines += ["", f"Accuracy run failed: {accuracy.get('error')}"]
    lines += ["", "## Training from scratch (shipped configuration: batch 16, 64x64 patches, U-Net depth 2 / 32)", "",
              "| run | steps | training seconds | steps/s | PSNR held-out (fp32 prediction) |",
              "| --- | --- | --- | --- | --- |"]
    for r in results["training"]:
        if "error" in r:
            lines.append(f"| {r['run']} | failed: {r['error']} | | | |")
            continue
        lines.append(f"| {r['run']} | {r['steps']} | {r['train_seconds']:.1f} | {r['steps_per_s']:.3f} | "
                     f"{r['psnr']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192],
                        help="prediction sizes (drop 8192 on slow machines)")
    parser.add_argument("--train-steps", type=int, default=300, help="training steps per run (fp32 and bf16)")
    parser.add_argument("--emulated-accuracy", action="store_true",
                        help="without bf16 hardware: also measure the accuracy of emulated bf16")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, *values = args.case
        values = [int(v) if v.isdigit() else float(v) if v.replace(".", "", 1).isdigit() else v for v in values]
        print(json.dumps(CASES[name](*values)))
        return
    hardware = run_case("hardware")
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "hardware": hardware,
               "load_average": [round(x, 2) for x in os.getloadavg()],
               "command": "benchmarks/precision_benchmark.py " + " ".join(sys.argv[1:])}
    if hardware.get("reduced") == "fp32":
        print("no bf16 instructions (AVX512_BF16/AMX) and no GPU here: measuring fp32 only", flush=True)
    results.update(measure(args, hardware))
    results["summary"] = summary(results)
    (HERE / "results" / "precision.json").write_text(json.dumps(results, indent=2))
    text = markdown(results)
    (HERE / "results" / "precision.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""The end-to-end demo on built-in data (the README's first command):
semi-synthetic pairs from real HeLa images at two noise levels -> CARE training -> bioimage.io package validated
with bioimageio.core -> prediction in Python and inside ImageJ -> evaluation against ground truth and classical
baselines -> table, report and figures."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import SynthConfig, TrainConfig

DEMO_DATA = "hela"
TRAIN_FRAMES = 16
PHOTONS = (3.0, 10.0)


@dataclass(frozen=True)
class DemoSettings:
    epochs: int
    steps_per_epoch: int
    patches_per_image: int
    learning_rate: float
    unet_first: int
    test_frames: int
    test_crop: int | None


FULL = DemoSettings(epochs=30, steps_per_epoch=50, patches_per_image=64, learning_rate=4e-4, unet_first=32,
                    test_frames=4, test_crop=None)
QUICK = DemoSettings(epochs=10, steps_per_epoch=50, patches_per_image=64, learning_rate=4e-4, unet_first=32,
                     test_frames=1, test_crop=384)


def _step(number: int, message: str) -> None:
    print(f"\n[{number}/6] {message}", flush=True)


def _crop(image: np.ndarray, size: int | None) -> np.ndarray:
    if size is None:
        return image
    y, x = [(n - size) // 2 for n in image.shape]
    return image[y:y + size, x:x + size]


def run_demo(out: Path, quick: bool = False, progress: bool = True, with_fiji: bool = True) -> dict:
    """Run every stage; returns (and writes to summary.json) where everything is and the result table."""
    settings = QUICK if quick else FULL
    out = Path(out)
    for stale in ("model", "package", "images", "report"):
        if (out / stale).exists():
            shutil.rmtree(out / stale)
    out.mkdir(parents=True, exist_ok=True)
    started, timings = time.time(), {}

    def timed(stage: str, work, *args):
        tic = time.time()
        result = work(*args)
        timings[stage] = time.time() - tic
        return result

    synth, trained = timed("train", _train, out, settings, progress)
    package, held_out, pixel_size = timed("package", _package, out, settings)
    model, datasets = timed("predict", _predict, package.zip_path, held_out, progress)
    fiji_diff = timed("imagej", _imagej, package.zip_path, datasets, with_fiji)
    checks = timed("baselines", _baselines, model, datasets, synth)
    rows, figures, csv_path = _evaluate(out, datasets, pixel_size)
    summary = {
        "quick": quick, "seconds": round(time.time() - started, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "model": str(out / "model"), "history_plot": str(trained.history_plot), "package": str(package.zip_path),
        "bioimageio_test_model": package.test_results, "imagej_vs_python_max_abs_diff": fiji_diff,
        "report": str(out / "report" / "results.md"), "csv": str(csv_path), "figures": [str(f) for f in figures],
        "rows": rows, "classical_check": checks,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _print_where(summary)
    return summary


def _train(out: Path, settings: DemoSettings, progress: bool):
    from . import workflows

    _step(1, f"training CARE on semi-synthetic pairs from the built-in '{DEMO_DATA}' images "
             f"({TRAIN_FRAMES} frames, {len(PHOTONS)} noise levels: {', '.join(f'{p:g}' for p in PHOTONS)} photons)")
    synth = SynthConfig(photons=list(PHOTONS))
    data = workflows.data_from_clean(synth, builtin=DEMO_DATA, max_images=TRAIN_FRAMES)
    config = TrainConfig(epochs=settings.epochs, steps_per_epoch=settings.steps_per_epoch,
                         patches_per_image=settings.patches_per_image, learning_rate=settings.learning_rate,
                         unet_first=settings.unet_first, patch_size=(64, 64))
    return synth, workflows.train(data, out / "model", config, progress=progress)


def _package(out: Path, settings: DemoSettings):
    from .data import builtin
    from .synth.pairs import make_pairs
    from .zoo.package import build_package

    _step(2, "packaging for the BioImage Model Zoo and validating every weight format with bioimageio.core")
    frames, pixel_size = builtin.clean_images(DEMO_DATA, ndim=2)
    held_out = [_crop(f, settings.test_crop) for f in frames[-settings.test_frames:]]
    package = build_package(out / "model", out / "package" / "care-hela-demo.zip", name="CARE HeLa demo",
                            sample=make_pairs([held_out[0]], SynthConfig(photons=[PHOTONS[0]], seed=1))[0][0])
    for fmt, status in package.test_results.items():
        print(f"  test_model [{fmt}]: {status}")
    return package, held_out, pixel_size


def _predict(package: Path, held_out: list, progress: bool):
    from .models import load_model
    from .predict import restore
    from .synth.pairs import make_pairs

    _step(3, f"restoring {len(held_out)} held-out frame(s) per noise level in Python (ONNX Runtime, tiled)")
    model = load_model(package, engine="onnx")
    datasets = {}
    for photons in PHOTONS:
        lows, highs = make_pairs(held_out, SynthConfig(photons=[photons], seed=2024))
        restored = [restore(model, low, progress=progress).image for low in lows]
        datasets[f"HeLa {photons:g} photons"] = {"raw": lows, "gt": highs, "CARE": restored}
    return model, datasets


def _imagej(package: Path, datasets: dict, with_fiji: bool) -> float | None:
    _step(4, "running the same package inside ImageJ with the CARE Restore plugin (run_in_fiji)")
    if not with_fiji:
        return None
    fiji_diff = _run_in_imagej(package, datasets)
    print(f"  ImageJ result vs Python: max |difference| = {fiji_diff:.2e}")
    return fiji_diff


def _baselines(model, datasets: dict, synth: SynthConfig) -> dict:
    from .evaluate.baselines import run_baselines

    _step(5, "classical baselines (oracle-tuned Gaussian, NLM, TV; GAT+NLM with the known camera model), and "
             "without ground truth the comparison `carekit predict` makes")
    checks = _compare_with_classical(model, datasets)
    camera = {"gain": synth.gain, "read_noise": synth.read_noise, "offset": synth.offset}
    for images in datasets.values():
        per_image = [run_baselines(low, gt, camera=camera) for low, gt in zip(images["raw"], images["gt"])]
        for method in per_image[0]:
            images[method] = [result[method] for result in per_image]
    return checks


def _evaluate(out: Path, datasets: dict, pixel_size: dict):
    from .evaluate.report import comparison_figure, evaluate_images, markdown_table, write_csv
    from .io import Image, write_image

    _step(6, "evaluating against ground truth (CARE normalization: PSNR, SSIM, NRMSE)")
    rows, figures = [], []
    method_order = ["Raw", "Gaussian", "NLM", "TV", "GAT+NLM", "CARE"]
    for name, images in datasets.items():
        methods = {"Raw": images["raw"], **{m: images[m] for m in method_order[1:] if m in images}}
        rows += evaluate_images(images["gt"], methods, dataset=name)
        tag = name.replace(" ", "_")
        figures.append(comparison_figure(images["raw"][0], {m: images[m][0] for m in method_order[1:]},
                                         images["gt"][0], out / "report" / f"{tag}.png", title=name))
        for kind in ("raw", "CARE", "gt"):
            write_image(out / "images" / f"{tag}_{kind}.tif", Image(images[kind][0], "YX", pixel_size))
    csv_path = write_csv(rows, out / "report" / "results.csv")
    table = markdown_table(rows)
    (out / "report" / "results.md").write_text(
        "# carekit demo: CARE vs baselines on held-out semi-synthetic HeLa images\n\n" + table)
    print("\n" + table)
    return rows, figures, csv_path


def _print_where(summary: dict) -> None:
    print(f"package:   {summary['package']}\nreport:    {summary['report']} (+ results.csv)\n"
          f"figures:   {', '.join(summary['figures'])}\nhistory:   {summary['history_plot']}\n"
          f"done in {summary['seconds']:.0f} s\n"
          "next:      your own images? Start from the generalist model and train a few minutes on them (README, "
          "'Start from the generalist model'); --compare-on lets your noisy images choose (no ground truth needed) "
          "and keeps the generalist's weights where they restore those better:\n           carekit train --from "
          "model-zoo/care-generalist-nuclei-denoising.zip --model models/mine --clean YOUR_HIGH_SNR_DIR --photons 3 "
          "10 --epochs 8 --steps 40 --compare-on YOUR_IMAGES\n           or use it as it is (it restores at the scale "
          "estimated to restore best and mixes in classical denoising where that is estimated to help, its own "
          "--rescale search and --classical-blend):\n           carekit predict --model "
          "model-zoo/care-generalist-nuclei-denoising.zip YOUR_IMAGES --out restored\n           (carekit compare "
          "--model A B YOUR_IMAGES: the same choice between any two denoising models)")


def _compare_with_classical(model, datasets: dict) -> dict:
    """Per noise level, what prediction says of the first held-out image from the noisy input alone
    (predict.classical_check): is the model estimated to beat classical denoising?"""
    from .predict.classical_check import compare_with_classical

    checks = {}
    for name, images in datasets.items():
        comparison = compare_with_classical(model, images["raw"][0], "YX")
        print(f"  {name}, no ground truth: the model is {comparison.summary()}")
        checks[name] = {"verdict": comparison.verdict, "classical": comparison.classical,
                        "difference": comparison.difference}
    return checks


def _run_in_imagej(package: Path, datasets: dict) -> float:
    from .fiji.run import run_in_fiji

    largest = 0.0
    for images in datasets.values():
        images["CARE (ImageJ)"] = []
        for low, python_result in zip(images["raw"], images["CARE"]):
            result = run_in_fiji(package, low).values
            images["CARE (ImageJ)"].append(result)
            largest = max(largest, float(np.abs(result - python_result).max()))
    return largest

"""More light, a worse result? The shipped generalist across light levels, and whether its training photon range is
why.

The shipped generalist was trained at 1-50 photons (log-uniform). At 30 photons it loses to the oracle-tuned
baselines by 8 dB on mahotas (a dataset it trained on; classical_blend_photons-5-30.md). This benchmark fine-tunes
it (`--epochs` x 40 steps, seed 1, the recipe's settings otherwise) on generalist pairs of its own training images
with two photon ranges: the recipe's 1-50 (the control: as many more steps) and 1-1000, and scores the three on the
held-out images (generalist_benchmark.test_pairs, carekit's camera) at 3, 10, 30 and 100 photons beside the best
oracle-tuned baseline, each with rescale 'search' (the shipped generalist's own mode; a model fine-tuned from it
records none, as train --from does once its weights leave the start's).

    .venv/bin/python benchmarks/light_range_benchmark.py [--stage train|score|all|warnings|floor|blend]
                                                         [--epochs 10] [--images 1]

Also: the shipped generalist's out-of-range warnings on each image (with the level for less noise than in training,
which was chosen on these images), what it does to clean input, and what `--classical-blend` makes of it at each
level (`--stage warnings` / `floor` / `blend` add them to the results as they are). Models:
benchmarks/_work/light_range/ (remove it to train again); results: benchmarks/results/light_range.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, RESULTS, SHIPPED, test_pairs  # noqa: E402
from light_range_tables import (BLENDED_NAME, LEVELS, RANGES, SHIPPED_NAME, blend_table, floor_table,  # noqa: E402
                                markdown)
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "light_range"
DATASETS = ("hela", "bbbc007", "mahotas", "nuclei3d", "gowt1", "dsb2018")


def folder(name: str) -> Path:
    return WORK / name.replace(" ", "_")


def train(epochs: int) -> dict:
    """Fine-tune the shipped generalist with each photon range; {name: seconds}."""
    from carekit.cli.train_from import resolve
    from carekit.generalist import OWN_RESCALE, recipe, training_data
    from carekit.synth.generalist import GeneralistSettings
    from carekit.train.care import train_care

    seconds = {}
    for name, photons in RANGES.items():
        lows, highs, info = training_data(None, replace(GeneralistSettings(), photons=photons, seed=1))
        started = time.perf_counter()
        train_care(lows, highs, recipe(epochs=epochs, steps_per_epoch=40, seed=1), folder(name), data_info=info,
                   progress=False, record_fields={"rescale": OWN_RESCALE}, init_from=resolve(str(SHIPPED)))
        seconds[name] = round(time.perf_counter() - started)
        print(f"{name}: {seconds[name]} s", flush=True)
    return seconds


def moved() -> list[str]:
    """The fine-tuned models whose weights left the shipped ones (the others kept them: no epoch beat them on
    validation, and train --from then keeps the start's rescale mode: its sign here)."""
    from carekit.config import ModelRecord

    return [name for name in RANGES if ModelRecord.load(folder(name)).rescale is None]


def score_all(images: int) -> list[dict]:
    """Per held-out image and light level: PSNR of the noisy input, the best baseline and every model."""
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score
    from carekit.models import load_model
    from carekit.predict import restore

    runners = {SHIPPED_NAME: load_model(SHIPPED), **{name: load_model(folder(name)) for name in moved()}}
    rows = []
    for dataset in DATASETS:
        for photons in LEVELS:
            lows, highs = test_pairs(dataset, photons)
            for index, (low, high) in enumerate(zip(lows[:images], highs[:images])):
                low = low.astype(np.float32)
                baselines = {k: score(high, v).psnr for k, v in run_baselines(low, high, camera=CAMERA).items()}
                models = {name: score(high, restore(runner, low, axes="YX", progress=False, check_domain=False,
                                                    rescale="search", classical_blend=False).image).psnr
                          for name, runner in runners.items()}
                rows.append({"dataset": dataset, "photons": photons, "image": index, "noisy": score(high, low).psnr,
                             "best_baseline": max(baselines, key=baselines.get),
                             "baseline_psnr": max(baselines.values()), "models": models})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def add_warnings(rows: list[dict]) -> None:
    """Each row's out-of-range warnings for the shipped generalist (restore() as carekit predicts: its rescale
    search, checks on; without its blend, as when they were recorded: the blend changes their hint, not whether
    they fire), the statistics they came from (at search's factor; the noise at full size too) and the
    noise of the reference itself, in place."""
    from carekit.domain import FULL_SIZE_NOISE, noise_statistic
    from carekit.models import load_model
    from carekit.predict import restore
    from carekit.predict.domain_check import OutOfRangeWarning, input_statistics

    runner = load_model(SHIPPED)
    for row in rows:
        lows, highs = test_pairs(row["dataset"], row["photons"])
        low = lows[row["image"]].astype(np.float32)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OutOfRangeWarning)
            factor = restore(runner, low, axes="YX", progress=False, classical_blend=False).factor
        row["warnings"] = [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]
        stats = input_statistics(runner.spec, low, factor)
        row["statistics"] = {"factor": factor, "noise": stats["noise"],
                             "noise_full_size": stats.get(FULL_SIZE_NOISE, stats["noise"]),
                             "reference_noise": noise_statistic([highs[row["image"]]])}
    rows[0]["training_noise_low"] = runner.spec.domain["noise"][0]


def add_blend(rows: list[dict]) -> None:
    """Each row's shipped generalist with the classical blend (restore(..., classical_blend=True) with its rescale
    search): PSNR as a model of its own, and SSIM, the share and the seconds beside the model's alone, in place."""
    from carekit.evaluate.metrics import score
    from carekit.models import load_model
    from carekit.predict import restore

    runner = load_model(SHIPPED)
    for row in rows:
        lows, highs = test_pairs(row["dataset"], row["photons"])
        low, high = lows[row["image"]].astype(np.float32), highs[row["image"]]
        alone = score(high, restore(runner, low, axes="YX", progress=False, check_domain=False,
                                    classical_blend=False).image)
        started = time.perf_counter()
        result = restore(runner, low, axes="YX", progress=False, check_domain=False, classical_blend=True)
        seconds = time.perf_counter() - started
        mixed, (choice,) = score(high, result.image), result.classical_blend
        row["models"][BLENDED_NAME] = mixed.psnr
        row["blend"] = {"share": choice.share, "classical": choice.classical, "ssim_model": alone.ssim,
                        "ssim_blended": mixed.ssim, "seconds": round(seconds, 1)}
        print(json.dumps({k: row[k] for k in ("dataset", "photons", "blend")}), flush=True)


def floor(images: int) -> list[dict]:
    """What the shipped generalist does to a clean input (each dataset's held-out reference, restored as it is),
    and at 100 photons how much of its squared error is smooth (survives a Gaussian blur of sigma 8 px)."""
    from scipy import ndimage

    from carekit.evaluate.metrics import score
    from carekit.models import load_model
    from carekit.normalize import affine_fit, normalize_ground_truth
    from carekit.predict import restore

    runner = load_model(SHIPPED)
    rows = []
    for dataset in DATASETS:
        lows, highs = test_pairs(dataset, 100.0)
        for index, (low, high) in enumerate(zip(lows[:images], highs[:images])):
            clean = restore(runner, high.astype(np.float32), axes="YX", progress=False, check_domain=False,
                            classical_blend=False)
            noisy = restore(runner, low.astype(np.float32), axes="YX", progress=False, check_domain=False,
                            classical_blend=False)
            truth = normalize_ground_truth(high)
            error = affine_fit(noisy.image, truth) - truth
            rows.append({"dataset": dataset, "image": index, "clean_input_psnr": score(high, clean.image).psnr,
                         "smooth_error_share_100_photons": float(np.mean(ndimage.gaussian_filter(error, 8) ** 2)
                                                                 / np.mean(error ** 2))})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("train", "score", "all", "warnings", "floor", "blend"), default="all",
                        help="warnings / floor / blend: add the shipped generalist's out-of-range warnings / what it "
                        "does to clean input / its classical blend to the results as they are (all does each)")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs of 40 steps")
    parser.add_argument("--images", type=int, default=1, help="held-out images per dataset")
    args = parser.parse_args()
    if args.stage in ("warnings", "floor", "blend"):
        results = json.loads((RESULTS / "light_range.json").read_text())
        if args.stage == "warnings":
            add_warnings(results["rows"])
        elif args.stage == "blend":
            add_blend(results["rows"])
        else:
            results["floor"] = floor(args.images)
        write(results)
        return
    started = time.perf_counter()
    seconds = train(args.epochs) if args.stage in ("train", "all") else None
    if args.stage == "train":
        return
    rows = score_all(args.images)
    add_warnings(rows)
    add_blend(rows)
    floor_rows = floor(args.images)
    results = {"protocol": {"levels": LEVELS, "camera": CAMERA, "ranges": RANGES, "steps": args.epochs * 40,
                            "training_seconds": seconds, "machine": machine(), "load_average": os.getloadavg(),
                            "minutes": round((time.perf_counter() - started) / 60, 1)}, "rows": rows,
               "floor": floor_rows}
    write(results)


def write(results: dict) -> None:
    (RESULTS / "light_range.json").write_text(json.dumps(results, indent=1))
    text = markdown(results["rows"], results["protocol"]["steps"])
    if "blend" in results["rows"][0]:
        text += "\n".join(blend_table(results["rows"])) + "\n"
    if "floor" in results:
        text += "\n".join(floor_table(results["floor"])) + "\n"
    (RESULTS / "light_range.md").write_text(text + f"\n{results['protocol']['machine']}.\n")
    print(text)


if __name__ == "__main__":
    main()

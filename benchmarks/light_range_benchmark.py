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
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "light_range"
RANGES = {"fine-tuned at 1-50 photons": (1.0, 50.0), "fine-tuned at 1-1000 photons": (1.0, 1000.0)}
LEVELS = (3.0, 10.0, 30.0, 100.0)
DATASETS = ("hela", "bbbc007", "mahotas", "nuclei3d", "gowt1", "dsb2018")
SHIPPED_NAME = "shipped generalist"
BLENDED_NAME = "shipped generalist + classical blend"


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
    search, checks on), the statistics they came from (at search's factor; the noise at full size too) and the
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
            factor = restore(runner, low, axes="YX", progress=False).factor
        row["warnings"] = [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]
        stats = input_statistics(runner.spec, low, factor)
        row["statistics"] = {"factor": factor, "noise": stats["noise"],
                             "noise_full_size": stats.get(FULL_SIZE_NOISE, stats["noise"]),
                             "reference_noise": noise_statistic([highs[row["image"]]])}
    rows[0]["training_noise_low"] = runner.spec.domain["noise"][0]


def alternatives(rows: list[dict], apart: tuple[str, ...]) -> list[str]:
    """How many losses and wins other rules for less noise than in training would warn on."""
    from carekit.domain import TOLERANCE, TOLERANCE_BELOW

    low, previous, below = rows[0]["training_noise_low"], TOLERANCE["noise"], TOLERANCE_BELOW["noise"]
    rules = {f"the previous rule ({previous:g}x below, on the noise the network sees)":
             lambda s: s["noise"] < low / previous,
             f"{below:g}x below, on the noise the network sees": lambda s: s["noise"] < low / below,
             f"this rule ({below:g}x below, on the full-size noise)": lambda s: s["noise_full_size"] < low / below}
    judged = [r for r in rows if r["dataset"] not in apart]
    lost = [r for r in judged if r["models"][SHIPPED_NAME] < r["baseline_psnr"]]
    won = [r for r in judged if r not in lost]
    return [f"- {name}: {sum(rule(r['statistics']) for r in lost)} of {len(lost)} losses, "
            f"{sum(rule(r['statistics']) for r in won)} of {len(won)} wins" for name, rule in rules.items()]


def confusion(rows: list[dict], apart: tuple[str, ...]) -> list[str]:
    """The shipped generalist's out-of-range warnings (any OutOfRangeWarning) against its losses to the best
    baseline, the datasets `apart` left out."""
    cells = {(lost, warned): 0 for lost in (True, False) for warned in (True, False)}
    for row in rows:
        if row["dataset"] not in apart:
            cells[(row["models"][SHIPPED_NAME] < row["baseline_psnr"], bool(row["warnings"]))] += 1
    return ["", f"Every level, all datasets but {' and '.join(apart)}:", "",
            "| | warned | quiet |", "| --- | --- | --- |",
            f"| lost | {cells[(True, True)]} | {cells[(True, False)]} |",
            f"| won | {cells[(False, True)]} | {cells[(False, False)]} |"]


def warning_tables(rows: list[dict]) -> list[str]:
    """The confusion tables, also without the references that hold noise of their own (nuclei3d, a raw confocal
    plane; dsb2018), which no denoiser reproduces at high light."""
    lines = ["", "The shipped generalist's out-of-range warnings (restore() as carekit predicts, any "
             "OutOfRangeWarning) against its losses to the best baseline. The level for less noise than in "
             "training was chosen on these images.",
             *confusion(rows, ("nuclei3d",)), *confusion(rows, ("nuclei3d", "dsb2018"))]
    if "statistics" in rows[0]:
        lines += ["", "Noise of the references themselves (normalized units, as the statistic): " + ", ".join(
            f"{r['dataset']} {r['statistics']['reference_noise']:.3f}" for r in rows if r["photons"] == LEVELS[0])
            + "."]
        for apart in (("nuclei3d",), ("nuclei3d", "dsb2018")):
            lines += ["", f"Rules for less noise than in training alone, all datasets but {' and '.join(apart)} "
                      f"(training range from {rows[0]['training_noise_low']:.4f}):", "", *alternatives(rows, apart)]
    return lines


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


def blend_table(rows: list[dict]) -> list[str]:
    return ["", "The shipped generalist with `--classical-blend` (its rescale search; the share is the model's, 1: not "
            "mixed), SSIM without and with it, and the seconds restore() took with it:", "",
            "| dataset | photons | margin alone | margin blended | share | classical | SSIM alone -> blended | s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *(f"| {r['dataset']} | {r['photons']:g} | {r['models'][SHIPPED_NAME] - r['baseline_psnr']:+.2f} | "
              f"{r['models'][BLENDED_NAME] - r['baseline_psnr']:+.2f} | {r['blend']['share']:g} | "
              f"{r['blend']['classical']} | {r['blend']['ssim_model']:.3f} -> {r['blend']['ssim_blended']:.3f} | "
              f"{r['blend']['seconds']:g} |" for r in rows)]


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


def floor_table(rows: list[dict]) -> list[str]:
    return ["", "The shipped generalist given the clean reference as input (PSNR against it), and at 100 photons the "
            "share of its squared error left after a Gaussian blur of sigma 8 px (smooth, large-scale error):", "",
            "| dataset | clean input -> PSNR | smooth share of the error at 100 photons |", "| --- | --- | --- |",
            *(f"| {r['dataset']} | {r['clean_input_psnr']:.2f} | {r['smooth_error_share_100_photons']:.0%} |"
              for r in rows)]


def level_margins(rows: list[dict], name: str) -> dict[float, float]:
    """{photons: mean margin of model `name` over the best baseline} over the rows' datasets."""
    levels = sorted({r["photons"] for r in rows})
    return {level: float(np.mean([r["models"][name] - r["baseline_psnr"] for r in rows if r["photons"] == level]))
            for level in levels}


def markdown(rows: list[dict], steps: int) -> str:
    names = list(rows[0]["models"])
    kept = [name for name in RANGES if name not in names]
    lines = ["# The shipped generalist across light levels, and its training photon range", "",
             f"Mean PSNR in dB over the held-out images (margin over the best oracle-tuned baseline). Fine-tuned: "
             f"the shipped generalist trained {steps} more steps on generalist pairs of its own training images with "
             "that photon range (1-50 is the recipe's: the control). Each restores with rescale 'search' (the "
             "shipped generalist's own mode; a fine-tuned model records none)."
             + "".join(f" {name}: no epoch beat the shipped weights on validation, so it kept them (its scores are "
                       "the shipped model's)." for name in kept), "",
             "| dataset | photons | images | noisy | best baseline | " + " | ".join(names) + " |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["photons"]) == key]
        base = np.array([r["baseline_psnr"] for r in group])
        cells = []
        for name in names:
            got = np.array([r["models"][name] for r in group])
            cells.append(f"{got.mean():.2f} ({(got - base).mean():+.2f})")
        lines.append(f"| {key[0]} | {key[1]:g} | {len(group)} | {np.mean([r['noisy'] for r in group]):.2f} | "
                     f"{base.mean():.2f} | " + " | ".join(cells) + " |")
    lines += ["", "Mean margin over the best baseline per light level (all datasets):", "",
              "| photons | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
    margins = {n: level_margins(rows, n) for n in names}
    for photons in LEVELS:
        lines.append(f"| {photons:g} | " + " | ".join(f"{margins[n][photons]:+.2f}" for n in names) + " |")
    return "\n".join(lines + (warning_tables(rows) if "warnings" in rows[0] else [])) + "\n"


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

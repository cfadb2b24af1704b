"""Fine-tuning the generalist with `--compare-on`: does comparing the two models on the user's noisy images leave the
user with the better of the generalist and the model fine-tuned from it?

    .venv/bin/python benchmarks/compare_on_benchmark.py [--datasets mahotas gowt1 ...] [--epochs 10]

Per dataset (the built-in 2D sets and gowt1): the shipped generalist fine-tuned on the dataset's training images as
`carekit train --from` trains (semi-synthetic pairs at 3 and 10 photons, EPOCHS x 40 steps, fp32, seed 0; its
validation guard included), once. Then per photon level the dataset's held-out noisy images
(generalist_benchmark.test_pairs: central crops of at most 512x512, carekit's camera) are written as TIFFs and given to
`--compare-on` as the CLI runs it (cli.start_comparison.prepared and choose_on_images, on a copy of the fine-tuned folder), and
the generalist (with its own search), the fine-tuned model and the model `--compare-on` leaves are scored against the
truth (mean PSNR over the level's images) beside the best classical baseline of each image (the baselines of
generalist_benchmark). The shipped generalist saw the training images of hela, bbbc007 and mahotas, not their
held-out images; gowt1 and nuclei3d it never saw. Results: benchmarks/results/compare_on.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, PHOTONS, RESULTS, SHIPPED, test_pairs  # noqa: E402
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "compare_on"
STEPS_PER_EPOCH = 40
LEVEL_DB = 0.1  # mean PSNRs this close count as level: either model is the right one to keep


def fine_tuned(dataset: str, epochs: int):
    """The shipped generalist fine-tuned on `dataset`'s training images (train.care.TrainResult), and the seconds it
    took; trained once per dataset and budget (WORK; --retrain trains again)."""
    from carekit.cli.train_from import resolve
    from carekit.config import SynthConfig
    from carekit.generalist import recipe, splits
    from carekit.synth.pairs import make_pairs
    from carekit.train.care import TrainResult, train_care

    folder = WORK / f"fine-tuned-{dataset}-{epochs}x{STEPS_PER_EPOCH}"
    trained = folder / "benchmark.json"  # written last: the training finished
    saved = json.loads(trained.read_text()) if trained.exists() else {}
    if saved.get("start") == start_identity():
        return TrainResult(**{**saved["result"], **{k: folder / saved["result"][k] for k in PATHS}}), saved["seconds"]
    shutil.rmtree(folder, ignore_errors=True)
    lows, highs = make_pairs(splits([dataset])[dataset][0], SynthConfig(photons=list(PHOTONS), seed=100))
    config = recipe(epochs=epochs, steps_per_epoch=STEPS_PER_EPOCH).model_copy(update={"precision": "fp32"})
    start = time.perf_counter()
    result = train_care(lows, highs, config, folder, progress=False, init_from=resolve(str(SHIPPED)))
    seconds = time.perf_counter() - start
    fields = {**asdict(result), **{k: str(getattr(result, k).relative_to(folder)) for k in PATHS}}
    trained.write_text(json.dumps({"result": fields, "seconds": seconds, "start": start_identity()}))
    return result, seconds


def start_identity() -> dict:
    """What a reused fine-tuned model must have started from: the shipped generalist's bytes and the carekit version
    (a model trained from another generalist or by other code is trained again)."""
    import hashlib

    from carekit import __version__

    weights = SHIPPED if SHIPPED.is_file() else SHIPPED / "weights_best.h5"
    return {"generalist_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "carekit": __version__}


PATHS = ("model_dir", "history_csv", "history_plot")  # TrainResult's paths, saved relative to the model folder


def compared_on(result, dataset: str, photons: float, lows) -> tuple[Path, str, float]:
    """(the model folder `--compare-on` leaves, its lines, seconds) for the held-out noisy images `lows`."""
    from carekit.cli.start_comparison import choose_on_images, prepared
    from carekit.io import write_image

    images = WORK / "images" / f"{dataset}-{photons:g}"
    images.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, low in enumerate(lows):
        paths.append(str(images / f"{index}.tif"))
        write_image(paths[-1], low, "YX")
    folder = WORK / f"{result.model_dir.name}-compared-on-{photons:g}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(result.model_dir, folder)
    start = time.perf_counter()
    lines = choose_on_images(replace(result, model_dir=folder), prepared(str(SHIPPED), paths))
    return folder, lines, time.perf_counter() - start


def mean_psnr(model, lows, highs) -> float:
    """Mean PSNR of `model` restoring as carekit runs it (its own rescale mode: the generalist's search)."""
    from carekit.evaluate.metrics import score
    from carekit.predict import restore
    from carekit.predict.rescale import MODEL

    return float(np.mean([score(high, restore(model, low, axes="YX", progress=False, check_domain=False,
                                              rescale=MODEL,
                                              classical_blend=False).image).psnr for low, high in zip(lows, highs)]))


def best_baseline(lows, highs) -> float:
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score

    return float(np.mean([max(score(high, result).psnr for result in run_baselines(low, high, camera=CAMERA).values())
                          for low, high in zip(lows, highs)]))


def dataset_rows(dataset: str, epochs: int) -> list[dict]:
    from carekit.config import ModelRecord
    from carekit.models import load_model

    result, train_seconds = fine_tuned(dataset, epochs)
    generalist, tuned = load_model(SHIPPED), load_model(result.model_dir)
    rows = []
    for photons in PHOTONS:
        lows, highs = test_pairs(dataset, photons)
        kept, lines, compare_seconds = compared_on(result, dataset, photons, lows)
        returned = ModelRecord.load(kept).start_chosen_on_images
        psnr = {"generalist": mean_psnr(generalist, lows, highs), "fine-tuned": mean_psnr(tuned, lows, highs)}
        psnr["--compare-on"] = psnr["generalist" if returned else "fine-tuned"]
        choice = "generalist (validation)" if result.kept_start else "generalist" if returned else "fine-tuned"
        assert abs(mean_psnr(load_model(kept), lows, highs) - psnr["--compare-on"]) < 0.01  # what it left runs so
        rows.append({"dataset": dataset, "photons": photons, "images": len(lows),
                     "best_baseline": best_baseline(lows, highs),
                     "psnr": psnr, "kept": choice,
                     "improved_on_validation": not result.kept_start, "verdict": lines.splitlines()[-2:],
                     "train_seconds": round(train_seconds), "compare_seconds": round(compare_seconds, 1),
                     "steps": epochs * STEPS_PER_EPOCH})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def right_choice(row: dict) -> str | None:
    """The model truly better on the level's images; None where they are within LEVEL_DB."""
    difference = row["psnr"]["generalist"] - row["psnr"]["fine-tuned"]
    return None if abs(difference) < LEVEL_DB else "generalist" if difference > 0 else "fine-tuned"


def markdown(rows: list[dict]) -> str:
    compared = [r for r in rows if r["improved_on_validation"] and right_choice(r) is not None]
    lines = ["# Fine-tuning the generalist with `--compare-on`", "",
             f"Shipped generalist fine-tuned on each dataset's training images ({rows[0]['steps']} steps, fp32), then "
             "compared with it on the dataset's held-out noisy images at one light level (`--compare-on`). Mean PSNR "
             "(dB) over those images against the truth. Where fine-tuning beat the generalist's validation loss "
             "and the two are at least {:g} dB apart, `--compare-on` kept the truly better model in {} of {} cases. "
             "\"generalist (validation)\": fine-tuning never beat the generalist's validation loss, so there was "
             "nothing to compare.".format(LEVEL_DB, sum(r["kept"] == right_choice(r) for r in compared), len(compared)),
             "", "| dataset | photons | images | best baseline | generalist | fine-tuned | the model kept | which | "
             "right | fine-tuning s | compare s |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        truth = right_choice(r)
        verdict = ("-" if not r["improved_on_validation"] else "level" if truth is None
                   else "yes" if r["kept"] == truth else "**no**")
        p = r["psnr"]
        lines.append(f"| {r['dataset']} | {r['photons']:g} | {r['images']} | {r['best_baseline']:.2f} | "
                     f"{p['generalist']:.2f} | {p['fine-tuned']:.2f} | {p['--compare-on']:.2f} | {r['kept']} | "
                     f"{verdict} | {r['train_seconds']} | {r['compare_seconds']:.1f} |")
    lines += ["", "Over the best baseline (dB, mean over the cases): " + ", ".join(
        f"{name} {np.mean([r['psnr'][name] - r['best_baseline'] for r in rows]):+.2f}"
        for name in ("generalist", "fine-tuned", "--compare-on")) + ", the better of the two in each case "
        f"{np.mean([max(r['psnr']['generalist'], r['psnr']['fine-tuned']) - r['best_baseline'] for r in rows]):+.2f}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    from carekit.generalist import DATASETS, UNSEEN_DATASETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS + UNSEEN_DATASETS))
    parser.add_argument("--epochs", type=int, default=10, help=f"fine-tuning epochs of {STEPS_PER_EPOCH} steps")
    parser.add_argument("--retrain", action="store_true", help="train the fine-tuned models again (else reused)")
    args = parser.parse_args()
    if args.retrain:
        shutil.rmtree(WORK, ignore_errors=True)
    rows = [row for dataset in args.datasets for row in dataset_rows(dataset, args.epochs)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare_on.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    (RESULTS / "compare_on.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()

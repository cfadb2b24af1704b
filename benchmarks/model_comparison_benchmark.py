"""`carekit compare` (predict.model_comparison): does the estimate from the noisy image alone pick the model that
restores better against the truth?

    .venv/bin/python benchmarks/model_comparison_benchmark.py

Pairs of models, each run as carekit runs it (its own rescale mode: search for the generalist, none for the others):
- the shipped generalist against the shipped HeLa model (an in-domain specialist on HeLa, out of its depth elsewhere);
- the shipped generalist against itself at full size (what its search chose against no rescaling, judged on another
  recorrupted pair than search's own);
- the shipped generalist against a model fine-tuned from it on a dataset's training images (carekit train --from:
  semi-synthetic pairs at 3 and 10 photons, 30 x 40 steps, fp32): mahotas' one training image, the case where
  fine-tuning beat the generalist on its validation patches and lost on held-out images
  (finetune_mahotas-100x40-f32-rescale-search.md), and gowt1's 26 training frames, where it wins
  (finetune_gowt1-100x40-f32.md).
Test: the held-out images of every built-in dataset and of gowt1 (generalist_benchmark.test_pairs: central 512x512
crops, carekit's camera, 3 and 10 photons). Per case: the true PSNR difference of the two restorations and the
comparison's verdict (first better, level, second better). Results: benchmarks/results/model_comparison.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import PHOTONS, RESULTS, SHIPPED, ZOO, test_pairs  # noqa: E402
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "model_comparison"
FINE_TUNE_EPOCHS = 30
# mahotas: one training image, where fine-tuning beat the generalist on its validation patches only; gowt1: 26 frames,
# where fine-tuning beats it on held-out frames too (finetune_gowt1-100x40-f32.md)
FINE_TUNED_ON = ("mahotas", "gowt1")
LEVEL_DB = 0.1  # a true difference this small counts as level


def fine_tuned(dataset: str) -> Path:
    """A model fine-tuned from the shipped generalist on `dataset`'s training images, as `carekit train --from`
    trains (its guard included); trained once (WORK)."""
    from carekit.cli.train_from import resolve
    from carekit.config import SynthConfig
    from carekit.generalist import recipe, splits
    from carekit.synth.pairs import make_pairs
    from carekit.train.care import train_care

    folder = WORK / f"fine-tuned-{dataset}"
    if (folder / "weights_best.h5").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    lows, highs = make_pairs(splits([dataset])[dataset][0], SynthConfig(photons=list(PHOTONS), seed=100))
    config = recipe(epochs=FINE_TUNE_EPOCHS, steps_per_epoch=40).model_copy(update={"precision": "fp32"})
    train_care(lows, highs, config, folder, progress=False, init_from=resolve(str(SHIPPED)))
    return folder


def pairs() -> dict:
    """{name: ((first name, first model), (second name, second model), rescale modes)}."""
    from carekit.predict.rescale import MODEL

    hela = ZOO / "care-hela-nuclei-denoising.zip"
    return {"generalist vs HeLa model": (("generalist", SHIPPED), ("HeLa model", hela), (MODEL, MODEL)),
            "generalist: search vs full size": (("search", SHIPPED), ("full size", SHIPPED), (MODEL, 1)),
            **{f"generalist vs fine-tuned on {dataset}": (("generalist", SHIPPED), ("fine-tuned", fine_tuned(dataset)),
                                                          (MODEL, MODEL)) for dataset in FINE_TUNED_ON}}


def case(runners, modes, low, high) -> dict:
    from carekit.evaluate.metrics import score
    from carekit.predict import restore
    from carekit.predict.model_comparison import compare_models

    start = time.perf_counter()
    comparison = compare_models(*runners, low, rescale=modes)
    seconds = time.perf_counter() - start
    psnr = [score(high, restore(r, low, progress=False, check_domain=False, rescale=m,
                                classical_blend=False).image).psnr
            for r, m in zip(runners, modes)]
    return {"true_difference_db": round(psnr[0] - psnr[1], 2), "better": comparison.better,
            "difference": comparison.difference, "standard_error": comparison.standard_error
            / comparison.noise_variance, "factors": comparison.factors, "seconds": round(seconds, 2)}


def truly_better(row: dict) -> int | None:
    difference = row["true_difference_db"]
    return None if abs(difference) < LEVEL_DB else 0 if difference > 0 else 1


def markdown(rows: list[dict]) -> str:
    lines = ["# `carekit compare`: the better of two models, estimated without ground truth", "",
             f"Per case the estimate's verdict against the true PSNR difference (different: at least {LEVEL_DB:g} dB "
             "apart). Right: the verdict names the truly better model; wrong: it names the other; level: neither. "
             f"{np.median([r['seconds'] for r in rows]):.1f} s per comparison on median (2 CPU cores).", "",
             "| pair | cases | truly different | right | level | wrong | their true difference when called level | "
             "truly level: called level |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for pair in dict.fromkeys(r["pair"] for r in rows):
        group = [r for r in rows if r["pair"] == pair]
        different = [r for r in group if truly_better(r) is not None]
        right = sum(r["better"] == truly_better(r) for r in different)
        level = [abs(r["true_difference_db"]) for r in different if r["better"] is None]
        same = [r for r in group if truly_better(r) is None]
        spread = f"{min(level):.2f}-{max(level):.2f} dB" if level else "-"
        lines.append(f"| {pair} | {len(group)} | {len(different)} | {right} | {len(level)} | "
                     f"{len(different) - right - len(level)} | {spread} | "
                     f"{sum(r['better'] is None for r in same)} of {len(same)} |")
    lines += ["", "| pair | dataset | photons | image | true difference (dB, first - second) | verdict | factors |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        verdict = "level" if r["better"] is None else r["names"][r["better"]]
        lines.append(f"| {r['pair']} | {r['dataset']} | {r['photons']:g} | {r['image']} | "
                     f"{r['true_difference_db']:+.2f} | {verdict} | {' / '.join(f'{f:g}' for f in r['factors'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from carekit.generalist import DATASETS, UNSEEN_DATASETS
    from carekit.models import load_model

    rows = []
    for pair, ((first, a), (second, b), modes) in pairs().items():
        runners = (load_model(a), load_model(b))
        for dataset in DATASETS + UNSEEN_DATASETS:
            for photons in PHOTONS:
                for index, (low, high) in enumerate(zip(*test_pairs(dataset, photons))):
                    rows.append({"pair": pair, "names": (first, second), "dataset": dataset, "photons": photons,
                                 "image": index, **case(runners, modes, low, high)})
                    print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model_comparison.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    (RESULTS / "model_comparison.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

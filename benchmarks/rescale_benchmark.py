"""Restoring at the model's object scale (carekit.predict.rescale): PSNR with the input downsampled by fixed factors
and by `rescale="auto"`, against no rescaling.

    .venv/bin/python benchmarks/rescale_benchmark.py

Two cases, each at 3 and 10 photons with carekit's camera (background 1 photon, read noise 2, offset 100):
- "left out": each leave-one-dataset-out generalist of generalist_benchmark.py (the recipe's protocol; trained there
  first when a fresh clone lacks it) on the held-out images of the dataset it never saw, the same test pairs as that
  benchmark (whose per-image best oracle-tuned baseline is quoted from its results,
  benchmarks/results/generalist-100x40-f32.json);
- "magnified": the shipped generalist on central crops of held-out images magnified 2, 3 and 4x (cubic) before the
  noise, i.e. objects larger than it was trained on. A magnified truth is smoother than a real one at that scale,
  so these gains are upper bounds.
Each row records the input's object scale over the model's training median (carekit.domain), the factor "auto"
chose, and the PSNR for every fixed factor. Results: benchmarks/results/rescale.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import (DEFAULT_PROTOCOL, PHOTONS, RECIPE_RESULTS, RESULTS, SHIPPED, _central,  # noqa: E402
                                  lodo_dir, test_pairs, train_all)
from precision_benchmark import machine  # noqa: E402

FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
MAGNIFICATIONS = (2, 3, 4)
SIDE = 512  # magnified images: this size, from a central crop of SIDE / magnification


def scores(runner, low: np.ndarray, high: np.ndarray) -> dict:
    from carekit.evaluate.metrics import score
    from carekit.predict import restore
    from carekit.predict.domain_check import input_statistics
    from carekit.predict.rescale import AUTO, rescale_factor

    def psnr(rescale) -> float:
        restored = restore(runner, low, axes="YX", progress=False, check_domain=False, rescale=rescale,
                           classical_blend=False).image
        return round(score(high, restored).psnr, 2)

    ratio = input_statistics(runner.spec, low)["scale_px"] / runner.spec.domain["scale_px"][1]
    return {"scale_ratio": round(ratio, 2), "auto_factor": round(rescale_factor(AUTO, runner.spec, low), 2),
            "psnr": {f"{f:g}": psnr(f) for f in FACTORS}, "psnr_auto": psnr(AUTO)}


def left_out_rows() -> list[dict]:
    from carekit.generalist import DATASETS
    from carekit.models import load_model

    train_all(*DEFAULT_PROTOCOL[:2])  # no-op where the models exist
    baselines = {(r["dataset"], r["photons"], r["image"]): r["best_baseline_psnr"]
                 for r in json.loads(RECIPE_RESULTS.read_text())["rows"]}
    rows = []
    for name in DATASETS:
        runner = load_model(lodo_dir(name))
        for photons in PHOTONS:
            for index, (low, high) in enumerate(zip(*test_pairs(name, photons))):
                rows.append({"case": "left out", "dataset": name, "photons": photons, "image": index,
                             "best_baseline": baselines.get((name, photons, index)), **scores(runner, low, high)})
                print(rows[-1], flush=True)
    return rows


def magnified_rows() -> list[dict]:
    from carekit.config import SynthConfig
    from carekit.generalist import DATASETS, splits
    from carekit.models import load_model
    from carekit.synth.pairs import make_pairs

    runner = load_model(SHIPPED)
    rows = []
    for name in DATASETS:
        held_out = splits([name])[name][1][:2]
        for zoom in MAGNIFICATIONS:
            magnified = [np.clip(ndimage.zoom(_central(image, SIDE // zoom).astype(np.float32), zoom, order=3), 0,
                                 None) for image in held_out]
            for photons in PHOTONS:
                lows, highs = make_pairs(magnified, SynthConfig(photons=[photons], seed=2026))
                for index, (low, high) in enumerate(zip(lows, highs)):
                    rows.append({"case": f"magnified {zoom}x", "dataset": name, "photons": photons, "image": index,
                                 **scores(runner, low, high)})
                    print(rows[-1], flush=True)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys((r["case"], r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["case"], r["dataset"], r["photons"]) == key]
        mean = {f: float(np.mean([r["psnr"][f] for r in group])) for f in group[0]["psnr"]}
        best = max(mean, key=mean.get)
        baselines = [r.get("best_baseline") for r in group]
        out.append({"case": key[0], "dataset": key[1], "photons": key[2], "images": len(group),
                    "scale_ratio": _mean([r["scale_ratio"] for r in group]),
                    "auto_factor": _mean([r["auto_factor"] for r in group]),
                    "none": round(mean["1"], 2), "auto": _mean([r["psnr_auto"] for r in group]),
                    "best_factor": float(best), "best_fixed": round(mean[best], 2),
                    "best_baseline": _mean(baselines) if None not in baselines else None})
    return out


def _mean(values: list) -> float:
    return round(float(np.mean(values)), 2)


def markdown(summary: list[dict]) -> str:
    lines = ["# Restoring at the model's object scale", "",
             "PSNR (dB, mean over the images) of the generalist with the input downsampled before the network and the "
             "result upsampled back (carekit.predict.rescale): none, `rescale=\"auto\"`, and the best fixed factor "
             f"of {', '.join(f'{f:g}' for f in FACTORS)}. Ratio: the input's object scale over the model's training "
             "median. Left out: each leave-one-dataset-out generalist on the dataset it never saw; magnified: the "
             "shipped generalist on held-out crops magnified before the noise (a smoother truth than a real one: "
             "upper bounds).", "",
             "| case | dataset | photons | images | ratio | auto factor | none | auto | best fixed (factor) | "
             "best baseline |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for e in summary:
        baseline = "-" if e["best_baseline"] is None else f"{e['best_baseline']:.2f}"
        lines.append(f"| {e['case']} | {e['dataset']} | {e['photons']:g} | {e['images']} | {e['scale_ratio']:.2f} | "
                     f"{e['auto_factor']:.2f} | {e['none']:.2f} | {e['auto']:.2f} ({e['auto'] - e['none']:+.2f}) | "
                     f"{e['best_fixed']:.2f} ({e['best_factor']:g}) | {baseline} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    rows = left_out_rows() + magnified_rows()
    summary = summarize(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rescale.json").write_text(json.dumps({"machine": machine(), "factors": FACTORS, "summary": summary,
                                                      "rows": rows}, indent=2))
    (RESULTS / "rescale.md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

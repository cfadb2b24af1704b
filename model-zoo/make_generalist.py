"""Build the shipped generalist starting model: probabilistic CARE denoising trained on every built-in nuclei image set.

    .venv/bin/python model-zoo/make_generalist.py [--epochs 10] [--steps 40] [--stage train|package|all]

Training data (carekit.generalist, synth/generalist.py): the training images of hela, nuclei3d, bbbc007 and mahotas
(their held-out images are never used), 64 pairs per dataset, each a random crop at a random zoom (0.5-2x), Gaussian
blur (sigma 0-1.5 px, part of the clean image), photon level (1-50, log-uniform), background (0-5 photons) and read
noise (0.5-5); seed 0. The package README carries the held-out metrics and the leave-one-dataset-out protocol and
numbers of benchmarks/results/generalist.json (run benchmarks/generalist_benchmark.py first).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NAME = "care-generalist-nuclei-denoising"
PHOTONS = (3.0, 10.0)
CAMERA = {"gain": 1.0, "read_noise": 2.0, "offset": 100.0}
LODO = HERE.parent / "benchmarks" / "results" / "generalist.json"


def held_out_rows(model_dir: Path) -> list[dict]:
    """Per dataset and photon level: the mean raw / CARE / best oracle-tuned baseline scores on held-out images."""
    from carekit.config import SynthConfig
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score
    from carekit.generalist import DATASETS, splits
    from carekit.predict import restore
    from carekit.synth.pairs import make_pairs

    rows = []
    for name, (_, test) in splits(DATASETS).items():
        for photons in PHOTONS:
            lows, highs = make_pairs(test, SynthConfig(photons=[photons], seed=2026))
            raw, care, best = [], [], []
            for low, high in zip(lows, highs):
                raw.append(score(high, low).as_dict())
                care.append(score(high, restore(model_dir, low, axes="YX", progress=False).image).as_dict())
                best.append(max(score(high, b).psnr for b in run_baselines(low, high, camera=CAMERA).values()))
            rows.append({"name": f"{name}, {photons:g} photons ({len(test)} held-out)",
                         "raw": _mean(raw), "care": _mean(care), "best_baseline_psnr": round(float(np.mean(best)), 2)})
            print(rows[-1], flush=True)
    return rows


def _mean(scores: list[dict]) -> dict:
    return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}


def notes(rows: list[dict]) -> list[str]:
    lines = ["", "Best classical baseline on the same images (per image the best of Gaussian, NLM, TV and GAT+NLM, "
             "oracle-tuned on the ground truth): " + "; ".join(f"{r['name'].split(' (')[0]} {r['best_baseline_psnr']:.2f}"
                                                               for r in rows) + " dB PSNR.", ""]
    if LODO.exists():
        lodo = json.loads(LODO.read_text())
        lines += ["Leave-one-dataset-out protocol (benchmarks/generalist_benchmark.py): the same recipe trained "
                  f"{lodo['protocol']['epochs']} x {lodo['protocol']['steps_per_epoch']} steps without dataset D, "
                  "tested on D's held-out images (camera: background 1 photon, read noise 2, offset 100):", "",
                  "| left-out dataset | photons | best baseline PSNR | model PSNR | margin |",
                  "| --- | --- | --- | --- | --- |"]
        for e in lodo["summary"]:
            m = e["models"]["generalist without it (LODO)"]
            lines.append(f"| {e['dataset']} | {e['photons']:g} | {e['best_baseline']:.2f} | {m['psnr']:.2f} | "
                         f"{m['margin']:+.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--work", default=str(HERE / "_work"))
    parser.add_argument("--stage", choices=("train", "package", "all"), default="all")
    args = parser.parse_args()
    from carekit.generalist import recipe, train_generalist
    from carekit.zoo.package import build_package

    model_dir = Path(args.work) / NAME
    if args.stage in ("train", "all"):
        shutil.rmtree(model_dir, ignore_errors=True)
        train_generalist(model_dir, recipe(args.epochs, args.steps), progress=False)
    if args.stage == "train":
        return
    rows = held_out_rows(model_dir)
    evaluation = {"rows": rows, "notes": notes(rows)}
    result = build_package(
        model_dir, HERE / f"{NAME}.zip", name="CARE generalist nuclei denoising",
        description="A starting model for denoising 2D fluorescence images of nuclei from many microscopes: "
                    "probabilistic CARE trained on four real image sets (widefield HeLa, confocal cells3d planes, "
                    "BBBC007, mahotas nuclear.png) at random zoom (0.5-2x), blur, photon level (1-50), background "
                    "and read noise. Fine-tune it on your own data with `carekit train --from`.",
        authors=("carekit developers",), evaluation=evaluation, unzipped_folder=False,
        tags=("nuclei", "denoising", "generalist", "fluorescence", "2d"))
    shutil.copy(model_dir / "carekit.json", HERE / f"{NAME}.carekit.json")
    shutil.copy(model_dir / "history.png", HERE / f"{NAME}.history.png")
    (HERE / f"{NAME}.metrics.json").write_text(json.dumps(evaluation, indent=2))
    print(json.dumps(result.test_results), result.zip_path)


if __name__ == "__main__":
    main()

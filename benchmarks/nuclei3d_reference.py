"""Is the generalist's loss on nuclei3d the noisy reference's doing?

    .venv/bin/python benchmarks/nuclei3d_reference.py [--planes 1 3 5]

nuclei3d's "ground truth" is a raw confocal plane (generalist_benchmark.py tests its held-out planes, TEST_PICKS of
every 4th plane of the 60-plane stack), so its own noise caps any restoration that smooths it away. Per held-out plane
this records that noise (skimage's wavelet estimate, in units of the plane's 0.1-99.9 percentile range, the metric's
data range) and the PSNR cap it leaves: where the cap lies far above the scores, the reference's noise cannot explain
a loss. It then repeats the test with each held-out plane replaced by the mean of N consecutive planes centred on it
(0.29 um apart), that mean being both the clean image degraded at 3 and 10 photons (carekit's camera model, as in
generalist_benchmark.test_pairs: central 512x512 crops, seed 2026) and the reference. Averaging lowers the
reference's noise but also smooths the content along Z (neighbouring planes differ by more than their noise), which
favours smoothing baselines: those rows are not a clean test. N=1 reproduces generalist_benchmark.py's nuclei3d rows.
Compared: the best oracle-tuned classical baseline and the generalist that never saw nuclei3d (generalist_benchmark.py's
recipe; trained there first when missing), per image (generalist_benchmark.score_image).
Results: benchmarks/results/nuclei3d_reference.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import (DEFAULT_PROTOCOL, PHOTONS, RESULTS, _central, lodo_dir, score_image,  # noqa: E402
                                  train_all)
from generalist_error_bands import truth_noise  # noqa: E402

LODO = "generalist without it (LODO)"
EVERY = 4  # carekit.data.builtin.clean_images takes every 4th plane of the stack for 2D


def references(planes: int) -> list[np.ndarray]:
    """The held-out nuclei3d planes, each the mean of `planes` consecutive stack planes centred on it."""
    from carekit.data import builtin
    from carekit.synth.generalist import TEST_PICKS

    stack = builtin.load("nuclei3d").data.astype(np.float32)
    half = planes // 2
    centres = [EVERY * i for i in TEST_PICKS["nuclei3d"]]
    if min(centres) - half < 0 or max(centres) + half >= len(stack):
        raise SystemExit(f"--planes {planes} reaches past the stack's {len(stack)} planes around planes {centres}")
    return [_central(stack[c - half:c + half + 1].mean(axis=0), 512) for c in centres]


def main() -> None:
    from carekit.config import SynthConfig
    from carekit.models import load_model
    from carekit.normalize import normalize_ground_truth
    from carekit.synth.pairs import make_pairs

    parser = argparse.ArgumentParser()
    parser.add_argument("--planes", type=int, nargs="+", default=[1, 3, 5], help="odd numbers of planes to average")
    args = parser.parse_args()
    if any(n < 1 or n % 2 == 0 for n in args.planes):
        parser.error("--planes takes odd numbers (planes centred on each held-out plane)")
    train_all(*DEFAULT_PROTOCOL[:2], names=["nuclei3d"])
    runners = {LODO: load_model(lodo_dir("nuclei3d"))}
    rows = []
    for planes in args.planes:
        clean = references(planes)
        for photons in PHOTONS:
            lows, highs = make_pairs(clean, SynthConfig(photons=[photons], seed=2026))
            for index, (low, high) in enumerate(zip(lows, highs)):
                row, _ = score_image(low, high, runners)
                noise = truth_noise(normalize_ground_truth(high))
                rows.append({"planes": planes, "photons": photons, "image": index,
                             "reference_noise": noise["truth_noise"], "psnr_cap": noise["psnr_cap"],
                             "best_baseline": row["best_baseline"],
                             "best_baseline_psnr": row["best_baseline_psnr"], "model_psnr": row["models"][LODO]})
                print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nuclei3d_reference.json").write_text(json.dumps({"rows": rows}, indent=2))
    (RESULTS / "nuclei3d_reference.md").write_text(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = ["# nuclei3d: the generalist's loss against the reference's own noise", "",
             "Held-out nuclei3d planes (central 512x512) degraded at 3 and 10 photons (background 1, read noise 2, "
             "offset 100); with N > 1 each replaced by the mean of N consecutive stack planes centred on it, which "
             "also smooths the content along Z (a smoother image favours smoothing baselines). Reference noise: "
             "wavelet estimate in units of the reference's 0.1-99.9 percentile range; cap: the PSNR a restoration "
             "that removes all of that noise would get. Model: the generalist that never saw nuclei3d "
             "(generalist_benchmark.py's recipe). PSNR in dB; margin: model - best oracle-tuned baseline.", "",
             "| planes averaged | photons | image | reference noise | PSNR cap | best baseline | generalist (LODO) "
             "| margin |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['planes']} | {r['photons']:g} | {r['image']} | {r['reference_noise']:.3f} | "
                     f"{r['psnr_cap']:.1f} | {r['best_baseline_psnr']:.2f} ({r['best_baseline']}) | "
                     f"{r['model_psnr']:.2f} | {r['model_psnr'] - r['best_baseline_psnr']:+.2f} |")
    lines += ["", "Means over the 4 planes (margin: mean model - mean baseline, as generalist_benchmark.py):", "",
              "| planes averaged | photons | best baseline | generalist (LODO) | margin |",
              "| --- | --- | --- | --- | --- |"]
    for key in dict.fromkeys((r["planes"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["planes"], r["photons"]) == key]
        baseline, model = (round(float(np.mean([r[field] for r in group])), 2)
                           for field in ("best_baseline_psnr", "model_psnr"))
        lines.append(f"| {key[0]} | {key[1]:g} | {baseline:.2f} | {model:.2f} | {model - baseline:+.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

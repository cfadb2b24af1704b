"""Is the generalist's loss on nuclei3d the noisy reference's doing? Its held-out planes scored against references
averaged over neighbouring planes.

    .venv/bin/python benchmarks/nuclei3d_reference.py [--planes 1 3 5]

nuclei3d's "ground truth" is a raw confocal plane (generalist_benchmark.py tests its held-out planes, TEST_PICKS of
every 4th plane of the 60-plane stack): its own noise, ~4% of its 99.9th percentile, caps any restoration that
smooths it away near 27 dB. Here each held-out plane is replaced by the mean of N consecutive planes centred on it
(0.29 um apart, finer than the confocal's axial resolution, so the signal barely changes while the noise falls by
~sqrt(N)), and that mean is both the clean image degraded at 3 and 10 photons (carekit's camera model, as in
generalist_benchmark.test_pairs: central 512x512 crops, seed 2026) and the reference it is scored against. Compared:
the best oracle-tuned classical baseline and the generalist that never saw nuclei3d (generalist_benchmark.py's
recipe; trained there first when missing), per image (generalist_benchmark.score_image), plus the reference's own
noise (skimage's wavelet estimate, in units of its 0.1-99.9 percentile range) and the PSNR cap it leaves.
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

LODO = "generalist without it (LODO)"
EVERY = 4  # carekit.data.builtin.clean_images takes every 4th plane of the stack for 2D


def references(planes: int) -> list[np.ndarray]:
    """The held-out nuclei3d planes, each the mean of `planes` consecutive stack planes centred on it."""
    from carekit.data import builtin
    from carekit.synth.generalist import TEST_PICKS

    stack = builtin.load("nuclei3d").data.astype(np.float32)
    half = planes // 2
    return [_central(stack[EVERY * i - half:EVERY * i + half + 1].mean(axis=0), 512) for i in TEST_PICKS["nuclei3d"]]


def reference_noise(truth: np.ndarray) -> tuple[float, float]:
    """(noise in units of the reference's 0.1-99.9 percentile range, the PSNR a noise-free restoration would get)."""
    from skimage.restoration import estimate_sigma

    low, high = np.percentile(truth, [0.1, 99.9])
    sigma = float(estimate_sigma(truth)) / (high - low)
    return sigma, -20 * np.log10(sigma)


def main() -> None:
    from carekit.config import SynthConfig
    from carekit.models import load_model
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
                noise, cap = reference_noise(high)
                rows.append({"planes": planes, "photons": photons, "image": index, "reference_noise": round(noise, 4),
                             "psnr_cap": round(cap, 1), "best_baseline": row["best_baseline"],
                             "best_baseline_psnr": row["best_baseline_psnr"], "model_psnr": row["models"][LODO]})
                print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nuclei3d_reference.json").write_text(json.dumps({"rows": rows}, indent=2))
    (RESULTS / "nuclei3d_reference.md").write_text(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = ["# nuclei3d scored against references averaged over neighbouring planes", "",
             "Held-out nuclei3d planes (central 512x512), each replaced by the mean of N consecutive stack planes "
             "centred on it, degraded at 3 and 10 photons (background 1, read noise 2, offset 100) and scored "
             "against that mean. Reference noise: wavelet estimate in units of its 0.1-99.9 percentile range; cap: "
             "the PSNR a restoration that removes all of it would get. Model: the generalist that never saw nuclei3d "
             "(generalist_benchmark.py's recipe). PSNR in dB, mean over the 4 planes; margin: model - best "
             "oracle-tuned baseline (worst image in parentheses).", "",
             "| planes averaged | photons | reference noise | PSNR cap | best baseline | generalist (LODO) | margin |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key in dict.fromkeys((r["planes"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["planes"], r["photons"]) == key]
        margins = [r["model_psnr"] - r["best_baseline_psnr"] for r in group]
        mean = {k: float(np.mean([r[k] for r in group])) for k in ("reference_noise", "psnr_cap",
                                                                    "best_baseline_psnr", "model_psnr")}
        lines.append(f"| {key[0]} | {key[1]:g} | {mean['reference_noise']:.3f} | {mean['psnr_cap']:.1f} | "
                     f"{mean['best_baseline_psnr']:.2f} | {mean['model_psnr']:.2f} | {np.mean(margins):+.2f} "
                     f"({min(margins):+.2f}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

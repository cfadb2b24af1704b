"""A prototype, not yet a carekit option: choose the rescale factor from the noisy image alone, with the estimate of
the comparison with classical denoising (predict.classical_check), and see how close it comes to the best factor.

    .venv/bin/python benchmarks/rescale_choice_benchmark.py

For each left-out case of rescale_benchmark.py on hela, nuclei3d and mahotas (the recipe's leave-one-dataset-out
generalists; trained first when missing) and for gowt1 with the shipped generalist (unseen_benchmark.py): restore
one recorrupted pair's input (data.recorrupt, as predict.classical_check draws it) at each factor of FACTORS and take the factor whose
output has the smallest squared difference to the pair's target after the affine fit. Its PSNR against the truth is
read from the factor sweeps those benchmarks measured (benchmarks/results/rescale.json, unseen.json), against no
rescaling, `auto` and the best factor, and the per-image best oracle-tuned baseline (generalist-100x40-f32.json,
unseen.json). Results: benchmarks/results/rescale_choice.{json,md}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import DEFAULT_PROTOCOL, RECIPE_RESULTS, RESULTS, SHIPPED, lodo_dir, test_pairs, train_all  # noqa: E402

FACTORS = ("1", "1.5", "2", "3", "4")
DATASETS = ("hela", "nuclei3d", "mahotas")  # bbbc007's objects are smaller than the training median


def cases() -> list[dict]:
    baselines = {(r["dataset"], r["photons"], r["image"]): r["best_baseline_psnr"]
                 for r in json.loads(RECIPE_RESULTS.read_text())["rows"]}
    found = [{"dataset": r["dataset"], "photons": r["photons"], "image": r["image"], "model": "left out",
              "psnr": r["psnr"], "psnr_auto": r["psnr_auto"], "baseline": baselines[(r["dataset"], r["photons"],
                                                                                       r["image"])]}
             for r in json.loads((RESULTS / "rescale.json").read_text())["rows"]
             if r["case"] == "left out" and r["dataset"] in DATASETS]
    found += [{"dataset": r["dataset"], "photons": r["photons"], "image": r["image"], "model": "shipped",
               "psnr": r["rescale"]["psnr"], "psnr_auto": r["rescale"]["psnr_auto"], "baseline": r["baseline_psnr"]}
              for r in json.loads((RESULTS / "unseen.json").read_text())["rows"]]
    return found


def chosen_factor(runner, low: np.ndarray) -> tuple[str, dict]:
    from carekit.data.recorrupt import recorrupted_batch, variance_map
    from carekit.predict import restore
    from carekit.predict.classical_check import ALPHA, fitted_residual, middle_plane

    crop = middle_plane(low, "YX")
    noisier, target = recorrupted_batch(crop, variance_map(crop), np.random.default_rng(1), ALPHA)
    estimated = {}
    for factor in FACTORS:
        out = restore(runner, noisier.astype(np.float32), axes="YX", progress=False, check_domain=False,
                      rescale=None if factor == "1" else float(factor)).image
        estimated[factor] = float(np.mean(fitted_residual(out, target) ** 2))
    return min(estimated, key=estimated.get), estimated


def main() -> None:
    from carekit.models import load_model

    train_all(*DEFAULT_PROTOCOL[:2], names=list(DATASETS))  # no-op where the models exist
    runners, rows = {}, []
    for case in cases():
        key = (case["dataset"], case["model"])
        if key not in runners:
            runners[key] = load_model(SHIPPED if case["model"] == "shipped" else lodo_dir(case["dataset"]))
        low = test_pairs(case["dataset"], case["photons"])[0][case["image"]]
        pick, estimated = chosen_factor(runners[key], low)
        best = max(FACTORS, key=lambda f: case["psnr"][f])
        rows.append({**case, "pick": pick, "best": best, "estimated": estimated})
        print(json.dumps({k: rows[-1][k] for k in ("dataset", "photons", "image", "pick", "best")}), flush=True)
    (RESULTS / "rescale_choice.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "rescale_choice.md").write_text(markdown(rows))
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    hits = sum(r["pick"] == r["best"] for r in rows)
    shortfall = max(r["psnr"][r["best"]] - r["psnr"][r["pick"]] for r in rows)
    lines = ["# Choosing the rescale factor from the noisy image alone (prototype)", "",
             f"The factor of {', '.join(FACTORS)} with the smallest estimated error picked the best one in {hits} of "
             f"{len(rows)} images (at most {shortfall:.2f} dB short of it). Margins over the best oracle-tuned "
             "baseline, dB, mean over images:", "",
             "| dataset | photons | model | images | no rescaling | auto | chosen factor | best factor |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in dict.fromkeys((r["dataset"], r["photons"], r["model"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["photons"], r["model"]) == key]
        margin = {name: np.mean([pick(r) - r["baseline"] for r in group]) for name, pick in (
            ("none", lambda r: r["psnr"]["1"]), ("auto", lambda r: r["psnr_auto"]),
            ("chosen", lambda r: r["psnr"][r["pick"]]), ("best", lambda r: r["psnr"][r["best"]]))}
        lines.append(f"| {key[0]} | {key[1]:g} | {key[2]} | {len(group)} | {margin['none']:+.2f} | "
                     f"{margin['auto']:+.2f} | {margin['chosen']:+.2f} | {margin['best']:+.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

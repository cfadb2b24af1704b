"""`--rescale search` (carekit.predict.rescale.search_factor): the rescale factor chosen from the noisy image alone,
against no rescaling, `auto` and the best factor, measured through restore() itself.

    .venv/bin/python benchmarks/rescale_search_benchmark.py [--shipped-only]

Cases: each leave-one-dataset-out generalist of generalist_benchmark.py (the recipe's protocol; trained first when a
fresh clone lacks it) on the held-out images of the dataset it never saw, and the shipped generalist on gowt1, which
no choice was made on (unseen_benchmark.py); 3 and 10 photons, the test pairs of those benchmarks. For each image:
restore(rescale="search") and its PSNR against the truth, and the factor a single recorrupted pair would have chosen
(three different pairs, to show how much the average of three steadies the choice); quoted beside it, from the
factor sweeps those benchmarks measured (benchmarks/results/rescale.json, unseen.json), the PSNR without rescaling,
with `auto` and at the best of the factors search tries, and the per-image best oracle-tuned baseline
(generalist-100x40-f32.json, unseen.json). And the comparison with classical denoising and restore()'s out-of-range
warnings at the chosen factor, as `carekit predict` runs them with search and no blend (`--no-classical-blend`: the
shipped generalist's own default blend replaces the check), against the true margin.
Results: benchmarks/results/rescale_search.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import (DEFAULT_PROTOCOL, RECIPE_RESULTS, RESULTS, SHIPPED, lodo_dir,  # noqa: E402
                                  test_pairs, train_all)

ONE_PAIR_SEEDS = (0, 1, 2)  # 1: the prototype's pair; 0: the first version of the option's


def cases() -> list[dict]:
    baselines = {(r["dataset"], r["photons"], r["image"]): r["best_baseline_psnr"]
                 for r in json.loads(RECIPE_RESULTS.read_text())["rows"]}
    found = [{"dataset": r["dataset"], "photons": r["photons"], "image": r["image"], "model": "left out",
              "psnr": r["psnr"], "psnr_auto": r["psnr_auto"], "baseline": baselines[(r["dataset"], r["photons"],
                                                                                       r["image"])]}
             for r in json.loads((RESULTS / "rescale.json").read_text())["rows"] if r["case"] == "left out"]
    found += [{"dataset": r["dataset"], "photons": r["photons"], "image": r["image"], "model": "shipped",
               "psnr": r["rescale"]["psnr"], "psnr_auto": r["rescale"]["psnr_auto"], "baseline": r["baseline_psnr"]}
              for r in json.loads((RESULTS / "unseen.json").read_text())["rows"]]
    return found


def searched(runner, low: np.ndarray, high: np.ndarray) -> dict:
    """restore(rescale="search") (three recorrupted pairs) with its PSNR and time, and the factor one pair alone
    would choose (each seed of ONE_PAIR_SEEDS)."""
    from carekit.evaluate.metrics import score
    from carekit.predict import restore
    from carekit.predict.classical_check import compare_with_classical
    from carekit.data.crops import middle_plane
    from carekit.predict.domain_check import OutOfRangeWarning
    from carekit.predict.rescale import search_factor
    from carekit.predict.plane_restore import restored_plane

    start = time.perf_counter()
    result = restore(runner, low, axes="YX", progress=False, check_domain=False, rescale="search",
                     classical_blend=False)
    seconds = time.perf_counter() - start
    one_pair = {str(seed): search_factor(lambda plane, factor: restored_plane(runner, plane, factor),
                                         middle_plane(low, "YX"), (seed,))[0] for seed in ONE_PAIR_SEEDS}
    check = compare_with_classical(runner, low, "YX", rescale=result.factor)  # as carekit predict runs it
    with warnings.catch_warnings(record=True) as caught:  # restore()'s own checks, at the factor search chose
        warnings.simplefilter("always", OutOfRangeWarning)
        restore(runner, low, axes="YX", progress=False, rescale=result.factor, classical_blend=False)
    return {"factor": result.factor, "psnr_search": round(score(high, result.image).psnr, 2),
            "seconds": round(seconds, 2), "one_pair_factor": one_pair,
            "classical_check": {"verdict": check.verdict, "warned": check.model_is_worse},
            "out_of_range": [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]}


def main(shipped_only: bool = False) -> None:
    from carekit.generalist import DATASETS
    from carekit.models import load_model

    if shipped_only:
        rows = [r for r in json.loads((RESULTS / "rescale_search.json").read_text()) if r["model"] != "shipped"]
    else:
        train_all(*DEFAULT_PROTOCOL[:2], names=list(DATASETS))  # no-op where the models exist
        rows = []
    runners = {}
    for case in (c for c in cases() if c["model"] == "shipped" or not shipped_only):
        key = (case["dataset"], case["model"])
        if key not in runners:
            runners[key] = load_model(SHIPPED if case["model"] == "shipped" else lodo_dir(case["dataset"]))
        lows, highs = test_pairs(case["dataset"], case["photons"])
        rows.append({**case, **searched(runners[key], lows[case["image"]], highs[case["image"]])})
        print(json.dumps({k: rows[-1][k] for k in ("dataset", "photons", "image", "factor", "psnr_search")}),
              flush=True)
    (RESULTS / "rescale_search.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "rescale_search.md").write_text(markdown(rows))
    print(markdown(rows))


def best_factor(row: dict) -> str:
    from carekit.predict.rescale import SEARCH_FACTORS

    return max((f"{f:g}" for f in SEARCH_FACTORS), key=lambda f: row["psnr"][f])


def markdown(rows: list[dict]) -> str:
    hits = sum(f"{r['factor']:g}" == best_factor(r) for r in rows)
    shortfall = max(r["psnr"][best_factor(r)] - r["psnr_search"] for r in rows)
    picks = {"1": lambda r: r["psnr"]["1"], "auto": lambda r: r["psnr_auto"], "search": lambda r: r["psnr_search"],
             "best": lambda r: r["psnr"][best_factor(r)]}
    one_pair = {seed: (sum(f"{r['one_pair_factor'][seed]:g}" == best_factor(r) for r in rows),
                       np.mean([r["psnr"][f"{r['one_pair_factor'][seed]:g}"] for r in rows]))
                for seed in rows[0]["one_pair_factor"]}
    lines = ["# `--rescale search`: the factor chosen from the noisy image alone", "",
             f"Search chose the best of its factors in {hits} of {len(rows)} images (at most {shortfall:.2f} dB short "
             f"of it); {np.median([r['seconds'] for r in rows]):.1f} s per image on median (search and restoration, "
             "2 CPU cores). Margins over the best oracle-tuned baseline, dB, mean over images (worst image in "
             "brackets):", "",
             "| dataset | photons | model | images | no rescaling | auto | search | best factor | factors chosen |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["photons"], r["model"]), []).append(r)
    met = {name: [0, 0] for name in picks}
    for (dataset, photons, model), group in groups.items():
        cells = []
        for name, pick in picks.items():
            margins = [pick(r) - r["baseline"] for r in group]
            met[name][0] += np.mean(margins) >= 1
            met[name][1] += np.mean(margins) >= 0
            cells.append(f"{np.mean(margins):+.2f} ({min(margins):+.2f})")
        chosen = ", ".join(f"{r['factor']:g}" for r in group)
        lines.append(f"| {dataset} | {photons:g} | {model} | {len(group)} | {' | '.join(cells)} | {chosen} |")
    lines += ["", f"Cases (dataset x photons) at least 1 dB / at least level over the best baseline, of {len(groups)}: "
              + "; ".join(f"{name if name != '1' else 'no rescaling'} {a} / {b}" for name, (a, b) in met.items())
              + ".", "", f"One recorrupted pair instead of three (mean PSNR over images with three: "
              f"{np.mean([r['psnr_search'] for r in rows]):.2f} dB): "
              + "; ".join(f"seed {seed}: best factor in {hits} of {len(rows)}, mean PSNR {psnr:.2f} dB"
                          for seed, (hits, psnr) in one_pair.items()) + "."]
    return "\n".join(lines + check_lines(rows)) + "\n"


def check_lines(rows: list[dict]) -> list[str]:
    """The comparison with classical denoising and restore()'s out-of-range warnings at the factor search chose (what
    `carekit predict` runs with search, the shipped generalist's default) against the true margin at that factor."""
    from ood_warning_benchmark import confusion

    judged = [{**r, "lost": r["psnr_search"] < r["baseline"]} for r in rows]
    verdicts = {}
    for r in judged:
        verdicts.setdefault(r["classical_check"]["verdict"], []).append(r["psnr_search"] - r["baseline"])
    return ["", "The comparison with classical denoising (predict.classical_check) at the factor search chose, as "
            "`carekit predict` runs it after such a restoration, and restore()'s out-of-range warnings at that factor "
            "(the input's statistics as the network sees it, the predicted uncertainty in the network's units), "
            "against the true margin at that factor (per image):",
            "", *confusion(judged, lambda r: r["classical_check"]["warned"], "classical denoising estimated better"),
            "", *confusion(judged, lambda r: r["out_of_range"], "out-of-range warnings"),
            "", *confusion(judged, lambda r: r["out_of_range"] or r["classical_check"]["warned"], "either"),
            "", "Out-of-range warnings: " + ("; ".join(
                f"{r['dataset']} {r['photons']:g} photons image {r['image']} ({r['psnr_search'] - r['baseline']:+.2f} "
                f"dB): {'; '.join(map(_what, r['out_of_range']))}" for r in judged if r["out_of_range"]) or "none")
            + ".",
            "", "True margins by the comparison's verdict: " + "; ".join(
                f"{verdict}: {len(m)} image{'s' if len(m) > 1 else ''}, " + (
                    f"{min(m):+.2f} to {max(m):+.2f} dB" if len(m) > 1 else f"{m[0]:+.2f} dB")
                for verdict, m in sorted(verdicts.items())) + "."]



def _what(message: str) -> str:
    """What an out-of-range warning found, without its advice."""
    return message.split("; the restoration may show")[0].removeprefix("the input is unlike the model's training "
                                                                       "data: ")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipped-only", action="store_true",
                        help="measure the shipped generalist's rows again (after make_generalist.py trained a new one "
                        "and unseen_benchmark.py re-ran), keeping the leave-one-dataset-out models' rows")
    main(parser.parse_args().shipped_only)

"""The shipped generalist on a dataset no carekit model or setting ever saw: does it beat the classical baselines,
do its warnings fire where it loses, and does rescale="auto" help there?

    .venv/bin/python benchmarks/unseen_benchmark.py

The datasets are carekit.generalist.UNSEEN_DATASETS (gowt1: large textured GFP nuclei with dark nucleoli, a
confocal look like nuclei3d's; the generalist's worst left-out case). They were added after the generalist's
recipe, its warning levels and rescale="auto" were chosen, so they test those choices on independent data. Also
tested here, stated before these data were seen: the candidate rule "warn when the median predicted scale exceeds
1.5x its level on the model's validation data", found on ood_generalist.md's images (where it would have warned 7 of
11 losses and no win) and not adopted, for want of independent data.

Per held-out image (synth.generalist.TEST_PICKS, carekit's camera: background 1 photon, read noise 2, offset 100, at
3 and 10 photons; generalist_benchmark.test_pairs), the shipped generalist (model-zoo/care-generalist-nuclei-
denoising): restore() with its checks on and no rescaling (rescale=None; its own mode, search, is measured in
rescale_search_benchmark.py), scored against the best of
Gaussian, NLM, TV and GAT+NLM (oracle-tuned, true camera; ood_warning_benchmark.evaluate_image); the statistics the
warnings judge and the predicted scale over its validation level (ood_generalist_benchmark.statistics); the
comparison with classical denoising estimated without the truth (predict.classical_check, designed after this
benchmark's first run had shown the generalist's losses here: no independent test of it); and PSNR at every fixed
rescale factor and with "auto" (rescale_benchmark.scores). Results: benchmarks/results/unseen.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, PHOTONS, RESULTS, SHIPPED, test_pairs  # noqa: E402
from ood_generalist_benchmark import ranges, statistics  # noqa: E402
from ood_warning_benchmark import confusion, evaluate_image, markdown  # noqa: E402
from precision_benchmark import machine  # noqa: E402
from rescale_benchmark import scores  # noqa: E402

CANDIDATE_SCALE_LEVEL = 1.5  # the predicted-scale rule under test: median scale over its validation level


def rows_for(dataset: str, runner) -> list[dict]:
    rows = []
    for photons in PHOTONS:
        lows, highs = test_pairs(dataset, photons)
        for index, (low, high) in enumerate(zip(lows, highs)):
            scored, restoration = evaluate_image(runner, low, high, None, CAMERA)
            row = {"dataset": dataset, "photons": photons, "image": index, **scored,
                   "statistics": statistics(runner, low, restoration.scale), "rescale": scores(runner, low, high)}
            row["candidate_warned"] = row["statistics"]["scale_over_validation"] > CANDIDATE_SCALE_LEVEL
            print(json.dumps({k: v for k, v in row.items() if k != "warnings"}), flush=True)
            rows.append(row)
    return rows


def summary(rows: list[dict]) -> str:
    """Per dataset and photon level: the margin over the best baseline without and with rescale="auto"; the candidate
    rule's confusion table."""
    lines = ["", "## Margins over the best baseline (dB, mean over images; worst image in brackets)", "",
             "| dataset | photons | images | best baseline | generalist | margin | with auto | margin | auto factors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["photons"]) == key]
        base = np.array([r["baseline_psnr"] for r in group])
        plain = np.array([r["care_psnr"] for r in group])
        auto = np.array([r["rescale"]["psnr_auto"] for r in group])
        factors = ", ".join(f"{r['rescale']['auto_factor']:g}" for r in group)
        lines.append(f"| {key[0]} | {key[1]:g} | {len(group)} | {base.mean():.2f} | {plain.mean():.2f} | "
                     f"{(plain - base).mean():+.2f} ({(plain - base).min():+.2f}) | {auto.mean():.2f} | "
                     f"{(auto - base).mean():+.2f} ({(auto - base).min():+.2f}) | {factors} |")
    lines += ["", f"## The candidate rule: warn when the median predicted scale > {CANDIDATE_SCALE_LEVEL:g}x its "
              "validation level", "", *confusion(rows, lambda r: r["candidate_warned"], "candidate rule")]
    return "\n".join(lines) + "\n"


def main() -> None:
    from carekit.generalist import UNSEEN_DATASETS
    from carekit.models import load_model

    runner = load_model(SHIPPED)
    rows = [row for dataset in UNSEEN_DATASETS for row in rows_for(dataset, runner)]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "unseen.json").write_text(json.dumps({"machine": machine(), "model": SHIPPED.name,
                                                     "reference": runner.spec.domain, "rows": rows}, indent=2))
    text = markdown(rows, "The shipped generalist on datasets no carekit model or setting ever saw",
                     "Model: the shipped generalist (model-zoo/care-generalist-nuclei-denoising), restore() with its "
                     "checks on and no rescaling. Test: held-out frames of carekit.generalist.UNSEEN_DATASETS, "
                     "carekit's camera model (background 1 photon, read noise 2, offset 100). Best baseline: per "
                     "image the best of Gaussian, NLM, TV and GAT+NLM, oracle-tuned with the true camera.")
    (RESULTS / "unseen.md").write_text(text + ranges(rows) + summary(rows))
    print(text + summary(rows))


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

"""Do the out-of-range warnings fire where a leave-one-dataset-out generalist loses on the dataset it never saw, and
stay quiet where it wins?

    .venv/bin/python benchmarks/ood_generalist_benchmark.py [--datasets D ...]

For each built-in dataset D: the generalist trained without D (generalist_benchmark.py's recipe and its protocol,
benchmarks/_work/generalist/without-D-100x40-f32; trained here first when missing), with the training statistics it
recorded (carekit.domain: object scale, noise, bright-area fraction, and the predicted scale on its validation data),
restores D's held-out images at 3 and 10 photons (generalist_benchmark.test_pairs: carekit's camera model, background
1, read noise 2, offset 100): restore() with its checks on and no rescaling (rescale=None; the generalist's own
mode, search, is measured in rescale_search_benchmark.py). Per image: its
PSNR against the best of Gaussian, NLM, TV and GAT+NLM (oracle-tuned, true camera), and whether restore() raised an
OutOfRangeWarning (ood_warning_benchmark.evaluate_image); and the statistics the warnings judge: the input's
(predict.domain_check.input_statistics) and the median predicted scale over its validation level. Results:
benchmarks/results/ood_generalist.{json,md} (confusion table: warned x model lost; the range of each statistic over
the losses and over the wins). The test images carry no pixel size: the generalist trains at random zoom and records
none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, DEFAULT_PROTOCOL, PHOTONS, lodo_dir, test_pairs, train_all  # noqa: E402
from ood_warning_benchmark import evaluate_image, markdown  # noqa: E402

RESULTS = HERE / "results"


def statistics(runner, low: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """What the warnings compare with the model's record: the input's statistics and the median predicted `scale`
    over its level on the model's validation data."""
    from carekit.predict.domain_check import input_statistics

    return {**input_statistics(runner.spec, low),
            "scale_over_validation": float(np.median(scale) / runner.spec.domain["scale"])}


def ranges(rows: list[dict]) -> str:
    """The range of each statistic over the images the model lost on and over those it won."""
    lines = ["", "| statistic | range where the model loses | range where it wins |", "| --- | --- | --- |"]
    for key in rows[0]["statistics"]:
        cells = [[r["statistics"][key] for r in rows if r["lost"] == lost] for lost in (True, False)]
        lines.append(f"| {key} | " + " | ".join(f"{min(c):.3g}-{max(c):.3g}" if c else "-" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from carekit.generalist import DATASETS
    from carekit.models import load_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    args = parser.parse_args()
    train_all(*DEFAULT_PROTOCOL[:2], names=args.datasets)
    rows, references = [], {}
    for dataset in args.datasets:
        runner = load_model(lodo_dir(dataset))
        references[dataset] = runner.spec.domain
        for photons in PHOTONS:
            lows, highs = test_pairs(dataset, photons)
            for index, (low, high) in enumerate(zip(lows, highs)):
                scored, restoration = evaluate_image(runner, low, high, None, CAMERA)
                row = {"dataset": dataset, "photons": photons, "image": index, **scored,
                       "statistics": statistics(runner, low, restoration.scale)}
                print(json.dumps({k: v for k, v in row.items() if k != "warnings"}), flush=True)
                rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ood_generalist.json").write_text(json.dumps({"references": references, "rows": rows}, indent=2))
    text = markdown(rows, "Out-of-range warnings vs where the leave-one-dataset-out generalist loses",
                    "Models: per dataset, the generalist trained without it (generalist_benchmark.py, the recipe), "
                    "with the training statistics it recorded. Test: the dataset's held-out images, carekit's camera "
                    "model (background 1 photon, read noise 2, offset 100), restore() with its checks on and no "
                    "rescaling.")
    (RESULTS / "ood_generalist.md").write_text(text + ranges(rows))
    print(text)


if __name__ == "__main__":
    main()

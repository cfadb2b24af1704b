"""Where a left-out generalist's error lies: by ground-truth intensity band and by spatial scale.

    .venv/bin/python benchmarks/generalist_error_bands.py [--models recipe bf16 gamma0.5-2-bf16 ...] [--datasets D ...]

For each leave-one-dataset-out model of generalist_benchmark.py (named by its protocol/variant tag without the
leading dash, e.g. bf16 for without-mahotas-bf16, 40x40-f32 for the untagged without-mahotas, or recipe for the
recipe's protocol, 100x40-f32; trained there first)
and each held-out image at 3 and 10 photons: the restoration is scaled to the ground truth as the metric does
(carekit.normalize.affine_fit to the 0.1/99.9-percentile-normalized truth), and its error is split

- by intensity band of the truth (background < 0.02, dim 0.02-0.06, mid 0.06-0.15, bright >= 0.15, in units of the
  truth's 99.9th percentile): the mean error (bias) and the band's share of the squared error, and
- by scale: the share of the squared error left after a Gaussian low-pass of sigma 8 px (errors in the local
  intensity level rather than in texture or edges).

and the truth's own noise (skimage's wavelet estimate, same units) with the PSNR left to a restoration that smooths
that noise away (nuclei3d's "ground truth" is a raw confocal plane; its noise is in the test input's signal too, so
a restoration could keep it, but only where the photons allow).

A model that only misses texture has little bias and a small low-frequency share; one that compresses the contrast
of dim structure shows a positive bias in the background, a negative one in the dim/mid bands and a large
low-frequency share. Results: benchmarks/results/lodo_error_bands.{json,md}; rows measured before for other
models or datasets are kept (one row per model, dataset, photon level and image).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import PHOTONS, RECIPE_TAG, RESULTS, UNTAGGED_NAME, lodo_dir, test_pairs  # noqa: E402

BANDS = {"background": (-np.inf, 0.02), "dim": (0.02, 0.06), "mid": (0.06, 0.15), "bright": (0.15, np.inf)}
LOW_PASS_SIGMA = 8.0


def error_bands(truth: np.ndarray, restored: np.ndarray) -> dict:
    """Bias and share of the squared error per truth intensity band, and the low-frequency share."""
    from scipy import ndimage

    from carekit.normalize import affine_fit, normalize_ground_truth

    truth = normalize_ground_truth(truth).astype(np.float64)
    error = affine_fit(restored, truth) - truth
    total = float((error**2).sum())
    bands = {}
    for name, (low, high) in BANDS.items():
        inside = (truth >= low) & (truth < high)
        bands[name] = {"fraction": round(float(inside.mean()), 3),
                       "bias": round(float(error[inside].mean()), 4) if inside.any() else None,
                       "error_share": round(float((error[inside]**2).sum()) / total, 3)}
    low_pass = ndimage.gaussian_filter(error, LOW_PASS_SIGMA)
    return {"bands": bands, "low_frequency_share": round(float((low_pass**2).sum()) / total, 3),
            **truth_noise(truth)}


def truth_noise(truth: np.ndarray) -> dict:
    """The noise in a ground truth normalized as the metric does (0.1/99.9 percentiles; skimage's wavelet estimate)
    and the PSNR it leaves to a restoration that smooths it away."""
    from skimage.restoration import estimate_sigma

    noise = float(estimate_sigma(truth))
    return {"truth_noise": round(noise, 4), "psnr_cap": round(-20 * float(np.log10(noise)), 1) if noise > 0 else None}


def measure(tags: list[str], datasets: list[str]) -> list[dict]:
    from carekit.evaluate.metrics import score
    from carekit.models import load_model
    from carekit.predict import restore

    rows = []
    for protocol_tag in tags:
        for name in datasets:
            folder = lodo_dir(name, protocol_tag)
            if not (folder / "weights_best.h5").exists():
                print(f"skipped: {folder} is not trained (generalist_benchmark.py)", flush=True)
                continue
            model = load_model(folder)
            for photons in PHOTONS:
                for index, (low, high) in enumerate(zip(*test_pairs(name, photons))):
                    restored = restore(model, low, axes="YX", progress=False, check_domain=False, rescale=None,
                                       classical_blend=False).image
                    rows.append({"tag": protocol_tag, "dataset": name, "photons": photons, "image": index,
                                 "psnr": round(score(high, restored).psnr, 2), **error_bands(high, restored)})
                    print(json.dumps(rows[-1]), flush=True)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Means over the images of each tag, dataset and photon level."""
    out = []
    for key in dict.fromkeys((r["tag"], r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["tag"], r["dataset"], r["photons"]) == key]
        entry = {"tag": key[0], "dataset": key[1], "photons": key[2], "images": len(group),
                 "psnr": round(float(np.mean([r["psnr"] for r in group])), 2),
                 "low_frequency_share": round(float(np.mean([r["low_frequency_share"] for r in group])), 2),
                 "psnr_cap": _mean_or_none([r["psnr_cap"] for r in group], 1)}
        for band in BANDS:
            entry[f"{band}_bias"] = _mean_or_none([r["bands"][band]["bias"] for r in group], 4)
            entry[f"{band}_share"] = round(float(np.mean([r["bands"][band]["error_share"] for r in group])), 2)
        out.append(entry)
    return out


def _mean_or_none(values: list, digits: int) -> float | None:
    given = [v for v in values if v is not None]
    return round(float(np.mean(given)), digits) if given else None


def merged(rows: list[dict], path: Path) -> list[dict]:
    """`rows` and the rows of an earlier run in `path` that they do not replace (same model, dataset, photons,
    image)."""
    def key(row: dict) -> tuple:
        return row["tag"], row["dataset"], row["photons"], row["image"]

    earlier = json.loads(path.read_text())["rows"] if path.exists() else []
    new = {key(r) for r in rows}
    return [r for r in earlier if key(r) not in new] + rows


def markdown(summary: list[dict]) -> str:
    bands = "; ".join(f"{b} < {hi:g}" if not np.isfinite(lo) else f"{b} >= {lo:g}" if not np.isfinite(hi) else
                      f"{b} {lo:g}-{hi:g}" for b, (lo, hi) in BANDS.items())
    lines = ["# Where the left-out generalist's error lies", "",
             "Per left-out dataset and photon level (mean over its held-out images): PSNR, then per truth intensity "
             "band (units of the truth's 99.9th percentile) the mean error after the metric's affine fit (bias) and "
             f"the band's share of the squared error, and the share left after a {LOW_PASS_SIGMA:g}-px Gaussian "
             "low-pass (error in the local intensity level); PSNR cap: what the truth's own noise (wavelet "
             "estimate) leaves to a restoration that smooths it away. Model: generalist_benchmark.py's tag (the "
             f"recipe: {RECIPE_TAG.lstrip('-')}).", "",
             f"| model tag | dataset | photons | PSNR | PSNR cap | low-frequency share | bias / share: {bands} |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for e in summary:
        cells = "; ".join(f"{_or_dash(e[f'{b}_bias'], '+.3f')} / {e[f'{b}_share']:.2f}" for b in BANDS)
        lines.append(f"| {_label(e['tag'])} | {e['dataset']} | {e['photons']:g} | {e['psnr']:.2f} | "
                     f"{_or_dash(e['psnr_cap'], '.1f')} | {e['low_frequency_share']:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def _label(protocol_tag: str) -> str:
    """A model's tag as the table shows it: the untagged protocol by its epochs, steps and filters."""
    return protocol_tag.lstrip("-") or UNTAGGED_NAME


def _or_dash(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    from carekit.generalist import DATASETS

    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["recipe"],
                        help="generalist_benchmark.py tags without the leading dash; recipe: the recipe's "
                        f"protocol; {UNTAGGED_NAME}: the untagged one")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    args = parser.parse_args()
    path = RESULTS / "lodo_error_bands.json"
    tags = [RECIPE_TAG if m == "recipe" else "" if m == UNTAGGED_NAME else f"-{m}" for m in args.models]
    rows = merged(measure(tags, args.datasets), path)
    summary = summarize(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lodo_error_bands.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    (RESULTS / "lodo_error_bands.md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    main()

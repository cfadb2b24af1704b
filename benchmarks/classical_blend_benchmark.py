"""The classical blend: a model's restoration mixed with the best classical denoiser's, in the shares estimated best
from the noisy image alone (restore(..., classical_blend=True), `carekit predict --classical-blend`).

    .venv/bin/python benchmarks/classical_blend_benchmark.py [--datasets D ...]

Per held-out image of every built-in 2D dataset and gowt1 (generalist_benchmark.test_pairs: central 512^2 crops,
carekit's camera: background 1 photon, read noise 2, offset 100; 3 and 10 photons), for the shipped generalist (as
carekit runs it: its own rescale search) and the shipped HeLa model (no rescaling): PSNR and SSIM without and with
the blend, against the best oracle-tuned baseline (Gaussian, NLM, TV, GAT+NLM with the true camera:
evaluate.baselines); the share and classical denoiser the blend chose; the best share against the truth with the same
denoiser (the ceiling of the choice); and the seconds the blend adds to restore(). The generalist never saw nuclei3d
nor gowt1 (its leave-one-dataset-out model for nuclei3d is trained as it is); it saw the other images of hela,
bbbc007 and mahotas. Results: benchmarks/results/classical_blend.{json,md,png} (the figure: a nuclei3d plane at 10
photons, where the generalist loses to the baselines, without and with the blend; `--figure` redraws it alone).
`--photons 5 30`: the same at light levels the blend's 0.2% level was not chosen at (classical_blend_photons-5-30.*);
`--datasets dsb2018`: on the independent test image (added after the blend was chosen; with `--photons 3 5 10 30`:
classical_blend_photons-3-5-10-30_dsb2018.*).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, PHOTONS, RESULTS, SHIPPED, ZOO, held_out_images, test_pairs  # noqa: E402
from precision_benchmark import machine  # noqa: E402

DATASETS = ("hela", "bbbc007", "mahotas", "nuclei3d", "gowt1")
UNSEEN = ("nuclei3d", "gowt1", "dsb2018")  # never seen by the generalist
MODELS = {"shipped generalist": SHIPPED, "shipped HeLa model": ZOO / "care-hela-nuclei-denoising.zip"}
FIGURE = ("nuclei3d", 10.0, 1)  # dataset, photons, image


def restored(runner, low: np.ndarray, blend: bool):
    """(restoration, seconds) as carekit predict restores it (the model's own rescale mode; no checks)."""
    from carekit.predict import restore

    started = time.perf_counter()
    result = restore(runner, low, axes="YX", progress=False, check_domain=False, classical_blend=blend)
    return result, time.perf_counter() - started


def model_row(runner, low: np.ndarray, high: np.ndarray) -> tuple[dict, dict]:
    """Scores of one model on one image without and with the blend, the blend's choice and its ceiling; and the
    images (for the figure)."""
    from carekit.evaluate.metrics import score
    from carekit.predict.classical_blend import SHARES, in_model_units, mix
    from carekit.predict.classical_settings import denoised

    plain, plain_seconds = restored(runner, low, False)
    mixed, mixed_seconds = restored(runner, low, True)
    (blend,) = mixed.classical_blend
    classical = in_model_units(blend.classical, denoised(low, blend.classical), low, runner.spec)
    ceiling = {share: score(high, mix(plain.image, classical, share)).psnr for share in SHARES}
    best_share = max(ceiling, key=ceiling.get)
    row = {"psnr": score(high, plain.image).psnr, "ssim": score(high, plain.image).ssim,
           "blend_psnr": score(high, mixed.image).psnr, "blend_ssim": score(high, mixed.image).ssim,
           "share": blend.share, "classical": blend.classical, "estimated_gain": blend.best_gain,
           "standard_error": blend.standard_errors[int(np.argmin(blend.errors))],
           "model_is_behind": blend.model_is_behind, "classical_psnr": score(high, classical).psnr,
           "best_share": best_share, "best_share_psnr": ceiling[best_share], "factor": plain.factor,
           "blend_seconds": mixed_seconds - plain_seconds}
    return row, {"model": plain.image, "blend": mixed.image, "classical": classical}


def image_row(low: np.ndarray, high: np.ndarray, runners: dict) -> tuple[dict, dict]:
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score

    baselines = {name: score(high, result).psnr for name, result in run_baselines(low, high, camera=CAMERA).items()}
    best = max(baselines, key=baselines.get)
    row, images = {"best_baseline": best, "baseline_psnr": baselines[best], "models": {}}, {"noisy": low, "truth": high}
    for name, runner in runners.items():
        row["models"][name], images[name] = model_row(runner, low, high)
    return row, images


def run(datasets, levels=PHOTONS) -> list[dict]:
    from carekit.models import load_model

    runners = {name: load_model(path) for name, path in MODELS.items()}
    rows = []
    for dataset, photons, index, low, high in held_out_images(datasets, levels):
        row, _ = image_row(low, high, runners)
        rows.append({"dataset": dataset, "photons": photons, "image": index, **row})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    from carekit.predict.classical_blend import MIN_GAIN

    lines = ["# The classical blend (`--classical-blend`)", "",
             "Mean PSNR in dB over the held-out images (margin over the best oracle-tuned baseline; worst image in "
             "brackets). Blend: the model mixed with the classical denoiser in the share chosen from the noisy image "
             f"alone, where that is estimated to lower the squared error by at least {MIN_GAIN:.1%} of the noise "
             "variance and 2 standard errors (else the model alone); best share: the share that is best against the truth, same denoiser "
             "(the choice's ceiling). Shares: the model's share per image (1: not blended). SSIM: mean, model -> "
             "blend.", "",
             "| model | dataset | photons | images | best baseline | model | + blend | best share | blend - model "
             "(worst) | SSIM | shares | classical | s per image |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for model in MODELS:
        for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
            group = [r for r in rows if (r["dataset"], r["photons"]) == key]
            base = np.array([r["baseline_psnr"] for r in group])
            got = {k: np.array([r["models"][model][k] for r in group])
                   for k in ("psnr", "blend_psnr", "best_share_psnr", "blend_seconds", "ssim", "blend_ssim")}
            gain = got["blend_psnr"] - got["psnr"]
            classical = ", ".join(sorted({r["models"][model]["classical"] for r in group}))
            shares = ", ".join(f"{r['models'][model]['share']:g}" for r in group)
            unseen = " (unseen)" if key[0] in UNSEEN and model == "shipped generalist" else ""
            lines.append(f"| {model} | {key[0]}{unseen} | {key[1]:g} | {len(group)} | {base.mean():.2f} | "
                         + " | ".join(f"{got[k].mean():.2f} ({(got[k] - base).mean():+.2f}, worst "
                                      f"{(got[k] - base).min():+.2f})" for k in ("psnr", "blend_psnr",
                                                                                "best_share_psnr"))
                         + f" | {gain.mean():+.2f} ({gain.min():+.2f}) | {got['ssim'].mean():.3f} -> "
                         f"{got['blend_ssim'].mean():.3f} | {shares} | {classical} | "
                         f"{got['blend_seconds'].mean():.1f} |")
    return "\n".join(lines) + "\n"


def figure(path: Path) -> None:
    """The FIGURE image restored by the shipped generalist without and with the blend, beside the classical denoiser
    the blend chose, the noisy input and the truth."""
    import matplotlib

    from carekit.evaluate.metrics import score
    from carekit.models import load_model

    dataset, photons, index = FIGURE
    lows, highs = test_pairs(dataset, photons)
    _, images = model_row(load_model(SHIPPED), lows[index].astype(np.float32), highs[index])
    panels = {"noisy": lows[index], "best classical (chosen from the noisy image)": images["classical"],
              "generalist": images["model"], "generalist + classical blend": images["blend"], "truth": highs[index]}
    backend = matplotlib.get_backend()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.9))
        for ax, (title, image) in zip(axes, panels.items()):
            crop = np.asarray(image)[:160, :160]
            ax.imshow(crop, cmap="gray", vmin=np.percentile(crop, 1), vmax=np.percentile(crop, 99.8))
            psnr = "" if title == "truth" else f"\n{score(highs[index], image).psnr:.2f} dB"
            ax.set_title(title + psnr, fontsize=8)
            ax.axis("off")
        fig.suptitle(f"{dataset}, {photons:g} photons, held-out image {index} (top-left 160x160 px)")
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        fig.savefig(path, dpi=110)
        plt.close(fig)
    finally:
        matplotlib.use(backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        help="others than the default (e.g. dsb2018, the independent test image): results named "
                        "after them")
    parser.add_argument("--figure", action="store_true", help="redraw the figure only")
    parser.add_argument("--photons", type=float, nargs="+", default=list(PHOTONS),
                        help="light levels (others than 3 and 10, where the blend's level was chosen: results in "
                        "classical_blend_photons-LEVELS.{json,md}, no figure)")
    args = parser.parse_args()
    if args.figure:
        figure(RESULTS / "classical_blend.png")
        return
    started = time.perf_counter()
    rows = run(args.datasets, args.photons)
    results = {"protocol": {"photons": args.photons, "camera": CAMERA, "models": {k: str(v.name) for k, v in
                                                                             MODELS.items()},
                            "machine": machine(), "load_average": os.getloadavg(), "minutes": (time.perf_counter() - started) / 60}, "rows": rows}
    name = "classical_blend" if args.photons == list(PHOTONS) else \
        "classical_blend_photons-" + "-".join(f"{level:g}" for level in args.photons)
    if args.datasets != list(DATASETS):
        name += "_" + "-".join(args.datasets)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"{name}.md").write_text(markdown(rows))
    if name == "classical_blend":
        figure(RESULTS / "classical_blend.png")
    print(markdown(rows))


if __name__ == "__main__":
    main()

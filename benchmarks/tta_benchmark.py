"""Test-time augmentation (`--tta`): the restoration averaged over the input rotated and flipped in YX.

    .venv/bin/python benchmarks/tta_benchmark.py [--datasets D ...]            # the shipped models
    .venv/bin/python benchmarks/tta_benchmark.py --fine-tuned hela nuclei3d    # fine-tuned with --compare-on

Shipped models: per held-out image of every built-in 2D dataset and gowt1 (generalist_benchmark.test_pairs: central
512^2 crops, carekit's camera; 3 and 10 photons), the shipped generalist (its own rescale search) and the shipped HeLa
model (no rescaling) restore alone, with tta, and with tta and the classical blend; PSNR and SSIM against the truth,
beside the best oracle-tuned baseline of the same image (read from results/classical_blend.json, which scored these
images, model alone and with the blend alone too), and the seconds restore() took. Results:
benchmarks/results/tta.{json,md,png} (`--figure` redraws the figure alone).
Fine-tuned: the shipped generalist fine-tuned on the dataset's training images and kept or returned by `--compare-on`
on the held-out noisy images of each light level, exactly as compare_on_benchmark.py does it (trained again here:
its models are not in the repository), then the model kept restores alone and with tta. Results:
benchmarks/results/tta_fine_tuned.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from classical_blend_benchmark import DATASETS, MODELS  # noqa: E402
from generalist_benchmark import PHOTONS, RESULTS, held_out_images, test_pairs  # noqa: E402
from precision_benchmark import machine  # noqa: E402

ARMS = {"alone": {"classical_blend": False}, "tta": {"tta": True, "classical_blend": False},
        "tta + blend": {"tta": True, "classical_blend": True}}


def baselines() -> dict:
    """The best oracle-tuned baseline's PSNR per (dataset, photons, image), and the model alone / blended PSNRs of the
    classical blend benchmark (the same images)."""
    rows = json.loads((RESULTS / "classical_blend.json").read_text())["rows"]
    return {(r["dataset"], r["photons"], r["image"]): r for r in rows}


def arm_scores(runner, low: np.ndarray, high: np.ndarray, arms=ARMS) -> dict:
    """PSNR, SSIM and seconds of restore() (the model's own rescale mode; no checks) for every arm."""
    from carekit.evaluate.metrics import score
    from carekit.predict import restore

    out = {}
    for arm, options in arms.items():
        started = time.perf_counter()
        restored = restore(runner, low, axes="YX", progress=False, check_domain=False, **options).image
        seconds = time.perf_counter() - started
        scores = score(high, restored)
        out[arm] = {"psnr": scores.psnr, "ssim": scores.ssim, "seconds": round(seconds, 2)}
    return out


def shipped_rows(datasets) -> list[dict]:
    from carekit.models import load_model

    runners, known, rows = {name: load_model(path) for name, path in MODELS.items()}, baselines(), []
    for dataset, photons, index, low, high in held_out_images(datasets):
        before = known[(dataset, photons, index)]
        row = {"dataset": dataset, "photons": photons, "image": index, "baseline_psnr": before["baseline_psnr"],
               "models": {}}
        for name, runner in runners.items():
            row["models"][name] = arm_scores(runner, low, high)
            row["models"][name]["blend"] = {"psnr": before["models"][name]["blend_psnr"],
                                            "ssim": before["models"][name]["blend_ssim"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def fine_tuned_rows(datasets, epochs: int) -> list[dict]:
    from carekit.config import ModelRecord
    from carekit.models import load_model
    from compare_on_benchmark import best_baseline, compared_on, fine_tuned

    rows = []
    for dataset in datasets:
        result, _ = fine_tuned(dataset, epochs)
        for photons in PHOTONS:
            lows, highs = test_pairs(dataset, photons)
            kept, _, _ = compared_on(result, dataset, photons, lows)
            returned = ModelRecord.load(kept).start_chosen_on_images
            runner = load_model(kept)
            scores = [arm_scores(runner, low.astype(np.float32), high, {k: ARMS[k] for k in ("alone", "tta")})
                      for low, high in zip(lows, highs)]
            kept_name = "generalist (validation)" if result.kept_start else "generalist" if returned else "fine-tuned"
            rows.append({"dataset": dataset, "photons": photons, "images": len(lows),
                         "best_baseline": best_baseline(lows, highs), "kept": kept_name,
                         **{arm: float(np.mean([s[arm]["psnr"] for s in scores])) for arm in ("alone", "tta")}})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def shipped_markdown(rows: list[dict]) -> str:
    lines = ["# Test-time augmentation (`--tta`), the shipped models", "",
             "Mean PSNR in dB over the held-out images (margin over the best oracle-tuned baseline; worst image in "
             "brackets). tta: the restoration averaged over the input turned and flipped 8 ways; blend: "
             "`--classical-blend` (its shares estimated with the model alone, as restore() does); SSIM: mean; "
             "s: seconds per image for restore() alone -> with tta (the generalist's include its rescale search).", "",
             "| model | dataset | photons | images | best baseline | alone | tta | blend | tta + blend | tta - alone "
             "(worst) | SSIM alone -> tta -> tta + blend | s |", "| --- " * 12 + "|"]
    for model in MODELS:
        for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
            group = [r for r in rows if (r["dataset"], r["photons"]) == key]
            base = np.array([r["baseline_psnr"] for r in group])
            got = {arm: np.array([r["models"][model][arm]["psnr"] for r in group])
                   for arm in ("alone", "tta", "blend", "tta + blend")}
            ssim = {arm: np.mean([r["models"][model][arm]["ssim"] for r in group])
                    for arm in ("alone", "tta", "tta + blend")}
            seconds = {arm: np.mean([r["models"][model][arm]["seconds"] for r in group]) for arm in ("alone", "tta")}
            gain = got["tta"] - got["alone"]
            lines.append(f"| {model} | {key[0]} | {key[1]:g} | {len(group)} | {base.mean():.2f} | "
                         + " | ".join(f"{v.mean():.2f} ({(v - base).mean():+.2f}, worst {(v - base).min():+.2f})"
                                      for v in got.values())
                         + f" | {gain.mean():+.2f} ({gain.min():+.2f}) | {ssim['alone']:.3f} -> {ssim['tta']:.3f} -> "
                         f"{ssim['tta + blend']:.3f} | {seconds['alone']:.1f} -> {seconds['tta']:.1f} |")
    return "\n".join(lines) + "\n"


def fine_tuned_markdown(rows: list[dict]) -> str:
    lines = ["# Test-time augmentation (`--tta`), fine-tuned with `--compare-on`", "",
             "The shipped generalist fine-tuned on each dataset's training images and kept or returned by "
             "`--compare-on` (compare_on_benchmark.py's protocol, trained again), restoring the held-out images "
             "alone and with tta. Mean PSNR in dB (margin over the best baseline; bold: >= +2 dB).", "",
             "| dataset | photons | images | best baseline | kept | alone | tta |", "| --- " * 7 + "|"]
    for r in rows:
        cells = []
        for arm in ("alone", "tta"):
            margin = r[arm] - r["best_baseline"]
            text = f"{r[arm]:.2f} ({margin:+.2f})"
            cells.append(f"**{text}**" if margin >= 2 else text)
        lines.append(f"| {r['dataset']} | {r['photons']:g} | {r['images']} | {r['best_baseline']:.2f} | "
                     f"{r['kept']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    """Per image, the gain of tta over the model alone against the model's margin over the best baseline, one
    colour per model, and the gain of tta + blend over the blend alone as open markers."""
    import matplotlib

    backend = matplotlib.get_backend()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        fig, ax = plt.subplots(figsize=(7.5, 4.6))
        for (model, colour) in zip(MODELS, ("tab:blue", "tab:orange")):
            runs = [r["models"][model] for r in rows]
            margin = [m["alone"]["psnr"] - r["baseline_psnr"] for m, r in zip(runs, rows)]
            ax.scatter(margin, [m["tta"]["psnr"] - m["alone"]["psnr"] for m in runs], color=colour, s=22,
                       label=f"{model}: tta - alone")
            ax.scatter(margin, [m["tta + blend"]["psnr"] - m["blend"]["psnr"] for m in runs], s=30,
                       facecolors="none", edgecolors=colour, label=f"{model}: tta + blend - blend")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("model alone: PSNR margin over the best baseline (dB)")
        ax.set_ylabel("PSNR gain with tta (dB)")
        ax.set_title(f"Test-time augmentation on {len(rows)} held-out images (5 datasets, 3 and 10 photons)",
                     fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
    finally:
        matplotlib.use(backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--fine-tuned", nargs="+", metavar="DATASET", help="fine-tune on these datasets instead")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs of 40 steps")
    parser.add_argument("--figure", action="store_true", help="redraw results/tta.png from results/tta.json only")
    args = parser.parse_args()
    if args.figure:
        return figure(json.loads((RESULTS / "tta.json").read_text())["rows"], RESULTS / "tta.png")
    if args.fine_tuned:
        rows, name, markdown = fine_tuned_rows(args.fine_tuned, args.epochs), "tta_fine_tuned", fine_tuned_markdown
    else:
        rows, name, markdown = shipped_rows(args.datasets), "tta", shipped_markdown
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown(rows))
    if not args.fine_tuned:
        figure(rows, RESULTS / "tta.png")
    print(markdown(rows))


if __name__ == "__main__":
    main()

"""Build the shipped generalist starting model: probabilistic CARE denoising trained on the built-in nuclei image sets.

    .venv/bin/python model-zoo/make_generalist.py [--epochs 100] [--steps 40] [--precision fp32|bf16]
                                                  [--stage train|package|all]

Training data (carekit.generalist, synth/generalist.py): the training images of hela, bbbc007 and mahotas (their
held-out images are never used; nuclei3d is a test set only: its reference is a raw confocal plane), 64 pairs per
dataset, each a random crop at a random zoom (0.5-2x), Gaussian blur (sigma 0-1.5 px, part of the clean image),
photon level (1-50, log-uniform), background (0-5 photons) and read noise (0.5-5); seed 0; fp32. Order:
`--stage train`, then benchmarks/generalist_benchmark.py (which also scores this model on every dataset's held-out
images), then `--stage package`: the package README carries those held-out metrics and the leave-one-dataset-out
protocol and numbers of that benchmark's run of the protocol the model was trained with (the recipe's:
benchmarks/results/generalist-100x40-f32.json).
A candidate with other steps or precision (`--stage train --epochs 300 --precision bf16`) is measured before it is
shipped: generalist_benchmark.py with its protocol (`--epochs 300 --variant bf16 --stage shipped`: this model only,
where that protocol's left-out models were scored), unseen_benchmark.py and rescale_search_benchmark.py
`--shipped-only` (benchmarks/results/generalist-12000-candidate/: such a run, not shipped). `--stage repackage`
re-packages the shipped zip with this script's README text as it is now (same weights; no model folder needed). A candidate takes the
shipped model's folder (model-zoo/_work/care-generalist-nuclei-denoising, which the benchmarks measure before the
zip): move it away when the candidate is not shipped."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from generalist_benchmark import (LODO, LODO_DEFAULT, LODO_SEARCH, RESULTS, SHIPPED_NAME, VARIANTS,  # noqa: E402
                                  tag)
from light_range_tables import BLENDED_NAME, level_margins  # noqa: E402

NAME = "care-generalist-nuclei-denoising"


def lodo_results(model_dir: Path) -> tuple[Path, dict]:
    """Where benchmarks/generalist_benchmark.py writes the results of the protocol the model in `model_dir` was
    trained with, and its training settings."""
    train = json.loads((model_dir / "carekit.json").read_text())["train"]
    return lodo_path(train), train


def lodo_path(train: dict) -> Path:
    """Where benchmarks/generalist_benchmark.py writes the results of the protocol of these training settings."""
    variants = ("bf16",) if train.get("precision") == "bf16" else ()  # fp32 (or a record from before precision)
    protocol_tag = tag(train["epochs"], train["steps_per_epoch"], train["unet_first"], variants)
    return RESULTS / f"generalist{protocol_tag}.json"


def held_out_rows(lodo: Path, epochs: int, steps: int) -> list[dict]:
    """Per dataset and photon level: the shipped model's mean raw / CARE scores and the best oracle-tuned baseline
    on the held-out images, as benchmarks/generalist_benchmark.py measured them (its model folder), in `lodo`."""
    from carekit.errors import InputError

    if not lodo.exists():
        raise InputError(f"{lodo} is missing: run benchmarks/generalist_benchmark.py --epochs {epochs} --steps "
                         f"{steps} after training")
    benchmark = json.loads(lodo.read_text())
    rows = []
    for entry in benchmark["summary"]:
        group = [r for r in benchmark["rows"] if (r["dataset"], r["photons"]) == (entry["dataset"], entry["photons"])]
        if SHIPPED_NAME not in group[0]["model_scores"]:
            raise InputError(f"{lodo} has no results for the shipped model: run the benchmark after training it")
        rows.append({"name": f"{entry['dataset']}, {entry['photons']:g} photons ({len(group)} held-out)",
                     "raw": _mean([r["raw_scores"] for r in group]),
                     "care": _mean([r["model_scores"][SHIPPED_NAME] for r in group]),
                     "best_baseline_psnr": entry["best_baseline"]})
    return rows


def _mean(scores: list[dict]) -> dict:
    return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}


def _small_sample(model_dir: Path) -> np.ndarray:
    """A central 160x160 crop of the training sample: small test tensors keep the zip small."""
    from carekit.io import read_image
    from carekit.train.sample import SAMPLE_INPUT_FILE

    data = read_image(model_dir / SAMPLE_INPUT_FILE).data
    top, left = (data.shape[0] - 160) // 2, (data.shape[1] - 160) // 2
    return data[top:top + 160, left:left + 160]


def notes(rows: list[dict], lodo: Path) -> list[str]:
    lines = ["", "Best classical baseline on the same images (per image the best of Gaussian, NLM, TV and GAT+NLM, "
             "oracle-tuned on the ground truth): " + "; ".join(f"{r['name'].split(' (')[0]} {r['best_baseline_psnr']:.2f}"
                                                               for r in rows) + " dB PSNR.", ""]
    if lodo.exists():
        summary = json.loads(lodo.read_text())
        protocol = summary["protocol"]
        lines += ["Leave-one-dataset-out protocol (benchmarks/generalist_benchmark.py): the same recipe trained "
                  f"{protocol['epochs']} x {protocol['steps_per_epoch']} steps without dataset D, "
                  "tested on D's held-out images (camera: background 1 photon, read noise 2, offset 100). nuclei3d "
                  "is never trained on: its left-out model is trained as this one is. Margins in dB over the best "
                  "baseline: the model alone, with `--rescale search`, and with its defaults (search and the "
                  "classical blend; below).", "",
                  "| left-out dataset | photons | best baseline PSNR | model PSNR | margin | margin with search | "
                  "margin with its defaults |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for e in summary["summary"]:
            cells = [e["models"].get(name) for name in (LODO, LODO_SEARCH, LODO_DEFAULT)]
            psnr = "not measured" if cells[0] is None else f"{cells[0]['psnr']:.2f}"
            margins = " | ".join("-" if m is None else f"{m['margin']:+.2f}" for m in cells)
            lines.append(f"| {e['dataset']} | {e['photons']:g} | {e['best_baseline']:.2f} | {psnr} | {margins} |")
        lines += ["", *search_advice(search_margins(), lodo_margins(summary, LODO_SEARCH),
                                     lodo_margins(summary, LODO_DEFAULT))]
    return lines + light_levels()


def light_levels() -> list[str]:
    """Its margin over the best baseline by light level (benchmarks/results/light_range.json), and what to do
    above its training range."""
    path = RESULTS / "light_range.json"
    if not path.exists():
        return []
    rows = json.loads(path.read_text())["rows"]
    margins = level_margins(rows, SHIPPED_NAME)
    levels = list(margins)
    datasets = {r["dataset"] for r in rows}
    images = max(sum(r["dataset"] == d and r["photons"] == levels[0] for r in rows) for d in datasets)
    each = "one held-out image each" if images == 1 else f"up to {images} held-out images each"
    text = (f"**Light levels.** It was trained at 1-50 photons (peak). Over {len(datasets)} datasets ({each}, "
            "benchmarks/light_range_benchmark.py) the model alone has a mean margin over the best oracle-tuned "
            f"baseline of {_levels(margins)}: with much light it smooths away real detail, and classical denoising "
            "does better on most images. carekit warns when an input has less noise than its training range allows")
    if BLENDED_NAME not in rows[0]["models"]:
        return ["", text + "."]
    return ["", text + ", and by default mixes the best classical denoiser in where that is estimated to help "
            f"(`--classical-blend`): with it {_levels(level_margins(rows, BLENDED_NAME))}."]


def _levels(margins: dict) -> str:
    return (" / ".join(f"{m:+.2f}" for m in margins.values()) + " dB at "
            + " / ".join(f"{level:g}" for level in margins) + " photons")


def lodo_margins(summary: dict, name: str) -> list[float]:
    """The mean margins of the left-out models restored as `name` says, over the cases of a LODO summary that have
    them."""
    return [e["models"][name]["margin"] for e in summary["summary"] if name in e["models"]]


def search_margins() -> dict:
    """{(model, dataset, photons): mean margin over the best baseline with `--rescale search`} from
    benchmarks/results/rescale_search.json (model 'left out': the LODO generalists; 'shipped': this one)."""
    rows = json.loads((RESULTS / "rescale_search.json").read_text())
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["dataset"], r["photons"]), []).append(r["psnr_search"] - r["baseline"])
    return {key: float(np.mean(margins)) for key, margins in groups.items()}


def _level_in(margins: list[float], before: str, after: str) -> str:
    """'N of M cases (mean margin +X dB)' between `before` and `after`; '' for no margins."""
    if not margins:
        return ""
    return (f"{before}{sum(m >= 0 for m in margins)} of {len(margins)} cases (mean margin {np.mean(margins):+.2f} dB)"
            f"{after}")


def search_advice(search: dict, left_out: list[float], defaults: list[float]) -> list[str]:
    """What carekit does with it by default, with the left-out models' margins with search and with its defaults
    (lodo_margins) and this model's on gowt1 with search (search_margins)."""
    unseen = {photons: m for (model, dataset, photons), m in search.items() if model == "shipped"}
    return ["**carekit runs it with `--rescale search`** unless told otherwise (its own mode, `config.carekit.rescale`; "
            "`carekit predict`, Python `restore()` and the Fiji plugin alike; `--rescale 1` / `rescale=1` turns it "
            "off): carekit restores recorrupted copies of a crop of the "
            "noisy image at 1-4x downsampling and keeps the scale estimated to restore best, without ground truth "
            "(about 1-2 s per image on 2 CPU cores). Other consumers (bioimageio.core, deepImageJ) run it at the "
            "image's own scale."
            + _level_in(left_out, " With it the left-out models are at least level with the best baseline in ",
                        " of the table above" + ("" if defaults else "."))
            + _level_in(defaults, "; with its defaults, search and the blend, in ", ".")
            + " This model, on a dataset nothing was tuned on (Cell Tracking Challenge Fluo-N2DH-GOWT1), is "
            "ahead with search by " + " / ".join(f"{m:+.2f}" for _, m in sorted(unseen.items()))
            + " dB at " + " / ".join(f"{p:g}" for p in sorted(unseen)) + " photons.", "",
            "At prediction carekit warns (Python, CLI and the Fiji Log) when an input is out of the model's range: "
            "object scale and intensity statistics (taken as the network sees the image when search rescaled it; "
            "trained at many zooms, this model records no pixel size to check), the predicted uncertainty against "
            "its level on the model's validation data (recorded in carekit.json), and a classical denoiser "
            "estimated from the noisy image itself to do better. Fine-tune it on your own data with `carekit train "
            "--from` (high-SNR images or pairs) or `carekit finetune` (noisy images only); both keep its weights, "
            "and with them its search, its blend and its recorded statistics, unless fine-tuning beats them on "
            "validation.", "",
            "Whether it or a model of your own restores your images better, without ground truth: `carekit compare "
            f"--model {NAME}.zip models/mine images/*.tif`. Fine-tuning with `--compare-on images/*.tif` makes that "
            "comparison after training and keeps whichever restores those images better "
            "(benchmarks/compare_on_benchmark.py). Images with hot camera pixels: `carekit predict --hot-pixels "
            "replace` (the Fiji plugin's hot_pixels=replace) replaces them by their neighbours' median first; a "
            "model restores each as a spot, and carekit warns when it finds many. Where it is near classical "
            "denoising (confocal planes, higher light levels), carekit mixes the best classical denoiser into its "
            "restoration by default (`--classical-blend`; `--no-classical-blend` or the plugin's "
            "classical_blend=false turn it off) in the share estimated best from the noisy image, only where that "
            "is estimated to help (benchmarks/classical_blend_benchmark.py). `--tta` (the plugin's tta=true) "
            "averages its restoration over the image turned and flipped 8 ways: "
            "+0.03 to +0.41 dB and a higher SSIM on every held-out image tested (benchmarks/tta_benchmark.py), for 8x "
            "the network's work."]


DESCRIPTION = ("A starting model for denoising 2D fluorescence images of nuclei from many microscopes: probabilistic "
               "CARE trained on three real image sets (widefield HeLa, BBBC007, mahotas nuclear.png; tested on "
               "confocal cells3d planes too) at random zoom (0.5-2x), blur, photon level (1-50), background and read "
               "noise. carekit runs it with `--rescale search` and `--classical-blend` by default; fine-tune it on "
               "your own data with `carekit train --from`.")


def main() -> None:
    from carekit.config import ModelRecord
    from carekit.generalist import OWN_MODES, recipe, train_generalist
    from carekit.zoo.package import build_package

    default = recipe()
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=default.epochs)
    parser.add_argument("--steps", type=int, default=default.steps_per_epoch)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default=default.precision,
                        help=f"bf16: {VARIANTS['bf16'][0]}")
    parser.add_argument("--work", default=str(HERE / "_work"))
    parser.add_argument("--stage", choices=("train", "package", "all", "repackage"), default="all",
                        help="repackage: the shipped zip again with this script's README text (same weights and "
                        "test image; no model folder needed)")
    args = parser.parse_args()

    model_dir = Path(args.work) / NAME
    if args.stage == "repackage":
        return repackage_shipped()
    if args.stage in ("train", "all"):
        shutil.rmtree(model_dir, ignore_errors=True)
        config = recipe(args.epochs, args.steps).model_copy(update={"precision": args.precision})
        train_generalist(model_dir, config, progress=False)
    if args.stage == "train":
        return
    record = ModelRecord.load(model_dir)
    if any(getattr(record, field) != mode for field, mode in OWN_MODES.items()):  # trained before it recorded them
        ModelRecord.model_validate({**record.model_dump(), **OWN_MODES}).save(model_dir)
    lodo, train = lodo_results(model_dir)
    rows = held_out_rows(lodo, train["epochs"], train["steps_per_epoch"])
    evaluation = {"rows": rows, "notes": notes(rows, lodo)}
    result = build_package(
        model_dir, HERE / f"{NAME}.zip", name="CARE generalist nuclei denoising",
        description=DESCRIPTION,
        authors=("carekit developers",), evaluation=evaluation, unzipped_folder=False, sample=_small_sample(model_dir),
        tags=("nuclei", "denoising", "generalist", "fluorescence", "2d"))
    shutil.copy(model_dir / "carekit.json", HERE / f"{NAME}.carekit.json")
    shutil.copy(model_dir / "history.png", HERE / f"{NAME}.history.png")
    (HERE / f"{NAME}.metrics.json").write_text(json.dumps(evaluation, indent=2))
    print(json.dumps(result.test_results), result.zip_path)


def repackage_shipped() -> None:
    """The shipped zip re-packaged (zoo.repackage: same weights, test image and settings) with the Validation
    section, description and own prediction modes this script writes today."""
    from carekit.generalist import OWN_MODES
    from carekit.zoo.repackage import repackage

    shipped = HERE / f"{NAME}.zip"
    train = json.loads((HERE / f"{NAME}.carekit.json").read_text())["train"]
    lodo = lodo_path(train)
    rows = held_out_rows(lodo, train["epochs"], train["steps_per_epoch"])
    evaluation = {"rows": rows, "notes": notes(rows, lodo)}
    staged = HERE / f"{NAME}.new.zip"
    result = repackage(shipped, staged, evaluation=evaluation, description=DESCRIPTION, record_update=OWN_MODES)
    staged.replace(shipped)
    (HERE / f"{NAME}.metrics.json").write_text(json.dumps(evaluation, indent=2))
    with zipfile.ZipFile(shipped) as packaged:  # the record as the package holds it (its own modes included)
        (HERE / f"{NAME}.carekit.json").write_bytes(packaged.read("carekit.json"))
    print(json.dumps(result.test_results), shipped)


if __name__ == "__main__":
    main()

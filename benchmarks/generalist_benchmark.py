"""Leave-one-dataset-out benchmark of the generalist denoiser.

    .venv/bin/python benchmarks/generalist_benchmark.py [--epochs 100] [--steps 40] [--filters 32] [--variant V ...]
                                                        [--stage train|evaluate|all|shipped] [--datasets D ...]

For each built-in dataset D (hela, nuclei3d, bbbc007, mahotas): a generalist model is trained on the training images of
every OTHER training dataset (carekit.generalist: the shipped model's recipe, steps and training datasets, which leave
nuclei3d out: its left-out model is trained as the shipped one is) and tested on the held-out images of D
(synth.generalist.split; central 512x512 crops) degraded by carekit's camera model (background 1 photon, read noise 2,
offset 100, no blur) at 3 and 10 photons. Compared per image with the best of the oracle-tuned classical baselines
(Gaussian, NLM, TV, GAT+NLM with the true camera; evaluate/baselines.py), the LODO model alone, with rescale search and
with its own defaults (rescale search and the classical blend, as carekit runs the generalist), the shipped in-domain
HeLa model, and the shipped generalist (trained on the training images of every training dataset; its model folder in
model-zoo/_work, as make_generalist.py leaves it before packaging; in a fresh clone the shipped zip, same weights).
`--stage shipped` scores only that model again in a protocol's results (a candidate make_generalist.py trained, where
the left-out models need not be at hand).
Models go to benchmarks/_work/generalist/; results to benchmarks/results/generalist-100x40-f32.{json,md,png} for the
recipe (100 x 40 steps, 32 filters). Every budget or network width (--epochs/--steps/--filters) is a protocol whose
models, rows and results carry its tag (without-hela-100x40-f32, generalist-8x40-f16.md), except the recipe's
protocol until it became 4000 steps, 40 x 40 steps with 32 filters: its files carry none (generalist.md,
without-hela).
A --variant changes one thing in the recipe or its training distribution (VARIANTS; several combine), to find what
limits the generalist on unseen data; it is part of the tag too (without-bbbc007-sharp, generalist-sharp.md).
Runs made before the recipe became depth 2 / 32 filters carry the tags that say so (-8x40-f16-depth3), and those
made before it left nuclei3d out carry -with-nuclei3d.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from carekit.generalist import DATASETS, TRAINING_DATASETS, UNSEEN_DATASETS, recipe
from precision_benchmark import machine

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "generalist"
RESULTS = HERE / "results"
ZOO = HERE.parent / "model-zoo"
# the shipped generalist's model folder as make_generalist.py leaves it (the zip holds the same weights)
SHIPPED_FOLDER = ZOO / "_work" / "care-generalist-nuclei-denoising"
SHIPPED = SHIPPED_FOLDER if SHIPPED_FOLDER.exists() else ZOO / "care-generalist-nuclei-denoising.zip"  # fresh clone
SHIPPED_NAME = "shipped generalist"  # its name among the models compared
PHOTONS = (3.0, 10.0)
CAMERA = {"gain": 1.0, "read_noise": 2.0, "offset": 100.0}
RECIPE = recipe()
DEFAULT_PROTOCOL = (RECIPE.epochs, RECIPE.steps_per_epoch, RECIPE.unet_first)  # epochs, steps per epoch, U-Net filters
UNTAGGED_PROTOCOL = (40, 40, 32)  # the recipe's protocol until it became 100 x 40 steps: its files carry no tag
UNTAGGED_NAME = "{}x{}-f{}".format(*UNTAGGED_PROTOCOL)  # what that protocol's tag would be
# name: (what it changes, TrainConfig fields, GeneralistSettings fields and "datasets": the ones to train on)
VARIANTS = {
    "depth3": ("U-Net depth 3 instead of 2 (the first generalist's network)", {"unet_depth": 3}, {}),
    "deterministic": ("plain CARE loss (mean absolute error) instead of the probabilistic Laplace loss",
                      {"probabilistic": False}, {}),
    "mse": ("plain CARE with the mean squared error (the conditional mean, what PSNR rewards) instead of the "
            "probabilistic Laplace loss (a median)", {"probabilistic": False, "loss": "mse"}, {}),
    "lr1e-3": ("learning rate 1e-3 instead of 4e-4", {"learning_rate": 1e-3}, {}),
    "sharp": ("no blur on the clean images (sigma 0 instead of 0-1.5 px)", {}, {"blur_sigma_px": (0.0, 0.0)}),
    "photons2-20": ("photon levels 2-20 instead of 1-50", {}, {"photons": (2.0, 20.0)}),
    "zoom0.7-1.4": ("zoom 0.7-1.4x instead of 0.5-2x", {}, {"zoom": (0.7, 1.4)}),
    "hela-camera": ("the shipped HeLa model's degradation: no zoom, no blur, 3-10 photons, background 1, read noise 2",
                    {}, {"zoom": (1.0, 1.0), "blur_sigma_px": (0.0, 0.0), "photons": (3.0, 10.0),
                         "background_photons": (1.0, 1.0), "read_noise": (2.0, 2.0)}),
    "gamma0.5-2": ("clean images raised to a log-uniform power 0.5-2 (dynamic range: dense and bright, or most "
                   "structure dim beside a few bright spots)", {}, {"gamma": (0.5, 2.0)}),
    "gamma0.5-4": ("clean images raised to a log-uniform power 0.5-4 (as gamma0.5-2, dimmer structure more often)",
                   {}, {"gamma": (0.5, 4.0)}),
    "objects0.05-1": ("each object's contrast over the background scaled by its own log-uniform factor 0.05-1 (dim "
                      "nuclei beside bright ones, as in mahotas)", {}, {"object_gain": (0.05, 1.0)}),
    "with-nuclei3d": ("nuclei3d's raw confocal planes in training too (the recipe until its noisy reference was "
                      "found)", {}, {"datasets": DATASETS}),
    "with-gowt1": ("gowt1's training frames in training too (a fourth real dataset, large textured nuclei; "
                   "carekit.generalist.UNSEEN_DATASETS)", {}, {"datasets": TRAINING_DATASETS + UNSEEN_DATASETS}),
    "seed1": ("nothing but the seeds (training data and network): the run-to-run spread", {"seed": 1}, {"seed": 1}),
    "bf16": ("bfloat16 mixed precision instead of fp32 (needs a CPU with AVX512_BF16 or AMX; about 1.9x faster there)",
             {"precision": "bf16"}, {}),
}


def tag(epochs: int, steps: int, filters: int, variants: tuple[str, ...] = ()) -> str:
    """The file-name tag of a protocol and recipe variants (in VARIANTS order, whatever order they were given in):
    empty for the untagged protocol without variants."""
    protocol = "" if (epochs, steps, filters) == UNTAGGED_PROTOCOL else f"-{epochs}x{steps}-f{filters}"
    return protocol + "".join(f"-{v}" for v in _in_order(variants))


def _in_order(variants: tuple[str, ...]) -> tuple[str, ...]:
    """The variants once each, in VARIANTS order: the same variants name the same model however they were given."""
    return tuple(v for v in VARIANTS if v in variants)


RECIPE_TAG = tag(*DEFAULT_PROTOCOL)
RECIPE_RESULTS = RESULTS / f"generalist{RECIPE_TAG}.json"  # the recipe's leave-one-dataset-out results


def variant_changes(variants: tuple[str, ...]) -> tuple[str, dict, dict]:
    """(what they change, TrainConfig fields, GeneralistSettings fields) of recipe variants combined in VARIANTS
    order."""
    config, settings = {}, {}
    variants = _in_order(variants)
    for name in variants:
        config.update(VARIANTS[name][1])
        settings.update(VARIANTS[name][2])
    return "; ".join(VARIANTS[name][0] for name in variants) or "nothing (the recipe)", config, settings


def lodo_dir(left_out: str, protocol_tag: str = RECIPE_TAG) -> Path:
    return WORK / f"without-{left_out}{protocol_tag}"


def train_all(epochs: int, steps: int, names=None, filters: int = DEFAULT_PROTOCOL[2],
              variants: tuple[str, ...] = ()) -> dict:
    from carekit.generalist import train_generalist
    from carekit.synth.generalist import GeneralistSettings

    _, config_changes, settings_changes = variant_changes(variants)
    settings_changes.pop("datasets", None)  # not a GeneralistSettings field: trained_on(variants)
    times = {}
    for left_out in names or DATASETS:
        model_dir = lodo_dir(left_out, tag(epochs, steps, filters, variants))
        if (model_dir / "weights_best.h5").exists():
            continue
        start = time.time()
        config = recipe(epochs, steps).model_copy(update={"unet_first": filters, **config_changes})
        train_generalist(model_dir, config, leave_out=left_out, settings=GeneralistSettings(**settings_changes),
                         progress=False, datasets=trained_on(variants))
        times[left_out] = round(time.time() - start, 1)
        (model_dir / "benchmark_training.json").write_text(json.dumps(
            {"seconds": times[left_out], "machine": machine(), "load_average_after": os.getloadavg()}))
        print(f"trained without {left_out}: {times[left_out]} s, load {os.getloadavg()}", flush=True)
    return times


def test_pairs(name: str, photons: float):
    """(lows, highs): the held-out images of a dataset (central crops) at a photon level."""
    from carekit.config import SynthConfig
    from carekit.generalist import splits
    from carekit.synth.pairs import make_pairs

    held_out = [_central(im, 512) for im in splits([name])[name][1]]
    return make_pairs(held_out, SynthConfig(photons=[photons], seed=2026))


def held_out_images(datasets, levels=PHOTONS):
    """(dataset, photons, index, low as float32, high) for every held-out image of `datasets` at every level."""
    for dataset in datasets:
        for photons in levels:
            lows, highs = test_pairs(dataset, photons)
            for index, (low, high) in enumerate(zip(lows, highs)):
                yield dataset, photons, index, low.astype(np.float32), high


def _central(image: np.ndarray, size: int) -> np.ndarray:
    top, left = max(image.shape[0] - size, 0) // 2, max(image.shape[1] - size, 0) // 2
    return image[top:top + size, left:left + size]


LODO = "generalist without it (LODO)"
LODO_SEARCH = "generalist without it (LODO), rescale search"
LODO_DEFAULT = "generalist without it (LODO), its defaults"  # rescale search + classical blend, as carekit runs it
# the models restored with a rescale mode and classical blend (restore's arguments); the others with neither
MODES = {LODO_SEARCH: ("search", False), LODO_DEFAULT: ("model", None)}


def models(left_out: str, protocol_tag: str) -> dict:
    """The models compared on dataset `left_out`: never saw it (LODO), alone, with rescale search and with its own
    default modes (MODES), shipped generalist, shipped HeLa model."""
    from carekit.models import load_model

    found = {LODO: lodo_dir(left_out, protocol_tag),
             SHIPPED_NAME: SHIPPED,
             "shipped HeLa model": ZOO / "care-hela-nuclei-denoising.zip"}
    runners = {name: load_model(path) for name, path in found.items() if path.exists()}
    return {**runners, **{name: runners[LODO] for name in MODES}} if LODO in runners else runners


def score_image(low, high, runners: dict) -> dict:
    """Scores of the baselines and of each model (name: runner; restored with its MODES, else alone)."""
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score

    row = {"raw": score(high, low).psnr, "raw_scores": score(high, low).as_dict(), "baselines": {}, "models": {},
           "model_scores": {}}
    images = {"raw": low}
    for name, result in run_baselines(low, high, camera=CAMERA).items():
        row["baselines"][name] = round(score(high, result).psnr, 2)
        images[name] = result
    best = max(row["baselines"], key=row["baselines"].get)
    row.update(best_baseline=best, best_baseline_psnr=row["baselines"][best])
    for name, runner in runners.items():
        images[name] = score_model(row, name, runner, low, high)
    images["best baseline"], images["truth"] = images[best], high
    return row, images


def score_model(row: dict, name: str, runner, low, high) -> np.ndarray:
    """Restore `low` with the model `name` (with its MODES, else alone), put its scores in `row` and return the
    restoration."""
    from carekit.evaluate.metrics import score
    from carekit.predict import restore

    rescale, blend = MODES.get(name, (None, False))
    restored = restore(runner, low, axes="YX", progress=False, check_domain=False, rescale=rescale,
                       classical_blend=blend).image
    row["model_scores"][name] = score(high, restored).as_dict()
    row["models"][name] = round(row["model_scores"][name]["psnr"], 2)
    return restored


def evaluate_all(epochs: int, steps: int, names=None, filters: int = DEFAULT_PROTOCOL[2],
                 variants: tuple[str, ...] = ()) -> None:
    """Score every model on the held-out images of `names` (default all; rows kept per dataset in WORK), then
    summarize all datasets scored so far under this protocol and variants."""
    protocol_tag = tag(epochs, steps, filters, variants)
    for name in names or DATASETS:
        runners, rows = models(name, protocol_tag), []
        for photons in PHOTONS:
            lows, highs = test_pairs(name, photons)
            for index, (low, high) in enumerate(zip(lows, highs)):
                row, images = score_image(low, high, runners)
                rows.append({"dataset": name, "photons": photons, "image": index, **row})
                if index == 0:
                    np.savez_compressed(WORK / f"figure_{name}_{photons:g}{protocol_tag}.npz", **images)
                print(name, photons, index, row["best_baseline_psnr"], row["models"], flush=True)
        (WORK / f"rows_{name}{protocol_tag}.json").write_text(json.dumps(rows))
    rows = [r for name in DATASETS if (WORK / f"rows_{name}{protocol_tag}.json").exists()
            for r in json.loads((WORK / f"rows_{name}{protocol_tag}.json").read_text())]
    protocol = {"epochs": epochs, "steps_per_epoch": steps, "unet_filters": filters, "photons": PHOTONS,
                "camera": CAMERA, "variants": variants, "variant_changes": variant_changes(variants)[0],
                "training_datasets": trained_on(variants), "load_average": os.getloadavg(), "machine": machine(),
                "training": training_records(protocol_tag)}
    summary = write_results(protocol, rows, protocol_tag)
    figure({(r["dataset"], r["photons"]): dict(np.load(WORK / f"figure_{r['dataset']}_{r['photons']:g}"
                                                              f"{protocol_tag}.npz"))
            for r in summary}, RESULTS / f"generalist{protocol_tag}.png")


def write_results(protocol: dict, rows: list[dict], protocol_tag: str) -> list[dict]:
    """Summarize `rows` into this protocol's results JSON and markdown; the summary."""
    summary = summarize(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"generalist{protocol_tag}.json").write_text(
        json.dumps({"protocol": protocol, "summary": summary, "rows": rows}, indent=2))
    (RESULTS / f"generalist{protocol_tag}.md").write_text(
        markdown(summary, protocol["epochs"], protocol["steps_per_epoch"], protocol["unet_filters"],
                 tuple(protocol["variants"])))
    return summary


def rescore_shipped(epochs: int, steps: int, filters: int = DEFAULT_PROTOCOL[2],
                    variants: tuple[str, ...] = ()) -> None:
    """Score the shipped generalist again on every image of this protocol's results, keeping the other scores
    (after make_generalist.py trained a new one; the LODO models and their rows need not be here). The figure does not
    show the shipped generalist and stays as it is."""
    from carekit.models import load_model

    protocol_tag = tag(epochs, steps, filters, variants)
    result = json.loads((RESULTS / f"generalist{protocol_tag}.json").read_text())
    runner, pairs = load_model(SHIPPED), {}
    for row in result["rows"]:
        key = (row["dataset"], row["photons"])
        lows, highs = pairs.setdefault(key, test_pairs(*key))
        score_model(row, SHIPPED_NAME, runner, lows[row["image"]], highs[row["image"]])
        print(*key, row["image"], row["best_baseline_psnr"], row["models"][SHIPPED_NAME], flush=True)
    result["protocol"]["shipped_rescored"] = {"model": str(SHIPPED.relative_to(ZOO.parent)), "machine": machine()}
    write_results(result["protocol"], result["rows"], protocol_tag)


def training_records(protocol_tag: str) -> dict:
    """{left-out dataset: training seconds, machine and load} of the LODO models that recorded them."""
    paths = {name: lodo_dir(name, protocol_tag) / "benchmark_training.json" for name in DATASETS}
    return {name: json.loads(path.read_text()) for name, path in paths.items() if path.exists()}


def summarize(rows: list[dict]) -> list[dict]:
    """Mean PSNR per dataset and photon level: raw, the per-image best baseline, each model, margins."""
    out = []
    for key in dict.fromkeys((r["dataset"], r["photons"]) for r in rows):
        group = [r for r in rows if (r["dataset"], r["photons"]) == key]
        entry = {"dataset": key[0], "photons": key[1], "images": len(group),
                 "raw": round(float(np.mean([r["raw"] for r in group])), 2),
                 "best_baseline": round(float(np.mean([r["best_baseline_psnr"] for r in group])), 2),
                 "best_baseline_names": sorted({r["best_baseline"] for r in group}), "models": {}}
        for name in group[0]["models"]:
            psnr = float(np.mean([r["models"][name] for r in group]))
            entry["models"][name] = {"psnr": round(psnr, 2), "margin": round(psnr - entry["best_baseline"], 2),
                                     "worst_image_margin": round(min(r["models"][name] - r["best_baseline_psnr"]
                                                                     for r in group), 2)}
        out.append(entry)
    return out


def markdown(summary: list[dict], epochs: int, steps: int, filters: int, variants: tuple[str, ...] = ()) -> str:
    names = list(dict.fromkeys(n for e in summary for n in e["models"]))
    change = f"; variants {', '.join(variants)}: {variant_changes(variants)[0]}" if variants else ""
    lines = ["# Generalist denoiser: leave-one-dataset-out", "",
             f"Each LODO model: the generalist recipe (carekit.generalist.recipe: {network_words(filters, variants)}"
             f"{change}) trained {epochs} x {steps} steps on the training images of {', '.join(trained_on(variants))} "
             "(less the left-out dataset). Test: "
             "held-out images of the left-out dataset, carekit's camera model (background 1 photon, read noise 2, "
             "offset 100) at 3 and 10 photons. Best baseline = per image the best of Gaussian, NLM, TV and "
             "GAT+NLM (true camera), each oracle-tuned on the ground truth. PSNR in dB (mean over images; margin = "
             "model - best baseline; worst = the smallest per-image margin). Shipped generalist: the recipe trained on "
             f"the training images of {', '.join(TRAINING_DATASETS)} (it saw the other images of those sets).", "",
             "| left-out dataset | photons | images | raw | best baseline | " + " | ".join(names) + " |",
             "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for e in summary:
        cells = [f"{e['models'][n]['psnr']:.2f} ({e['models'][n]['margin']:+.2f}; worst "
                 f"{e['models'][n]['worst_image_margin']:+.2f})" if n in e["models"] else "-" for n in names]
        lines.append(f"| {e['dataset']} | {e['photons']:g} | {e['images']} | {e['raw']:.2f} | {e['best_baseline']:.2f} "
                     f"({', '.join(e['best_baseline_names'])}) | " + " | ".join(cells) + " |")
    for name in (LODO, LODO_SEARCH, LODO_DEFAULT):
        lodo = [e["models"].get(name) for e in summary]
        if all(lodo):
            met = sum(m["margin"] >= 1.0 for m in lodo)
            lines += ["", f"Goal (>= 1 dB over the best baseline on every left-out dataset and photon level), {name}: "
                          f"met in {met} of {len(lodo)} cases; margins "
                          + ", ".join(f"{m['margin']:+.2f}" for m in lodo) + " dB."]
    return "\n".join(lines) + "\n"


def trained_on(variants: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The datasets the LODO models of these variants train on, the left-out one aside."""
    return variant_changes(variants)[2].get("datasets", TRAINING_DATASETS)


def network_words(filters: int, variants: tuple[str, ...] = ()) -> str:
    """The LODO models' network in words."""
    config = RECIPE.model_copy(update={"unet_first": filters, **variant_changes(variants)[1]})
    loss = "probabilistic CARE" if config.probabilistic else f"CARE ({config.loss} loss)"
    return f"{loss}, U-Net depth {config.unet_depth}, {config.unet_first} filters"


def figure(images: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script: owns the backend
    import matplotlib.pyplot as plt
    from carekit.normalize import normalize_ground_truth

    columns = ["raw", "best baseline", "shipped HeLa model", LODO, LODO_DEFAULT, "truth"]
    fig, axes = plt.subplots(len(images), len(columns), figsize=(2.2 * len(columns), 2.2 * len(images)))
    for row, ((name, photons), panel) in zip(axes, images.items()):
        for ax, column in zip(row, columns):
            ax.set_axis_off()
            if column not in panel:
                continue
            image = panel[column]
            cy, cx = image.shape[0] // 2, image.shape[1] // 2
            crop = normalize_ground_truth(image[max(cy - 96, 0):cy + 96, max(cx - 96, 0):cx + 96])
            ax.imshow(crop, cmap="magma", vmin=0, vmax=1)
            ax.set_title(f"{name} {photons:g} ph\n{column}" if column == "raw" else column.replace(" (LODO)", ""),
                         fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=DEFAULT_PROTOCOL[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_PROTOCOL[1])
    parser.add_argument("--filters", type=int, default=DEFAULT_PROTOCOL[2], help="U-Net filters of the first level")
    parser.add_argument("--variant", nargs="+", choices=tuple(VARIANTS), default=[],
                        help="; ".join(f"{name}: {what}" for name, (what, _, _) in VARIANTS.items()))
    parser.add_argument("--stage", choices=("train", "evaluate", "all", "shipped"), default="all",
                        help="shipped: score only the shipped generalist (model-zoo/_work's, else the zip) again on "
                        "every dataset of this protocol's results (--datasets does not apply), keeping the other "
                        "scores; it rewrites that protocol's results .json and .md in place")
    parser.add_argument("--datasets", nargs="+", help="only the models without these datasets (train), or score "
                        "only these datasets and summarize with those scored before (evaluate)")
    args = parser.parse_args()
    if args.stage in ("train", "all"):
        train_all(args.epochs, args.steps, args.datasets, args.filters, tuple(args.variant))
    if args.stage in ("evaluate", "all"):
        evaluate_all(args.epochs, args.steps, args.datasets, args.filters, tuple(args.variant))
    if args.stage == "shipped":
        rescore_shipped(args.epochs, args.steps, args.filters, tuple(args.variant))


if __name__ == "__main__":
    main()

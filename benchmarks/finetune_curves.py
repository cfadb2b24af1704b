"""PSNR vs wall time: supervised training on a left-out dataset from scratch vs from the generalist that never saw it.

    .venv/bin/python benchmarks/finetune_curves.py [--dataset mahotas] [--budgets 1 2.5 5 10]
                                                   [--arms scratch generalist selfsup] [--start 100 40 32]
                                                   [--start-variant V ...] [--rescale search]

The "user's data" are the training images of the left-out dataset (synth.generalist.split) made into semi-synthetic
pairs at 3 and 10 photons (carekit's camera model, 4 noise seeds); the test images are its held-out images at 3 and
10 photons (central 512x512 crops, as in generalist_benchmark.py). Both runs use the generalist recipe
(carekit.generalist.recipe) and learning rate; "from the generalist" starts from
benchmarks/_work/generalist/without-DATASET-100x40-f32 (the left-out generalist of generalist_benchmark.py, which
never saw the dataset; trained here first, with that benchmark's recipe, when a fresh clone lacks it), i.e. what
`carekit train --from` does; --start EPOCHS STEPS FILTERS and --start-variant pick the generalist of another protocol
or recipe variant of that benchmark, and the supervised runs then use its network, from scratch too. "Self-supervised
from the generalist" sees the user's noisy images only (R2R, what `carekit finetune` does with its defaults: the
generalist's mean network, learning rate / 3, early stopping after 10 epochs without improvement; its validation
passes are not counted in its time). Weights are saved when the training time passes each budget (minutes; data
preparation and the saves are not counted) and evaluated afterwards. The best oracle-tuned classical baseline (true
camera) is the reference line. Results: benchmarks/results/finetune_DATASET-100x40-f32.{json,md,png}; from another
start, that start's tag (finetune_DATASET.* from the untagged 40 x 40-step generalist, and so on). Times are on
whatever machine runs it (its load is recorded). Arms left out of --arms keep their earlier measurement in the
results (each point records the load it ran under); --scratch-from takes the from-scratch arm from another start's
results instead (the recipe's curves carry finetune_DATASET's: same network and kind of machine). --rescale MODE
restores the test images with that rescale mode (carekit.predict.rescale: 'auto' or 'search'), the generalist before
training and every snapshot alike; its results carry the tag -rescale-MODE.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import DEFAULT_PROTOCOL, VARIANTS, lodo_dir, tag, train_all, variant_changes  # noqa: E402
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "finetune"
RESULTS = HERE / "results"
PHOTONS = (3.0, 10.0)
CAMERA = {"gain": 1.0, "read_noise": 2.0, "offset": 100.0}
ARMS = {"scratch": "from scratch", "generalist": "from the generalist",
        "selfsup": "self-supervised from the generalist"}


def user_pairs(dataset: str):
    from carekit.config import SynthConfig
    from carekit.generalist import splits
    from carekit.synth.pairs import make_pairs

    train, test = splits([dataset])[dataset]
    lows, highs = [], []
    for seed in range(4):
        low, high = make_pairs(train, SynthConfig(photons=list(PHOTONS), seed=100 + seed))
        lows += low
        highs += high
    tests = {p: make_pairs([_central(im) for im in test], SynthConfig(photons=[p], seed=2026)) for p in PHOTONS}
    return lows, highs, tests


def _central(image: np.ndarray, size: int = 512) -> np.ndarray:
    top, left = max(image.shape[0] - size, 0) // 2, max(image.shape[1] - size, 0) // 2
    return image[top:top + size, left:left + size]


def timed_training(lows, highs, start_from: Path | None, budgets_s: list[float], folder: Path, network: dict) -> dict:
    """Train the generalist recipe with the `network` changes (TrainConfig fields) until the last budget, saving the
    weights as each budget of training time passes."""
    import keras
    from csbdeep.internals.train import DataWrapper

    from carekit import __version__
    from carekit.config import ModelRecord
    from carekit.generalist import recipe
    from carekit.train.care import build_care, fit_from_generator, prepare_training_data, seeded

    config = recipe(epochs=100000, steps_per_epoch=5).model_copy(update={"patches_per_image": 32, "precision": "fp32",
                                                                        **network})
    shutil.rmtree(folder, ignore_errors=True)
    with seeded(config.seed):
        (x, y), _ = prepare_training_data(lows, highs, config)
        care = build_care(config, folder / "model")
        if start_from is not None:
            care.keras_model.load_weights(str(start_from / "weights_best.h5"))
        care.prepare_for_training(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate))
        record = ModelRecord(carekit_version=__version__, name="snapshot", train=config)
        snapshots = Snapshots(budgets_s, folder, record)
        batches = DataWrapper(x, y, config.batch_size, length=10**9)
        fit_from_generator(care.keras_model, iter(batches), epochs=config.epochs, steps_per_epoch=5,
                           callbacks=[snapshots])
    return snapshots.saved


def selfsup_training(noisy, start_from: Path, budgets_s: list[float], folder: Path) -> dict:
    """R2R fine-tuning of the generalist on the noisy images only, saving the weights as each budget passes."""
    from carekit.generalist import recipe
    from carekit.train.selfsup import train_selfsupervised

    base = recipe()
    config = recipe(epochs=100000, steps_per_epoch=40).model_copy(update={
        "patches_per_image": 32, "precision": "fp32", "probabilistic": False, "learning_rate": base.learning_rate / 3})
    shutil.rmtree(folder, ignore_errors=True)
    snapshots = Snapshots(budgets_s, folder, None)
    train_selfsupervised(noisy, config, folder / "model", method="r2r", pretrained=start_from, progress=False,
                         callbacks=(snapshots,))
    return snapshots.saved


def Snapshots(budgets_s, folder: Path, record):  # noqa: N802  (a Keras callback built after TF is imported)
    import keras

    from carekit.train.callbacks import save_weights

    class _Snapshots(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.pending, self.saved, self.steps, self.trained, self.last = list(budgets_s), {}, 0, 0.0, None

        def on_train_batch_begin(self, batch, logs=None):
            self.last = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.trained += time.perf_counter() - self.last
            self.steps += 1
            while self.pending and self.trained >= self.pending[0]:
                self._save(self.pending.pop(0))
            if not self.pending:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            """Early stopping ended the training: the later budgets get its final (best) weights."""
            while self.pending:
                self._save(self.pending.pop(0), stopped_early=True)

        def _save(self, budget, stopped_early=False):
            target = folder / f"after_{budget:g}s"
            shutil.copytree(folder / "model", target, ignore=shutil.ignore_patterns("*.h5"), dirs_exist_ok=True)
            if record is not None:  # else the training wrote its own record into the model folder
                record.save(target)
            save_weights(self.model, target / "weights_best.h5")
            self.saved[budget] = {"folder": str(target), "steps": self.steps, "load": os.getloadavg()[0],
                                  "stopped_early": stopped_early}

    return _Snapshots()


def psnr_of(model, tests: dict, rescale: str | None = None) -> dict:
    from carekit.evaluate.metrics import score
    from carekit.predict import restore

    def psnr(low, high):
        return score(high, restore(model, low, axes="YX", progress=False, check_domain=False,
                                   rescale=rescale, classical_blend=False).image).psnr

    return {p: round(float(np.mean([psnr(low, high) for low, high in zip(*tests[p])])), 2) for p in tests}


def best_baselines(tests: dict) -> dict:
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score

    best = {}
    for p, (lows, highs) in tests.items():
        best[p] = round(float(np.mean([max(score(h, r).psnr for r in run_baselines(l, h, camera=CAMERA).values())
                                       for l, h in zip(lows, highs)])), 2)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mahotas")
    parser.add_argument("--budgets", type=float, nargs="+", default=[1, 2.5, 5, 10], help="minutes")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--start", type=int, nargs=3, default=list(DEFAULT_PROTOCOL),
                        metavar=("EPOCHS", "STEPS", "FILTERS"), help="the generalist_benchmark.py protocol whose "
                        "left-out generalist the runs start from")
    parser.add_argument("--start-variant", nargs="+", choices=tuple(VARIANTS), default=[],
                        help="the generalist_benchmark.py recipe variants of that generalist")
    parser.add_argument("--scratch-from", metavar="STEM", help="take the from-scratch arm from these results in "
                        "benchmarks/results (e.g. finetune_mahotas, from another start of the same network: that arm "
                        "does not use the start's weights) instead of running it; leave scratch out of --arms")
    parser.add_argument("--rescale", choices=("auto", "search"), help="restore the test images with this rescale mode")
    args = parser.parse_args()
    if args.scratch_from and "scratch" in args.arms:
        parser.error("--scratch-from replaces the scratch arm: leave scratch out of --arms")
    from carekit.train.care import NETWORK_FIELDS

    epochs, steps, filters = args.start
    variants = tuple(args.start_variant)
    start_tag = tag(epochs, steps, filters, variants)
    network = {key: value for key, value in {"unet_first": filters, **variant_changes(variants)[1]}.items()
               if key in NETWORK_FIELDS}  # a variant's seed or learning rate is the start's, not the fine-tuning's
    carried = _carried_scratch(parser, args.scratch_from, args.dataset, network, args.budgets, args.rescale) \
        if args.scratch_from else None
    start_from = lodo_dir(args.dataset, start_tag)
    train_all(epochs, steps, [args.dataset], filters, variants)  # no-op when trained already
    lows, highs, tests = user_pairs(args.dataset)
    budgets = [b * 60 for b in args.budgets]
    result = {"dataset": args.dataset, "budgets_min": args.budgets, "photons": PHOTONS, "camera": CAMERA,
              "start": {"epochs": epochs, "steps_per_epoch": steps, "unet_filters": filters,
                        "variants": variants, "network": network},
              "cpu_cores": os.cpu_count(), "load_average_start": os.getloadavg(), "runs": {}}
    result["best_baseline"] = best_baselines(tests)
    result["generalist_before_training"] = psnr_of(start_from, tests, args.rescale)
    result["rescale"] = args.rescale
    stem = RESULTS / f"finetune_{args.dataset}{start_tag}{f'-rescale-{args.rescale}' if args.rescale else ''}"
    earlier = json.loads(stem.with_suffix(".json").read_text()) if stem.with_suffix(".json").exists() else {}
    result["runs"] = _read_runs(earlier.get("runs", {}))
    if earlier.get("scratch_from") and "scratch" not in args.arms:
        result["scratch_from"] = earlier["scratch_from"]  # the carried arm stays, and so does where it came from
    if carried:
        result["runs"][ARMS["scratch"]], result["scratch_from"] = carried, args.scratch_from
    for arm in args.arms:
        name, folder = ARMS[arm], WORK / (ARMS[arm].replace(" ", "_") + start_tag)
        saved = (selfsup_training(lows, start_from, budgets, folder) if arm == "selfsup" else
                 timed_training(lows, highs, start_from if arm == "generalist" else None, budgets, folder, network))
        result["runs"][name] = [{"minutes": b / 60, **info, "machine": machine(),
                                 "psnr": psnr_of(info["folder"], tests, args.rescale)}
                                for b, info in saved.items()]
        print(name, json.dumps(result["runs"][name]), flush=True)
    result["runs"] = {ARMS[arm]: result["runs"][ARMS[arm]] for arm in ARMS if ARMS[arm] in result["runs"]}
    result["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    stem.with_suffix(".md").write_text(markdown(result))
    figure(result, stem.with_suffix(".png"))


def _carried_scratch(parser, stem: str, dataset: str, network: dict, budgets: list, rescale: str | None) -> list:
    """The from-scratch arm of the results `stem`, refused before any work unless they exist and are of the same
    dataset, network, budgets and rescale mode."""
    path = RESULTS / f"{Path(stem).name.removesuffix('.json')}.json"
    if not path.exists():
        parser.error(f"--scratch-from {stem}: {path} not found")
    other = json.loads(path.read_text())
    if ARMS["scratch"] not in other["runs"]:
        parser.error(f"--scratch-from {stem}: {path.name} has no from-scratch arm")
    mine = (dataset, network, list(budgets), rescale)
    theirs = (other["dataset"], other["start"]["network"], other["budgets_min"], other.get("rescale"))
    if mine != theirs:
        parser.error(f"--scratch-from {stem}: its dataset, network, budgets and rescale mode {theirs} differ from "
                     f"this run's {mine}")
    return _read_runs({ARMS["scratch"]: other["runs"][ARMS["scratch"]]})[ARMS["scratch"]]


def _read_runs(runs: dict) -> dict:
    """Runs read back from JSON, with their photon keys numbers again."""
    return {name: [{**point, "psnr": {float(p): v for p, v in point["psnr"].items()}} for point in points]
            for name, points in runs.items()}


def markdown(result: dict) -> str:
    lines = [f"# PSNR vs training time on a left-out dataset ({result['dataset']})", "",
             f"{_machines(result)}; {_sharing(result)} (load average {result['load_average_start'][0]:.1f} at the "
             f"start, {result['load_average_end'][0]:.1f} at the end); fp32; times count training steps only. "
             "Supervised: semi-synthetic pairs from the dataset's training images "
             "at 3 and 10 photons; self-supervised: their noisy images only (R2R). PSNR (dB) on the dataset's held-out "
             f"images. The generalist start ({_start(result)}) never saw this dataset; the supervised runs use its "
             "network, from scratch too. Arms measured in an earlier run keep their "
             "numbers (the results' JSON records the load under each point)"
             + (f"; from scratch is carried over from {result['scratch_from']}.md (the same dataset, network and "
                "budgets; it does not use the start's weights)" if result.get("scratch_from") else "") + "."
             + (f" Every model restores the test images with `--rescale {result['rescale']}`; the baselines are "
                "the same." if result.get("rescale") else ""), "",
             "| run | minutes | steps | PSNR 3 photons | PSNR 10 photons |", "| --- | --- | --- | --- | --- |",
             f"| best classical baseline | - | - | {result['best_baseline'][3.0]:.2f} | "
             f"{result['best_baseline'][10.0]:.2f} |",
             f"| generalist, no fine-tuning | 0 | 0 | {result['generalist_before_training'][3.0]:.2f} | "
             f"{result['generalist_before_training'][10.0]:.2f} |"]
    for name, points in result["runs"].items():
        lines += [f"| {name} | {p['minutes']:g} | {p['steps']}{' (stopped early)' if p.get('stopped_early') else ''} "
                  f"| {p['psnr'][3.0]:.2f} | {p['psnr'][10.0]:.2f} |" for p in points]
    return "\n".join(lines) + "\n"


def _start(result: dict) -> str:
    start = result["start"]
    variant = f", variants {', '.join(start['variants'])}" if start.get("variants") else ""
    return (f"generalist_benchmark.py's left-out generalist, {start['epochs']} x {start['steps_per_epoch']} steps, "
            f"{start['unet_filters']} filters{variant}")


def _machines(result: dict) -> str:
    """The machine(s) the points were measured on (arms measured in separate runs may differ)."""
    found = list(dict.fromkeys(p.get("machine", "an earlier run's machine (not recorded)")
                               for points in result["runs"].values() for p in points))
    return "; ".join(found)


def _sharing(result: dict) -> str:
    """The run's own TensorFlow threads (intra- and inter-op) keep the load near cores + 1 on an idle machine."""
    loads = (result["load_average_start"][0], result["load_average_end"][0])
    return "otherwise idle" if max(loads) < result["cpu_cores"] + 1 else "shared with other jobs"


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script: owns the backend
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PHOTONS), figsize=(9, 3.6))
    for ax, photons in zip(axes, PHOTONS):
        for (name, points), color in zip(result["runs"].items(), ("tab:gray", "tab:blue", "tab:green")):
            minutes = [p["minutes"] for p in points]
            psnr = [p["psnr"][photons] for p in points]
            if name != "from scratch":
                minutes, psnr = [0.0] + minutes, [result["generalist_before_training"][photons]] + psnr
            ax.plot(minutes, psnr, "o-", color=color, label=name)
        best = result["best_baseline"][photons]
        ax.axhline(best, color="tab:red", ls="--", label="best classical baseline")
        ax.axhline(best + 2, color="tab:red", ls=":", label="goal: baseline + 2 dB")
        ax.set(title=f"{result['dataset']}, {photons:g} photons", ylabel="PSNR (dB)",
               xlabel=f"training minutes ({result['cpu_cores']} cores, {_sharing(result)})")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Transfer learning (Wang et al.): does fine-tuning a supervised model self-supervised on the user's noisy images
beat self-supervised training from scratch, at the same training budget?

    .venv/bin/python benchmarks/transfer_experiment.py [--steps 50] [--epochs 15]

1. pretrain CARE supervised on semi-synthetic pairs from the built-in confocal nuclei (another microscope);
2. 'user data': noisy widefield HeLa frames 0-15 (semi-synthetic, 5 photons) -- the ground truth is not used;
3. Noise2Void from scratch on them vs Noise2Void fine-tuning of (1) with a 10x lower learning rate + early stopping;
4. evaluate on held-out HeLa frames 16-19 (other noise seed) against ground truth.
Results: benchmarks/results/transfer.json and transfer.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTONS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--work", default=str(HERE / "results" / "_transfer_work"))
    args = parser.parse_args()

    from carekit import workflows
    from carekit.config import SynthConfig, TrainConfig
    from carekit.data import builtin
    from carekit.evaluate.report import evaluate_images, markdown_table
    from carekit.predict import restore
    from carekit.synth.pairs import make_pairs

    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    budget = dict(epochs=args.epochs, steps_per_epoch=args.steps, patch_size=(64, 64), patches_per_image=64)
    timings = {}

    tic = time.time()
    pretrain_data = workflows.data_from_clean(SynthConfig(photons=[PHOTONS]), builtin="nuclei3d")
    workflows.train(pretrain_data, work / "pretrained", TrainConfig(**budget), progress=False)
    timings["pretrain"] = time.time() - tic

    noisy = workflows.data_from_noisy(builtin="hela", synth=SynthConfig(photons=[PHOTONS]), max_images=16)
    tic = time.time()
    scratch = workflows.selfsupervised(noisy, work / "n2v_scratch", method="n2v", progress=False, patience=5,
                                       **budget)
    timings["n2v_scratch"] = time.time() - tic
    tic = time.time()
    finetuned = workflows.selfsupervised(noisy, work / "n2v_finetuned", method="n2v", pretrained=work / "pretrained",
                                         progress=False, patience=5, epochs=args.epochs, steps_per_epoch=args.steps,
                                         patches_per_image=64)
    timings["n2v_finetuned"] = time.time() - tic

    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs(frames[16:], SynthConfig(photons=[PHOTONS], seed=4242))
    methods = {"Raw": lows}
    for name, model in (("supervised on other data (no fine-tuning)", work / "pretrained"),
                        ("N2V from scratch", scratch.model_dir), ("N2V fine-tuned (transfer)", finetuned.model_dir)):
        methods[name] = [restore(model, low, progress=False).image for low in lows]
    rows = evaluate_images(highs, methods, dataset=f"HeLa held-out, {PHOTONS:g} photons")
    table = markdown_table(rows)
    results = {"budget": budget, "epochs_trained": {"scratch": scratch.epochs_done, "finetuned": finetuned.epochs_done},
               "timings_s": {k: round(v, 1) for k, v in timings.items()}, "rows": rows}
    (HERE / "results" / "transfer.json").write_text(json.dumps(results, indent=2))
    (HERE / "results" / "transfer.md").write_text(
        "# Transfer learning: Noise2Void fine-tuning vs from scratch\n\n"
        f"Same budget ({args.epochs} epochs x {args.steps} steps, early stopping patience 5); epochs trained: "
        f"scratch {scratch.epochs_done}, fine-tuned {finetuned.epochs_done}. Pretraining: supervised CARE on "
        "semi-synthetic confocal nuclei (built-in nuclei3d planes).\n\n" + table)
    print(table)


if __name__ == "__main__":
    main()

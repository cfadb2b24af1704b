"""Transfer learning (Wang et al.): does fine-tuning a supervised model self-supervised on the user's noisy images
beat self-supervised training from scratch, at the same training budget?

    .venv/bin/python benchmarks/transfer_experiment.py [--steps 50] [--epochs 15]

1. pretrain CARE supervised on semi-synthetic pairs from the built-in confocal nuclei (another microscope);
2. 'user data': noisy widefield HeLa frames (semi-synthetic, 5 photons) -- the ground truth is not used;
3. Noise2Void and Recorrupted-to-Recorrupted (R2R) from scratch on them vs fine-tuning (1) with the same losses
   (`finetune`'s defaults: 3x lower learning rate, early stopping; R2R also at 10x lower and the same rate), with
   little data and a short budget (2 images, 5 epochs) and with more (16 images, --epochs);
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
    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs(frames[16:], SynthConfig(photons=[PHOTONS], seed=4242))
    rows, trained = [], {}
    # two regimes: little noisy data and a short budget (what transfer learning is for), and the full budget
    for label, n_images, epochs in (("2 noisy images, 5 epochs", 2, 5), (f"16 noisy images, {args.epochs} epochs", 16,
                                                                          args.epochs)):
        noisy = workflows.data_from_noisy(builtin="hela", synth=SynthConfig(photons=[PHOTONS]), max_images=n_images)
        runs = {}
        pretrained_rate = TrainConfig().learning_rate
        for name, method, pretrained, rate in (
                ("N2V from scratch", "n2v", None, pretrained_rate), ("R2R from scratch", "r2r", None, pretrained_rate),
                ("N2V fine-tuned", "n2v", work / "pretrained", None),
                ("R2R fine-tuned", "r2r", work / "pretrained", None),
                ("R2R fine-tuned, rate / 10", "r2r", work / "pretrained", pretrained_rate / 10),
                ("R2R fine-tuned, same rate", "r2r", work / "pretrained", pretrained_rate)):
            tic = time.time()
            folder = work / f"{name.replace(' ', '_').replace(',', '').replace('/', 'over')}_{n_images}"
            extra = {} if rate is None else {"learning_rate": rate}
            runs[name] = workflows.selfsupervised(noisy, folder, method=method, pretrained=pretrained, progress=False,
                                                  patience=5, epochs=epochs, steps_per_epoch=args.steps,
                                                  patch_size=(64, 64), patches_per_image=64, **extra)
            timings[f"{label}: {name}"] = time.time() - tic
        methods = {"Raw": lows, "pretrained only": [restore(work / "pretrained", low, progress=False).image
                                                    for low in lows]}
        for name, result in runs.items():
            methods[name] = [restore(result.model_dir, low, progress=False).image for low in lows]
            trained[f"{label}: {name}"] = result.epochs_done
        rows += evaluate_images(highs, methods, dataset=label)
    table = markdown_table(rows)
    results = {"steps_per_epoch": args.steps, "epochs_trained": trained,
               "timings_s": {k: round(v, 1) for k, v in timings.items()}, "rows": rows}
    (HERE / "results" / "transfer.json").write_text(json.dumps(results, indent=2))
    (HERE / "results" / "transfer.md").write_text(
        "# Transfer learning: self-supervised fine-tuning vs from scratch\n\n"
        f"Held-out HeLa frames 16-19 at {PHOTONS:g} photons. Pretraining: supervised CARE on semi-synthetic "
        f"confocal nuclei (built-in nuclei3d planes, {args.epochs} x {args.steps} steps). Self-supervised runs: "
        f"{args.steps} steps per epoch, early stopping (patience 5), learning rate {TrainConfig().learning_rate:g} "
        "from scratch; fine-tuning (`finetune`'s defaults) at a 3x lower rate unless the name says otherwise, "
        "with the targets mapped into the pretrained model's intensity scale, keeping the pretrained weights unless "
        f"the validation loss improves. Epochs trained: {trained}.\n\n"
        + table)
    print(table)


if __name__ == "__main__":
    main()

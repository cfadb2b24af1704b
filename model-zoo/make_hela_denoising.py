"""Rebuild the shipped demo model: CARE denoising of widefield HeLa nuclei, trained on semi-synthetic pairs.

    .venv/bin/python model-zoo/make_hela_denoising.py [--epochs 40] [--steps 100]
    .venv/bin/python model-zoo/make_hela_denoising.py --from-zip   # no training: re-package the shipped zip


Frames 0-15 of the built-in 'hela' time-lapse are degraded at 3 and 10 photons (Poisson + read noise 2) for
training; frames 16-19, degraded with another seed, are held out for the metrics in the package README.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from carekit import workflows
from carekit.config import SynthConfig, TrainConfig
from carekit.data import builtin
from carekit.evaluate.baselines import run_baselines
from carekit.evaluate.metrics import score
from carekit.evaluate.report import evaluate_images, markdown_table
from carekit.models.keras_dir import KerasModelDir
from carekit.predict import restore
from carekit.synth.pairs import make_pairs
from carekit.train.sample import SAMPLE_INPUT_FILE
from carekit.zoo.package import build_package
from carekit.zoo.repackage import repackage

HERE = Path(__file__).resolve().parent
NAME = "care-hela-nuclei-denoising"
PHOTONS = [3.0, 10.0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--work", default=str(HERE / "_work"))
    parser.add_argument("--package-only", action="store_true", help="evaluate and package an already trained model")
    parser.add_argument("--from-zip", action="store_true",
                        help="re-package the shipped zip with the current packager (its weights and carekit.json, the "
                             "metrics of %s.metrics.json): no training, no evaluation" % NAME)
    args = parser.parse_args()
    if args.from_zip:
        return rebuild_from_zip()

    model_dir = Path(args.work) / NAME
    if not args.package_only:
        if model_dir.exists():
            shutil.rmtree(model_dir)
        data = workflows.data_from_clean(SynthConfig(photons=PHOTONS), builtin="hela", max_images=16)
        config = TrainConfig(epochs=args.epochs, steps_per_epoch=args.steps, patch_size=(64, 64), patches_per_image=64)
        workflows.train(data, model_dir, config)

    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs(frames[16:], SynthConfig(photons=PHOTONS, seed=2024))
    model = KerasModelDir(model_dir)
    rows, table_rows = [], []
    camera = {"gain": 1.0, "read_noise": 2.0, "offset": 100.0}
    for index, (low, high) in enumerate(zip(lows, highs)):
        frame, photons = 16 + index // len(PHOTONS), PHOTONS[index % len(PHOTONS)]
        restored = restore(model, low, progress=False).image
        rows.append({"name": f"frame {frame}, {photons:g} photons", "raw": score(high, low).as_dict(),
                     "care": score(high, restored).as_dict()})
        methods = {"Raw": [low], **{k: [v] for k, v in run_baselines(low, high, camera=camera).items()},
                   "CARE": [restored]}
        table_rows += evaluate_images([high], methods, dataset=f"HeLa {photons:g} photons", names=[f"frame {frame}"])
    evaluation = {"rows": rows}
    # a model folder trained before carekit kept a sample input: its first training input, regenerated
    sample = None if (model_dir / SAMPLE_INPUT_FILE).exists() else \
        make_pairs(frames[:1], SynthConfig(photons=PHOTONS))[0][0]
    (HERE / f"{NAME}.metrics.md").write_text(markdown_table(table_rows))
    result = build_package(model_dir, HERE / f"{NAME}.zip", name="CARE HeLa nuclei denoising",
                           description="Denoising of widefield fluorescence images of HeLa nuclei (H2B-GFP), "
                                       "trained on semi-synthetic low-SNR pairs at 3 and 10 photons peak signal.",
                           authors=("carekit developers",), sample=sample, evaluation=evaluation, unzipped_folder=False,
                           tags=("nuclei", "widefield", "hela"))
    shutil.copy(model_dir / "carekit.json", HERE / f"{NAME}.carekit.json")
    shutil.copy(model_dir / "history.png", HERE / f"{NAME}.history.png")
    (HERE / f"{NAME}.metrics.json").write_text(json.dumps(evaluation, indent=2))
    print(json.dumps(result.test_results), result.zip_path)


def rebuild_from_zip() -> None:
    shipped = HERE / f"{NAME}.zip"
    evaluation = json.loads((HERE / f"{NAME}.metrics.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        result = repackage(shipped, Path(tmp) / shipped.name, evaluation=evaluation)
        shutil.copy(result.zip_path, shipped)
    print(json.dumps(result.test_results), shipped)


if __name__ == "__main__":
    main()

"""Hot camera pixels in the noisy images of self-supervised fine-tuning: what they cost, and `--hot-pixels replace`.

    .venv/bin/python benchmarks/selfsup_hot_pixels_benchmark.py [--epochs 10] [--steps 40]

The user's case: noisy images only, from a camera with hot pixels (the same pixels in every frame), and the shipped
generalist fine-tuned on them with R2R (`carekit finetune --pretrained GENERALIST --noisy FOLDER`, its defaults but
the budget). The images: gowt1's training frames (never seen by the generalist; central 512^2 crops) at 3 photons
(carekit's camera: background 1 photon, read noise 2, offset 100), with hot pixels at DENSITY of the pixels, each
AMPLITUDE counts above the pixel's value (log-uniform; drawn once per image size: one camera). Fine-tuned three
times, as the CLI does it (workflows.data_from_noisy on a folder of those TIFFs, workflows.selfsupervised): on the
images without hot pixels (the reference), with them as they are (--hot-pixels keep, the default), with them
replaced before training (--hot-pixels replace). Each model restores gowt1's held-out frames (the same camera) with
their hot pixels replaced first (predict --hot-pixels replace) and kept, scored against the truth. Results:
benchmarks/results/selfsup_hot_pixels.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import RESULTS, SHIPPED, _central, test_pairs  # noqa: E402
from hot_pixels_benchmark import AMPLITUDE, DENSITY  # noqa: E402
from precision_benchmark import machine  # noqa: E402

WORK = HERE / "_work" / "selfsup_hot_pixels"
PHOTONS = 3.0
SEED = 7
RUNS = {"without hot pixels": "keep", "hot pixels kept (default)": "keep", "hot pixels replaced": "replace"}


class Camera:
    """Hot pixels at fixed positions per image size, with fixed amplitudes: the same in every frame."""

    def __init__(self, seed: int):
        self.rng, self.pixels = np.random.default_rng(seed), {}

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.shape not in self.pixels:
            mask = self.rng.random(image.shape) < DENSITY
            self.pixels[image.shape] = mask, np.exp(self.rng.uniform(*np.log(AMPLITUDE), int(mask.sum())))
        mask, amplitude = self.pixels[image.shape]
        hot = image.astype(np.float32).copy()
        hot[mask] += amplitude.astype(np.float32)
        return hot


def training_folders(camera: Camera) -> dict[str, Path]:
    """Folders of noisy training TIFFs without and with the camera's hot pixels."""
    from carekit.config import SynthConfig
    from carekit.generalist import splits
    from carekit.io import Image, write_image
    from carekit.synth.pairs import make_pairs

    frames = [_central(image, 512) for image in splits(["gowt1"])["gowt1"][0]]
    noisy = make_pairs(frames, SynthConfig(photons=[PHOTONS], seed=11))[0]
    folders = {"clean camera": WORK / "noisy", "hot camera": WORK / "noisy_hot"}
    for (name, folder), transform in zip(folders.items(), (lambda image: image, camera)):
        shutil.rmtree(folder, ignore_errors=True)
        for index, image in enumerate(noisy):
            write_image(folder / f"{index:03d}.tif", Image(transform(image).astype(np.float32), "YX"))
    return folders


def fine_tune(folder: Path, hot_pixels: str, model_dir: Path, epochs: int, steps: int) -> dict:
    """`carekit finetune --pretrained GENERALIST --noisy folder --hot-pixels ...` (R2R, the fine-tuning learning
    rate) with the given budget, fp32; its training record."""
    from carekit import workflows
    from carekit.cli.train_from import resolve
    from carekit.config import ModelRecord

    source, weights = resolve(str(SHIPPED))
    shutil.rmtree(model_dir, ignore_errors=True)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = workflows.data_from_noisy(folder=folder, hot_pixels=hot_pixels)
        workflows.selfsupervised(data, model_dir, method="r2r", pretrained=source, pretrained_weights_file=weights,
                                 progress=False, epochs=epochs, steps_per_epoch=steps, seed=0, precision="fp32")
    images = ModelRecord.load(model_dir).data["images"]
    return {"seconds": time.perf_counter() - started, "hot_pixels_replaced": images.get("hot_pixels_replaced"),
            "warned": [str(w.message) for w in caught if "noisy training images" in str(w.message)]}


def scores(model, tests: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """Mean PSNR on the held-out frames with hot pixels, replaced first and kept, and on the frames without them."""
    from carekit.evaluate.metrics import score
    from carekit.predict import restore

    def mean_psnr(index: int, hot_pixels: str) -> float:
        return float(np.mean([score(truth, restore(model, case[index], axes="YX", progress=False, check_domain=False,
                                                   rescale=None, hot_pixels=hot_pixels,
                                                   classical_blend=False).image).psnr
                              for *case, truth in tests]))

    return {"replaced at prediction": mean_psnr(1, "replace"), "kept at prediction": mean_psnr(1, "keep"),
            "frames without hot pixels": mean_psnr(0, "keep")}


def markdown(results: dict) -> str:
    protocol = results["protocol"]
    lines = ["# Hot pixels in self-supervised fine-tuning", "",
             f"gowt1 (never seen by the generalist), {PHOTONS:g} photons, {protocol['training_images']} noisy "
             f"training frames, hot pixels at {DENSITY:g} of the pixels ({AMPLITUDE[0]:g}-{AMPLITUDE[1]:g} counts, the "
             f"same pixels in every frame); R2R from the shipped generalist, {protocol['epochs']} x "
             f"{protocol['steps']} steps (fp32; {protocol['machine']}). Mean PSNR (dB) on "
             f"{protocol['test_images']} held-out frames with the same camera's hot pixels:", "",
             "| fine-tuned on | hot pixels replaced before training | restored with hot pixels replaced | "
             "restored with them kept | frames without hot pixels | training s |", "| --- | --- | --- | --- | --- | --- |"]
    for name, row in results["models"].items():
        replaced = row.get("hot_pixels_replaced")
        lines.append(f"| {name} | {'-' if replaced is None else replaced} | {row['replaced at prediction']:.2f} | "
                     f"{row['kept at prediction']:.2f} | {row['frames without hot pixels']:.2f} | "
                     f"{row.get('seconds', 0):.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from carekit.models import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    camera = Camera(SEED)
    folders = training_folders(camera)
    lows, highs = test_pairs("gowt1", PHOTONS)
    tests = [(low.astype(np.float32), camera(low), high) for low, high in zip(lows, highs)]
    models = {"shipped generalist (not fine-tuned)": {**scores(load_model(SHIPPED), tests)}}
    for (name, hot_pixels), folder in zip(RUNS.items(), (folders["clean camera"], folders["hot camera"],
                                                         folders["hot camera"])):
        model_dir = WORK / name.split(" (")[0].replace(" ", "_")
        trained = fine_tune(folder, hot_pixels, model_dir, args.epochs, args.steps)
        models[name] = {**trained, **scores(load_model(model_dir), tests)}
        print(name, models[name], flush=True)
    results = {"protocol": {"photons": PHOTONS, "density": DENSITY, "amplitude": AMPLITUDE, "epochs": args.epochs,
                            "steps": args.steps, "training_images": len(list(folders["clean camera"].iterdir())),
                            "test_images": len(tests), "machine": machine(), "load_average": os.getloadavg()},
               "models": models}
    (RESULTS / "selfsup_hot_pixels.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "selfsup_hot_pixels.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()

"""Test-time augmentation (`--tta`) beyond 2D denoising: an isotropic model (flipped 4 ways in its XZ/YZ planes), a
surface projection model and a 3D denoising model (turned and flipped 8 ways in YX), each trained here with a fixed
number of steps and restoring its held-out data alone and with tta (the same weights: a paired comparison).

- isotropic: isotropic_benchmark.py's data and network (nuclei3d degraded axially by `--factors`), trained
  `--iso-epochs` x 40 steps; PSNR/SSIM of the volume and of its XZ/YZ slices against the original, beside cubic
  interpolation along Z.
- projection: projection_benchmark.py's data and network (HeLa / nuclei3d images on held-out curved surfaces, 12
  planes, 3 and 10 photons; U-Net started from the shipped generalist, its depth and filters), trained
  `--projection-epochs` x 25 steps; mean PSNR/SSIM beside the best oracle-tuned baseline.
- 3D denoising (`--families denoising3d`; not in the default run): a 3D CARE model (depth 2, 16 filters) trained
  `--denoising3d-epochs` x 40 steps on nuclei3d's rows Y < 160 at 3 and 10 photons, restoring its rows Y >= 176
  (PSNR/SSIM of the volume and its XZ/YZ slices beside the best of Gaussian and TV, oracle-tuned).

    .venv/bin/python benchmarks/tta_families_benchmark.py [--factors 4 8] [--iso-epochs 10] [--projection-epochs 24]
                                                          [--denoising3d-epochs 10] [--families F ...]

Results: benchmarks/results/tta_families.{json,md} (other families: tta_families_F-....{json,md}).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from isotropic_benchmark import cubic_z, degrade, metrics  # noqa: E402
from precision_benchmark import machine  # noqa: E402
from projection_benchmark import PHOTONS, images, network  # noqa: E402

ARMS = {"alone": False, "tta": True}
FAMILIES = ("isotropic", "projection", "denoising3d")
DEFAULT_FAMILIES = ("isotropic", "projection")  # tta_families.{json,md}; denoising3d was added later


def restored_both_ways(model_dir: Path, image) -> dict:
    """{'alone': (array, seconds), 'tta': ...}: restore() of `image` without and with tta."""
    from carekit.predict import restore

    out = {}
    for arm, tta in ARMS.items():
        started = time.perf_counter()
        restored = restore(model_dir, image, progress=False, check_domain=False, tta=tta).image
        out[arm] = (restored, round(time.perf_counter() - started, 1))
    return out


def isotropic_rows(factors, epochs: int, work: Path) -> list[dict]:
    from carekit.config import TrainConfig
    from carekit.data import builtin
    from carekit.io import Image
    from carekit.train.isotropic import axial_psf, train_isotropic

    truth = builtin.load("nuclei3d").data
    config = TrainConfig(epochs=epochs, steps_per_epoch=40, patch_size=(64, 64), patches_per_image=64, unet_first=16,
                         unet_depth=2, batch_size=16, learning_rate=4e-4, precision="fp32")
    rows = []
    for factor in factors:
        aniso = Image(degrade(truth, factor), "ZYX", {"Z": 0.26 * factor, "Y": 0.26, "X": 0.26})
        keep = (len(aniso.data) - 1) * factor + 1  # where every method interpolates (no extrapolated planes)
        train_isotropic(aniso, work / f"iso{factor}", config, psf=axial_psf("gaussian", factor, 0.5), progress=False)
        cubic = metrics(truth[:keep], cubic_z(aniso.data, factor, len(aniso.data) * factor)[:keep])
        for arm, (restored, seconds) in restored_both_ways(work / f"iso{factor}", aniso).items():
            rows.append({"family": "isotropic", "setting": f"factor {factor}", "arm": arm, "seconds": seconds,
                         "baseline": "cubic", "baseline_psnr": cubic["psnr"], **metrics(truth[:keep], restored[:keep])})
        print(markdown(rows), flush=True)
    return rows


def projection_rows(epochs: int, work: Path) -> list[dict]:
    from carekit.evaluate.metrics import score
    from carekit.evaluate.projection_baselines import run_projection_baselines
    from carekit.synth.surface import SurfaceSettings, surface_pairs
    from carekit.train.projection import train_projection

    settings = SurfaceSettings(n_planes=12)
    train_images, test_images = images()
    stacks, targets = surface_pairs(train_images * 2, list(PHOTONS), settings, seed=0)
    config, init = network(str(HERE.parent / "model-zoo" / "care-generalist-nuclei-denoising.zip"), epochs)
    trained = train_projection(stacks, targets, config, work / "projection", data_info={"synthetic": "curved surfaces"},
                               head="coarse", init_unet=init)
    rows = []
    for level in PHOTONS:
        test_stacks, test_targets = surface_pairs(test_images, [level], settings, seed=1000 + int(level))
        scores: dict[str, list] = {arm: [] for arm in ARMS}
        best, seconds = [], {arm: 0.0 for arm in ARMS}
        for stack, target in zip(test_stacks, test_targets):
            best.append(max(score(target, image).psnr for image in run_projection_baselines(stack, target).values()))
            for arm, (restored, took) in restored_both_ways(trained.model_dir, stack).items():
                scores[arm].append(score(target, restored))
                seconds[arm] += took
        for arm, arm_scores in scores.items():
            rows.append({"family": "projection", "setting": f"{level:g} photons", "arm": arm,
                         "seconds": round(seconds[arm], 1), "baseline": "best oracle-tuned baseline",
                         "baseline_psnr": float(np.mean(best)), "psnr": float(np.mean([s.psnr for s in arm_scores])),
                         "ssim": float(np.mean([s.ssim for s in arm_scores]))})
    return rows


def denoising3d_rows(epochs: int, work: Path) -> list[dict]:
    """3D CARE denoising (ZYX U-Net) on nuclei3d: trained on its rows Y < 160 degraded at PHOTONS, restoring rows
    Y >= 176 (a 16-row gap) at each level alone and with tta (turned and flipped 8 ways in YX)."""
    from carekit.config import SynthConfig, TrainConfig
    from carekit.data import builtin
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score
    from carekit.io import Image
    from carekit.synth.pairs import make_pairs
    from carekit.train.care import train_care

    stack = builtin.load("nuclei3d").data
    lows, highs = make_pairs([stack[:, :160]], SynthConfig(photons=list(PHOTONS), seed=0))
    config = TrainConfig(axes="ZYX", epochs=epochs, steps_per_epoch=40, patch_size=(16, 64, 64), patches_per_image=64,
                         batch_size=4, unet_depth=2, unet_first=16, precision="fp32")
    trained = train_care(lows, highs, config, work / "denoising3d", progress=False)
    rows = []
    for level in PHOTONS:
        (low,), (high,) = make_pairs([stack[:, 176:]], SynthConfig(photons=[level], seed=1000 + int(level)))
        low = low.astype(np.float32)
        baselines = {k: score(high, v).psnr for k, v in run_baselines(low, high, ("Gaussian", "TV")).items()}
        for arm, (restored, seconds) in restored_both_ways(trained.model_dir, Image(low, "ZYX")).items():
            rows.append({"family": "3D denoising", "setting": f"{level:g} photons", "arm": arm, "seconds": seconds,
                         "baseline": "best of Gaussian / TV", "baseline_psnr": max(baselines.values()),
                         **metrics(high, restored)})
    return rows


def markdown(rows: list[dict]) -> str:
    present = list(dict.fromkeys(r["family"] for r in rows))
    ways = {"isotropic": "flipped 4 ways in XZ/YZ", "projection": "turned and flipped 8 ways in YX",
            "3D denoising": "turned and flipped 8 ways in YX"}
    volumes = [family for family in present if family != "projection"]
    lines = [f"# Test-time augmentation (`--tta`): {', '.join(present)}", "",
             "The same trained weights restoring alone and with tta ("
             + "; ".join(f"{family}: {ways[family]}" for family in present) + "). PSNR in dB (margin over the "
             "baseline)" + (f"; {' and '.join(volumes)}: the volume, with the mean over its XZ and YZ slices"
                            if volumes else "") + "; seconds: restore() of all the test data.", "",
             "| family | setting | arm | baseline | PSNR (margin) | SSIM | PSNR XZ / YZ | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        slices = f"{r['psnr_xz']:.2f} / {r['psnr_yz']:.2f}" if "psnr_xz" in r else "-"
        lines.append(f"| {r['family']} | {r['setting']} | {r['arm']} | {r['baseline']} {r['baseline_psnr']:.2f} | "
                     f"{r['psnr']:.2f} ({r['psnr'] - r['baseline_psnr']:+.2f}) | {r['ssim']:.3f} | {slices} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--iso-epochs", type=int, default=10)
    parser.add_argument("--projection-epochs", type=int, default=24)
    parser.add_argument("--denoising3d-epochs", type=int, default=10)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(DEFAULT_FAMILIES),
                        help="default isotropic and projection (tta_families.{json,md}); others go to "
                        "tta_families_FAMILY-....{json,md}")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    families = [family for family in FAMILIES if family in args.families]
    steps = {"isotropic": args.iso_epochs * 40, "projection": args.projection_epochs * 25,
             "denoising3d": args.denoising3d_epochs * 40}
    result = {"machine": machine(), "steps": {family: steps[family] for family in families}, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        if "isotropic" in families:
            result["rows"] += isotropic_rows(args.factors, args.iso_epochs, Path(tmp))
        if "projection" in families:
            result["rows"] += projection_rows(args.projection_epochs, Path(tmp))
        if "denoising3d" in families:
            result["rows"] += denoising3d_rows(args.denoising3d_epochs, Path(tmp))
    name = "tta_families" + ("" if families == list(DEFAULT_FAMILIES) else "_" + "-".join(families))
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    trained = ", ".join(f"{family} {count} steps" + (" per factor" if family == "isotropic" else "")
                        for family, count in result["steps"].items())
    text = markdown(result["rows"]) + f"\nTraining: {trained}; {result['machine']}.\n"
    (out / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

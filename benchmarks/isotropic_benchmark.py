"""Isotropic restoration on real data with known truth: the built-in nuclei3d confocal stack (0.29 um Z, 0.26 um XY,
nearly isotropic) is degraded axially (Gaussian axial blur, sigma = factor/2 planes, then every factor-th plane kept),
a 2D isotropic CARE network is trained on the degraded stack's lateral planes only, and the restored volume is
compared with the original in 3D (PSNR/SSIM on the volume and the mean over XZ and YZ slices, carekit's metric
convention) against linear and cubic interpolation along Z.

Usage: python benchmarks/isotropic_benchmark.py [--factors 4 8] [--epochs 10] [--steps 40] [--unet-first 16]
       [--unet-depth 2] [--sigma-xy 0.5] [--out benchmarks/results]
The training budget (epochs x steps x batch 16 of 64x64 patches) is recorded in the results.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from carekit.config import TrainConfig
from carekit.data import builtin
from carekit.evaluate.metrics import score
from carekit.predict import restore
from carekit.synth.isotropic import zoom_z


def degrade(truth: np.ndarray, factor: int) -> np.ndarray:
    return ndimage.gaussian_filter1d(truth, factor / 2, axis=0, mode="reflect")[::factor]


def cubic_z(stack: np.ndarray, factor: int, n_z: int) -> np.ndarray:
    """Cubic spline along Z, input plane i at output plane i * factor (as zoom_z), constant beyond the last plane."""
    z = np.clip(np.arange(n_z) / factor, 0, len(stack) - 1)
    coords = np.meshgrid(z, np.arange(stack.shape[1]), np.arange(stack.shape[2]), indexing="ij")
    return ndimage.map_coordinates(stack, coords, order=3, mode="nearest").astype(np.float32)


def metrics(truth: np.ndarray, result: np.ndarray) -> dict:
    volume = score(truth, result)
    xz = [score(truth[:, y], result[:, y]) for y in range(0, truth.shape[1], 8)]
    yz = [score(truth[:, :, x], result[:, :, x]) for x in range(0, truth.shape[2], 8)]
    return {"psnr": volume.psnr, "ssim": volume.ssim,
            "psnr_xz": float(np.mean([s.psnr for s in xz])), "ssim_xz": float(np.mean([s.ssim for s in xz])),
            "psnr_yz": float(np.mean([s.psnr for s in yz])), "ssim_yz": float(np.mean([s.ssim for s in yz]))}


def run_factor(truth: np.ndarray, factor: int, config: TrainConfig, work: Path,
               sigma_xy: float = 0.5) -> tuple[dict, dict]:
    from carekit.io import Image
    from carekit.train.isotropic import axial_psf, train_isotropic

    aniso = degrade(truth, factor)
    n_z = len(aniso) * factor
    keep = (len(aniso) - 1) * factor + 1  # compare where every method interpolates (no extrapolated planes)
    started = time.perf_counter()
    train_isotropic(Image(aniso, "ZYX", {"Z": 0.26 * factor, "Y": 0.26, "X": 0.26}), work / f"iso{factor}", config,
                    psf=axial_psf("gaussian", factor, sigma_xy), progress=False)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    care = restore(work / f"iso{factor}", Image(aniso, "ZYX", {"Z": 0.26 * factor, "X": 0.26, "Y": 0.26}),
                   progress=False).image
    predicted = time.perf_counter() - started
    results = {"linear": zoom_z(aniso, factor), "cubic": cubic_z(aniso, factor, n_z), "care": care}
    table = {name: metrics(truth[:keep], r[:keep]) for name, r in results.items()}
    table["timing_s"] = {"train": round(trained, 1), "predict": round(predicted, 1)}
    nearest = np.repeat(aniso, factor, axis=0)[:n_z]
    return table, {"input (nearest)": nearest, **results, "truth": truth[:n_z]}


def figure(volumes: dict, factor: int, path: Path, y: int = 128) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script, not library code: choosing the backend here changes nothing for callers
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(volumes), figsize=(3 * len(volumes), 1.6))
    for ax, (name, volume) in zip(axes, volumes.items()):
        plane = volume[:, y]
        lo, hi = np.percentile(plane, [0.5, 99.8])  # each panel in its own range (CARE is in normalized units)
        ax.imshow(plane, cmap="magma", vmin=lo, vmax=hi, aspect=0.29 / 0.26, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"nuclei3d XZ slice y={y}, axial factor {factor}", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def markdown(results: dict) -> str:
    lines = ["# Isotropic restoration: nuclei3d, axial blur + every n-th plane kept", "",
             f"Training budget per factor: {results['budget']}", "",
             "| factor | method | PSNR 3D | SSIM 3D | PSNR XZ | SSIM XZ | PSNR YZ | SSIM YZ |", "|---|---|---|---|---|---|---|---|"]
    for factor, table in results["factors"].items():
        for method in ("linear", "cubic", "care"):
            m = table[method]
            lines.append(f"| {factor} | {method} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['psnr_xz']:.2f} | "
                         f"{m['ssim_xz']:.3f} | {m['psnr_yz']:.2f} | {m['ssim_yz']:.3f} |")
        best = max(table["linear"]["psnr"], table["cubic"]["psnr"])
        lines.append(f"| {factor} | CARE - best interpolation | {table['care']['psnr'] - best:+.2f} dB | | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--unet-first", type=int, default=16)
    parser.add_argument("--unet-depth", type=int, default=2)
    parser.add_argument("--sigma-xy", type=float, default=0.5,
                        help="lateral sigma (px) of the training PSF's XZ section (the truth here has no extra blur)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth = builtin.load("nuclei3d").data
    config = TrainConfig(epochs=args.epochs, steps_per_epoch=args.steps, patch_size=(64, 64), patches_per_image=64,
                         unet_first=args.unet_first, unet_depth=args.unet_depth, batch_size=16, learning_rate=4e-4,
                         precision="fp32")
    budget = (f"{args.epochs} epochs x {args.steps} steps, batch 16, 64x64 patches, U-Net depth {args.unet_depth} / "
              f"{args.unet_first} filters (CPU); training PSF Gaussian sigma_z = factor/2, "
              f"sigma_xy = {args.sigma_xy:g} px")
    results = {"budget": budget, "factors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for factor in args.factors:
            table, volumes = run_factor(truth, factor, config, Path(tmp), args.sigma_xy)
            results["factors"][str(factor)] = table
            figure(volumes, factor, out / f"isotropic_xz_factor{factor}.png")
            (out / "isotropic.json").write_text(json.dumps(results, indent=2))  # after each factor: partial runs count
            (out / "isotropic.md").write_text(markdown(results))
            print(markdown(results), flush=True)


if __name__ == "__main__":
    main()

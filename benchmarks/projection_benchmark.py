"""Joint surface projection + denoising on held-out curved surfaces: CARE's projection model against maximum and
mean intensity projection, MIP after the best classical denoiser and a best-focus-plane projection.

Real 2D images (built-in HeLa frames and nuclei3d planes) are embedded on smooth random surfaces in 12-plane stacks
with an axial PSF, out-of-focus haze and Poisson-Gaussian noise at 3 and 10 photons (carekit.synth.surface). One
model is trained on both levels within a wall-clock budget; test images and surfaces are never seen in training.

    .venv/bin/python benchmarks/projection_benchmark.py [--budget-minutes 12]

Results: benchmarks/results/projection.json, projection.md and projection.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PHOTONS = (3.0, 10.0)
SIZE = 256


def images():
    from carekit.data.builtin import clean_images

    hela, _ = clean_images("hela", 2)
    nuclei, _ = clean_images("nuclei3d", 2)
    crop = lambda im: im[:SIZE, :SIZE]  # noqa: E731
    train = [crop(im) for im in hela[:12:2]] + [crop(im[-SIZE:, -SIZE:]) for im in hela[1:12:2]] + \
        [crop(im) for im in nuclei[:9]]
    # test images the shipped generalist denoiser (--init-unet) never saw either (synth.generalist.TEST_PICKS)
    test = [crop(im) for im in hela[16:20:2]] + [crop(nuclei[9]), crop(nuclei[12])]
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-minutes", type=float, default=12.0)
    parser.add_argument("--head", choices=("coarse", "unet"), default="coarse")
    parser.add_argument("--init-unet", default=str(HERE.parent / "model-zoo" / "care-generalist-nuclei-denoising.zip"),
                        help="2D CARE model or package to start the U-Net from ('' for none)")
    parser.add_argument("--unet-depth", type=int, default=None,
                        help="U-Net depth (default: the starting model's, 3 without one)")
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=4e-4)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()

    from carekit.evaluate.metrics import score
    from carekit.evaluate.projection_baselines import run_projection_baselines
    from carekit.predict.restore import restore
    from carekit.synth.surface import SurfaceSettings, surface_pairs
    from carekit.train.projection import keras, train_projection

    settings = SurfaceSettings(n_planes=12)
    train_images, test_images = images()
    stacks, targets = surface_pairs(train_images * 2, list(PHOTONS), settings, seed=0)
    config, init_unet = network(args.init_unet, epochs=1000, patch=args.patch, batch=args.batch,
                                learning_rate=args.learning_rate, unet_depth=args.unet_depth)
    budget_s = args.budget_minutes * 60

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self.start > budget_s:
                self.model.stop_training = True

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        trained = train_projection(stacks, targets, config, Path(tmp) / "model", callbacks=[Budget()],
                                   data_info={"synthetic": "curved surfaces"}, head=args.head, init_unet=init_unet)
        train_s = time.perf_counter() - start
        rows, example = [], None
        for level in PHOTONS:
            test_stacks, test_targets = surface_pairs(test_images, [level], settings, seed=1000 + int(level))
            per_method: dict[str, list[float]] = {}
            for i, (stack, target) in enumerate(zip(test_stacks, test_targets)):
                results = run_projection_baselines(stack, target)
                results["CARE"] = restore(trained.model_dir, stack, progress=False).image
                for name, image in results.items():
                    per_method.setdefault(name, []).append(score(target, image).as_dict())
                if level == PHOTONS[0] and i == 0:
                    example = (stack, results, target)
            for name, scores in per_method.items():
                rows.append({"photons": level, "method": name,
                             "psnr": float(np.mean([s["psnr"] for s in scores])),
                             "ssim": float(np.mean([s["ssim"] for s in scores]))})
    summary = summarize(rows)
    result = {"train_seconds": round(train_s, 1), "epochs": trained.epochs_done,
              "steps": trained.epochs_done * config.steps_per_epoch, "budget_minutes": args.budget_minutes,
              "config": config.model_dump(mode="json"), "n_planes": settings.n_planes, "head": args.head,
              "unet_initialized_from": Path(args.init_unet).name if args.init_unet else None,
              "train_images": len(train_images) * 2 * len(PHOTONS), "test_images": len(test_images),
              "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "rows": rows, "summary": summary}
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "projection.json").write_text(json.dumps(result, indent=2))
    (out / "projection.md").write_text(markdown(result))
    figure(example, out / "projection.png", summary[str(PHOTONS[0])]["best_baseline"])
    print(markdown(result))


def network(init_unet: str, epochs: int, patch: int = 48, batch: int = 8, learning_rate: float = 4e-4,
            unet_depth: int | None = None):
    """(TrainConfig, Keras weights to start the U-Net from or None): 25 steps per epoch, the U-Net's settings taken
    from the starting model `init_unet` ('' for none: depth 3, 16 filters) as `carekit train --projection --from`
    takes them (its mean output), `unet_depth` replacing its depth where given."""
    from carekit.cli.train_from import config_from, resolve
    from carekit.config import TrainConfig

    config = TrainConfig(axes="YX", patch_size=(patch, patch), patches_per_image=64, epochs=epochs,
                         steps_per_epoch=25, batch_size=batch, unet_depth=unet_depth or 3, unet_first=16,
                         learning_rate=learning_rate, seed=0)
    if not init_unet:
        return config, None
    source_dir, weights = resolve(init_unet)
    config = config_from(config, source_dir, {"unet_depth"} if unet_depth else set())
    return config.model_copy(update={"probabilistic": False}), weights


def summarize(rows: list[dict]) -> dict:
    summary = {}
    for level in PHOTONS:
        at = [r for r in rows if r["photons"] == level]
        baselines = [r for r in at if r["method"] != "CARE"]
        best = max(baselines, key=lambda r: r["psnr"])
        care = next(r for r in at if r["method"] == "CARE")
        summary[str(level)] = {"best_baseline": best["method"], "best_baseline_psnr": best["psnr"],
                               "care_psnr": care["psnr"], "gain_db": care["psnr"] - best["psnr"]}
    return summary


def markdown(result: dict) -> str:
    lines = ["# Surface projection benchmark", "",
             f"Held-out HeLa / nuclei3d images on random curved surfaces, {result['n_planes']} planes, 256x256; "
             f"training {result['train_seconds']:.0f} s ({result['steps']} steps, budget "
             f"{result['budget_minutes']} min) on {result['machine']}; {_network(result)}. PSNR/SSIM after the "
             "affine fit (evaluate.metrics); baselines oracle-tuned.", "",
             "| photons | method | PSNR (dB) | SSIM |", "|---|---|---|---|"]
    lines += [f"| {r['photons']:g} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.3f} |" for r in result["rows"]]
    lines += ["", "| photons | best baseline | its PSNR | CARE PSNR | CARE gain (dB) |", "|---|---|---|---|---|"]
    lines += [f"| {level} | {s['best_baseline']} | {s['best_baseline_psnr']:.2f} | {s['care_psnr']:.2f} | "
              f"{s['gain_db']:+.2f} |" for level, s in result["summary"].items()]
    return "\n".join(lines) + "\n"


def _network(result: dict) -> str:
    c = result["config"]
    start = f"U-Net started from {result['unet_initialized_from']}" if result.get("unet_initialized_from") else \
        "U-Net from scratch"
    return (f"{result.get('head', 'unet')} 3D head, U-Net depth {c['unet_depth']} / {c['unet_first']} filters, "
            f"{start}, batch {c['batch_size']} of {c['patch_size'][0]}x{c['patch_size'][1]} patches")


def figure(example, path: Path, best: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a script, not library code: the backend is ours to choose
    import matplotlib.pyplot as plt

    stack, results, target = example
    panels = [("input MIP", results["MIP"]), (f"best baseline ({best})", results[best]), ("CARE", results["CARE"]),
              ("truth", target)]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    for ax, (title, image) in zip(axes, panels):
        lo, hi = np.percentile(image, (1, 99.8))
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(f"{PHOTONS[0]:g} photons, {stack.shape[0]}-plane held-out surface")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()

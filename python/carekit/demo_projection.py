"""`carekit demo --task projection`: joint surface projection + denoising on built-in data. Frames of the built-in
HeLa time-lapse are embedded on random smooth surfaces in noisy stacks (carekit.synth.surface, 3 and 10 photons),
a projection model learns stack -> clean 2D image, it is packaged (bioimageio test in every weight format), and on
held-out frames and surfaces its projections from the package are compared with the projection baselines (maximum
and mean intensity projection, denoised MIP, best-focus plane)."""

from __future__ import annotations

import json
from pathlib import Path

from .config import TrainConfig

PHOTONS = (3.0, 10.0)
PLANES = 8


def run_projection_demo(out: Path, quick: bool = False, progress: bool = True, size: int = 128,
                        start_from: tuple[Path, Path] | None = None) -> dict:
    """Run every stage into `out`; returns (and writes to summary.json) the files and the PSNR/SSIM table.
    `size`: the lateral size of the images (smaller is faster). `start_from`: (folder holding a 2D CARE model's
    carekit.json, its Keras weights): the 2D U-Net starts there, with its depth, filters and kernel size."""
    from .config import ModelRecord

    from .data.builtin import clean_images
    from .evaluate.report import markdown_table, write_csv
    from .synth.surface import SurfaceSettings, surface_pairs
    from .train.projection import train_projection
    from .zoo.package import build_package

    out.mkdir(parents=True, exist_ok=True)
    hela, _ = clean_images("hela", 2)
    frames = [image[:size, :size] for image in hela]
    settings = SurfaceSettings(n_planes=PLANES)
    stacks, targets = surface_pairs(frames[:8], list(PHOTONS), settings, seed=0)
    print(f"[1/3] training a projection model on {len(stacks)} {PLANES}-plane stacks of HeLa frames on curved "
          f"surfaces ({', '.join(f'{p:g}' for p in PHOTONS)} photons)", flush=True)
    unet = {"unet_depth": 2, "unet_first": 16}
    if start_from is not None:
        source = ModelRecord.load(start_from[0]).train
        unet = {k: getattr(source, k) for k in ("unet_depth", "unet_first", "unet_kern_size")}
    config = TrainConfig(axes="YX", patch_size=(32, 32), patches_per_image=32, epochs=3 if quick else 12,
                         steps_per_epoch=20, batch_size=8, learning_rate=4e-4, **unet)
    train_projection(stacks, targets, config, out / "model", data_info={"source": "demo: hela on curved surfaces"},
                     progress=progress, init_unet=start_from[1] if start_from else None)
    print("[2/3] packaging (bioimageio test in every weight format)", flush=True)
    package = build_package(out / "model", out / "projection.zip", name="CARE projection HeLa demo").zip_path
    print("[3/3] projecting held-out stacks and comparing with the baselines", flush=True)
    rows = []
    for level in PHOTONS:
        test_stacks, test_targets = surface_pairs(frames[16:18], [level], settings, seed=1000 + int(level))
        rows += _evaluate(package, test_stacks, test_targets, level, out, progress)
    write_csv(rows, out / "results.csv")
    table = markdown_table(rows)
    (out / "results.md").write_text(table)
    summary = {"package": str(package), "projected": str(out / "projected.tif"), "results": str(out / "results.md"),
               "figures": [str(out / f"comparison_{level:g}photons.png") for level in PHOTONS], "rows": rows}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(table)
    return summary


def _evaluate(package: Path, stacks, targets, level: float, out: Path, progress: bool) -> list[dict]:
    """Scores of every method on the held-out stacks at one photon level; the figure and (at the first level) the
    TIFFs of the first stack."""
    from .evaluate.projection_baselines import run_projection_baselines
    from .evaluate.report import comparison_figure, evaluate_images
    from .io import Image, write_image
    from .predict import restore

    methods: dict[str, list] = {}
    for index, (stack, target) in enumerate(zip(stacks, targets)):
        result = restore(package, stack, progress=progress)
        results = {**run_projection_baselines(stack, target), "CARE": result.image}
        for name, image in results.items():
            methods.setdefault(name, []).append(image)
        if index == 0:
            comparison_figure(results["MIP"], {k: v for k, v in results.items() if k != "MIP"}, target,
                              out / f"comparison_{level:g}photons.png",
                              title=f"{level:g} photons, held-out {stack.shape[0]}-plane surface (input: MIP)")
            if level == PHOTONS[0]:
                write_image(out / "stack.tif", Image(stack, "ZYX", {}))
                write_image(out / "projected.tif", result.as_image())
    return evaluate_images(targets, methods, dataset=f"{level:g} photons")

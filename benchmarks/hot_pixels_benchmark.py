"""Hot camera pixels: what they do to a restoration, and whether carekit finds and replaces them.

    .venv/bin/python benchmarks/hot_pixels_benchmark.py

An sCMOS (or CCD) chip has pixels with a high dark current: in every frame they stand far above their neighbours,
whatever the light. A CARE model never saw one in training. Tested on the held-out images of bbbc007, gowt1 and
HeLa (generalist_benchmark.test_pairs: central 512^2 crops, 3 and 10 photons, background 1 photon, carekit's camera)
with the shipped generalist at full size (rescale off), each image as it is and with hot pixels added at DENSITY of
the pixels (positions drawn anew per image), each AMPLITUDE counts above the pixel's value (log-uniform; the images'
brightest nuclei are 3-10 counts above the background, their noise 1.5-3.5 counts).

Per image: PSNR of the restoration without hot pixels, with them (hot_pixels='keep', the default) and with them
replaced first (hot_pixels='replace'); how many were found (of those added) and how many were replaced in the image
without them (false finds); whether restore warned (HotPixelWarning) with and without them; the camera gain the
noise estimate (data.noise_model.estimate_camera) gives with and without them; the seconds replacing took. Beside,
how many pixels the finder flags at DENSITIES on the same images and on photon-counting versions of them (background
PHOTON_COUNTING_BACKGROUND photons, no read noise; no restoration), and, for noise_kinds_benchmark.py's sCMOS camera
(1% of the pixels with 6-12 counts of read noise: noisy, not hot), the PSNR kept and replaced and whether restore
warned; and how many pixels it flags in synthetic images of point-like spots sampled at PSF sigmas UNDERSAMPLED (no
hot pixels: below ~0.8 px the optics undersample and a spot is one pixel wide). Results:
benchmarks/results/hot_pixels.{json,md}, and hot_pixels.png: a crop of gowt1's first held-out image at
3 photons with hot pixels, restored with them kept and replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generalist_benchmark import CAMERA, PHOTONS, RESULTS, SHIPPED, test_pairs  # noqa: E402
from noise_kinds_benchmark import noisy_versions  # noqa: E402

DATASETS = ("bbbc007", "gowt1", "hela")
DENSITY = 5e-4
DENSITIES = (1e-4, 2e-3)
AMPLITUDE = (20.0, 2000.0)  # counts
SEED = 2028
PHOTON_COUNTING_BACKGROUND = 0.05
UNDERSAMPLED = (0.4, 0.5, 0.6, 0.8, 1.0)  # PSF sigma, px
SPOT_PHOTONS = (10.0, 100.0, 1000.0)


def with_hot_pixels(low: np.ndarray, density: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`low` with hot pixels at `density` of its pixels, and their mask."""
    mask = rng.random(low.shape) < density
    hot = low.astype(np.float32).copy()
    hot[mask] += np.exp(rng.uniform(*np.log(AMPLITUDE), int(mask.sum()))).astype(np.float32)
    return hot, mask


def restored(runner, image: np.ndarray, hot_pixels: str):
    """(restoration, whether restore gave a HotPixelWarning, seconds)."""
    from carekit.predict import restore
    from carekit.predict.hot_pixels import HotPixelWarning

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = restore(runner, image, axes="YX", progress=False, rescale=None, hot_pixels=hot_pixels,
                         classical_blend=False)
    return result, any(issubclass(w.category, HotPixelWarning) for w in caught), time.perf_counter() - started


def evaluate(runner, low: np.ndarray, high: np.ndarray, photons: float, rng: np.random.Generator) -> dict:
    from carekit.data.noise_model import estimate_camera
    from carekit.evaluate.metrics import score
    from carekit.data.hot_pixel_images import without_hot_pixels

    low = low.astype(np.float32)
    hot, mask = with_hot_pixels(low, DENSITY, rng)
    plain, plain_warned, _ = restored(runner, low, "keep")
    kept, hot_warned, _ = restored(runner, hot, "keep")
    replaced, _, _ = restored(runner, hot, "replace")
    plain_replaced, _, _ = restored(runner, low, "replace")
    started = time.perf_counter()
    cleaned = without_hot_pixels(hot, "YX")[0]
    seconds = time.perf_counter() - started
    changed = cleaned != hot
    scmos = noisy_versions(high, photons, rng)["sCMOS"].astype(np.float32)
    scmos_kept, scmos_warned, _ = restored(runner, scmos, "keep")
    scmos_replaced, _, _ = restored(runner, scmos, "replace")
    counting = rng.poisson(high.astype(np.float64) * photons + PHOTON_COUNTING_BACKGROUND).astype(np.float32)
    psnr = {name: round(score(high, r.image).psnr, 2)
            for name, r in (("plain", plain), ("kept", kept), ("replaced", replaced),
                            ("plain_replaced", plain_replaced))}
    return {**{f"{k}_psnr": v for k, v in psnr.items()}, "added": int(mask.sum()), "found": int((changed & mask).sum()),
            "replaced": replaced.hot_pixels_replaced, "false_finds": plain_replaced.hot_pixels_replaced,
            "warned_without": plain_warned, "warned_with": hot_warned,
            "gain_without": round(estimate_camera(low)["gain"], 3), "gain_with": round(estimate_camera(hot)["gain"], 3),
            "replace_seconds": round(seconds, 3),
            **{f"flagged_at_{d:g}": _flagged(low, d, rng) for d in DENSITIES},
            "photon_counting_flagged": _flagged(counting, DENSITY, rng),
            "scmos_kept_psnr": round(score(high, scmos_kept.image).psnr, 2),
            "scmos_replaced_psnr": round(score(high, scmos_replaced.image).psnr, 2),
            "scmos_replaced": scmos_replaced.hot_pixels_replaced, "scmos_warned": scmos_warned}


def _flagged(low: np.ndarray, density: float, rng: np.random.Generator) -> list[int]:
    """(added, found among them, flagged elsewhere) at `density`."""
    from carekit.data.hot_pixel_finder import find_hot_pixels

    hot, mask = with_hot_pixels(low, density, rng)
    found = find_hot_pixels(hot)
    return [int(mask.sum()), int((found & mask).sum()), int((found & ~mask).sum())]


def figure(runner) -> None:
    """hot_pixels.png: the central 160^2 px of gowt1's first held-out image at 3 photons with hot pixels at DENSITY,
    kept and replaced, against the truth, with a line profile through the brightest hot pixel's row."""
    from carekit.evaluate.report import comparison_figure

    low, high = (images[0] for images in test_pairs("gowt1", 3.0))
    hot, mask = with_hot_pixels(low.astype(np.float32), DENSITY, np.random.default_rng(SEED))
    results = {f"hot pixels {mode}": restored(runner, hot, mode)[0].image for mode in ("keep", "replace")}
    crop = tuple(slice((n - 160) // 2, (n - 160) // 2 + 160) for n in low.shape)
    row = int(np.argmax(np.where(mask[crop], hot[crop], -np.inf).max(axis=1)))
    comparison_figure(hot[crop], {k: v[crop] for k, v in results.items()}, high[crop], RESULTS / "hot_pixels.png",
                      "Shipped generalist, gowt1 at 3 photons, 0.05% hot pixels", profile_row=row)


def undersampled() -> list[dict]:
    """Finds (per 100,000 pixels) and the warning on 512^2 images of 400 point-like spots (radius 0.3-0.6 px) blurred
    at each PSF sigma, at each peak photon count (background 2, read noise 2), with no hot pixels."""
    from carekit.data.hot_pixel_finder import find_hot_pixels
    from carekit.predict.hot_pixels import warn_hot_pixels
    from carekit.synth.noise import poisson_gaussian
    from carekit.synth.psf import blur, gaussian_psf
    from carekit.synth.structures import granules

    rows = []
    for sigma in UNDERSAMPLED:
        spots = blur(granules((512, 512), n_granules=400, radius_px=(0.3, 0.6), rng=1), gaussian_psf(sigma))
        for photons in SPOT_PHOTONS:
            image = poisson_gaussian(spots / spots.max() * photons + 2, read_noise=2.0, rng=2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warned = warn_hot_pixels([image.astype(np.float32)]) is not None
            rows.append({"sigma": sigma, "photons": photons, "per_100000": round(find_hot_pixels(image).mean() * 1e5, 1),
                         "warned": warned})
    return rows


def main() -> None:
    from carekit.models import load_model

    runner, rng, rows = load_model(SHIPPED), np.random.default_rng(SEED), []
    figure(runner)
    spots = undersampled()
    for dataset in DATASETS:
        for photons in PHOTONS:
            for index, (low, high) in enumerate(zip(*test_pairs(dataset, photons))):
                rows.append({"dataset": dataset, "photons": photons, "image": index,
                             **evaluate(runner, low, high, photons, rng)})
                print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hot_pixels.json").write_text(json.dumps({"images": rows, "undersampled": spots}, indent=2))
    (RESULTS / "hot_pixels.md").write_text(markdown(rows, spots))
    print(markdown(rows, spots))


def markdown(rows: list[dict], spots: list[dict]) -> str:
    lines = ["# Hot camera pixels: restorations with them kept and replaced", "",
             f"Shipped generalist at full size; held-out crops (at most 512^2) of {', '.join(DATASETS)} at "
             f"{' and '.join(f'{p:g}' for p in PHOTONS)} photons ({CAMERA}); hot pixels at {DENSITY:g} of the "
             f"pixels, {AMPLITUDE[0]:g}-{AMPLITUDE[1]:g} counts above (log-uniform). PSNR in dB (mean over images, "
             "worst in brackets).", "",
             "| dataset | photons | images | without hot pixels | with them, kept | with them, replaced | found / added "
             "| false finds | warned without / with | gain without / with | seconds to replace |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for dataset in DATASETS:
        for photons in PHOTONS:
            group = [r for r in rows if r["dataset"] == dataset and r["photons"] == photons]
            if not group:
                continue
            cells = [f"{np.mean([r[k] for r in group]):.2f} ({min(r[k] for r in group):.2f})"
                     for k in ("plain_psnr", "kept_psnr", "replaced_psnr")]
            lines.append(
                f"| {dataset} | {photons:g} | {len(group)} | {' | '.join(cells)} | "
                f"{sum(r['found'] for r in group)} / {sum(r['added'] for r in group)} | "
                f"{sum(r['false_finds'] for r in group)} | {sum(r['warned_without'] for r in group)} / "
                f"{sum(r['warned_with'] for r in group)} | {np.mean([r['gain_without'] for r in group]):.3f} / "
                f"{np.mean([r['gain_with'] for r in group]):.3f} | "
                f"{np.mean([r['replace_seconds'] for r in group]):.2f} |")
    lines += ["", "Found at other densities (the finder alone, no restoration; added / found among them / flagged "
              "elsewhere, summed over every image):", "", "| density | added | found | flagged elsewhere |",
              "| --- | --- | --- | --- |"]
    for d in DENSITIES:
        added, found, elsewhere = np.sum([r[f"flagged_at_{d:g}"] for r in rows], axis=0)
        lines.append(f"| {d:g} | {added} | {found} | {elsewhere} |")
    added, found, elsewhere = np.sum([r["photon_counting_flagged"] for r in rows], axis=0)
    lines.append(f"| {DENSITY:g}, photon counting (background {PHOTON_COUNTING_BACKGROUND:g} photons, no read "
                 f"noise) | {added} | {found} | {elsewhere} |")
    lines += ["", "noise_kinds_benchmark.py's sCMOS camera (noisy pixels, no hot ones added):", "",
              "| photons | images | PSNR kept | PSNR replaced | pixels replaced per image | warned |",
              "| --- | --- | --- | --- | --- | --- |"]
    for photons in PHOTONS:
        group = [r for r in rows if r["photons"] == photons]
        lines.append(f"| {photons:g} | {len(group)} | {np.mean([r['scmos_kept_psnr'] for r in group]):.2f} | "
                     f"{np.mean([r['scmos_replaced_psnr'] for r in group]):.2f} | "
                     f"{np.mean([r['scmos_replaced'] for r in group]):.1f} | {sum(r['scmos_warned'] for r in group)} |")
    lines += ["", "Point-like spots without hot pixels (finds per 100,000 pixels; W: the warning fired):", "",
              "| PSF sigma (px) | " + " | ".join(f"{p:g} photons" for p in SPOT_PHOTONS) + " |",
              "| --- |" + " --- |" * len(SPOT_PHOTONS)]
    for sigma in UNDERSAMPLED:
        cells = [f"{r['per_100000']:g}{' W' if r['warned'] else ''}" for r in spots if r["sigma"] == sigma]
        lines.append(f"| {sigma:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()

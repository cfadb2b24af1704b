"""Training pairs for a generalist denoiser: every image set at random zoom, optics, photon level, background and
read noise, so that one network meets the variety of microscopes it will be used on.

Each pair is a random crop of a clean image, zoomed by a log-uniform factor, blurred by a random Gaussian PSF (the
blur is part of the clean image: the model denoises, it does not deconvolve), optionally raised to a log-uniform
power (gamma > 1 leaves most structure dim beside a few bright spots, gamma < 1 makes it dense and bright: the
dynamic range of specimens varies as much as their size), optionally with each object's contrast over the
background scaled by its own log-uniform factor (stain uptake and DNA content vary from nucleus to nucleus),
normalized as ground truth (99.9th percentile = 1) and degraded by carekit's camera model at a log-uniform photon
level. Every dataset contributes the same number of pairs, however many images it has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from . import noise

# held-out images per built-in dataset (never used for training by the generalist or the benchmarks)
TEST_PICKS = {"hela": [16, 17, 18, 19], "nuclei3d": [2, 5, 9, 12], "bbbc007": [1, 5, 9, 13], "gowt1": [3, 11, 19, 27]}
TEST_ONLY = ("dsb2018",)  # built-in datasets held out whole: no variant or benchmark trains on them


@dataclass(frozen=True)
class GeneralistSettings:
    zoom: tuple[float, float] = (0.5, 2.0)
    photons: tuple[float, float] = (1.0, 50.0)
    background_photons: tuple[float, float] = (0.0, 5.0)
    blur_sigma_px: tuple[float, float] = (0.0, 1.5)
    read_noise: tuple[float, float] = (0.5, 5.0)
    gamma: tuple[float, float] = (1.0, 1.0)
    object_gain: tuple[float, float] = (1.0, 1.0)
    gain: float = 1.0
    offset: float = 100.0
    pairs_per_dataset: int = 64
    crop: int = 256
    seed: int = 0

    def __post_init__(self):
        # ranges read back from a model's JSON record are lists: as tuples they compare equal to the defaults, which
        # draw nothing (the same seed gives the same pairs)
        for name, value in asdict(self).items():
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if len(self.object_gain) != 2 or not 0 < self.object_gain[0] <= self.object_gain[1] <= 1:
            raise InputError(f"object_gain {self.object_gain}: give factors with 0 < low <= high <= 1")

    def as_dict(self) -> dict:
        return asdict(self)


def split(name: str, images: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training images, held-out test images) of a built-in dataset: the TEST_PICKS indices, or for a single
    image (mahotas) its left half for training and a 512-row crop of its right half for testing; every image of a
    TEST_ONLY dataset for testing."""
    if name in TEST_ONLY:
        return [], list(images)
    if len(images) == 1:
        image = images[0]
        half, rows = image.shape[1] // 2, min(512, image.shape[0])
        top = (image.shape[0] - rows) // 2
        return [image[:, :half]], [image[top:top + rows, half:]]
    picks = TEST_PICKS.get(name)
    if picks is None or max(picks) >= len(images):
        raise InputError(f"no held-out split is defined for {name!r} with {len(images)} images")
    return [im for i, im in enumerate(images) if i not in picks], [images[i] for i in picks]


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def _zoomed_crop(image: np.ndarray, zoom: float, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A random region of `image` that becomes at most crop x crop pixels after zooming by `zoom`."""
    size = [min(s, int(np.ceil(crop / zoom))) for s in image.shape]
    start = [int(rng.integers(0, s - c + 1)) for s, c in zip(image.shape, size)]
    region = image[start[0]:start[0] + size[0], start[1]:start[1] + size[1]].astype(np.float32)
    if zoom < 1:  # average before subsampling, as a coarser camera pixel does
        region = ndimage.gaussian_filter(region, 0.5 / zoom)
    return ndimage.zoom(region, zoom, order=1)


def vary_object_brightness(clean: np.ndarray, bounds: tuple[float, float],
                           rng: np.random.Generator) -> np.ndarray:
    """`clean` with the contrast over the background (the median below the Otsu threshold) of each object (a
    connected region above that threshold) scaled by its own log-uniform factor within `bounds`. Every other pixel
    takes its nearest object's factor, so a dimmed object keeps no bright rim and dim structure around it dims with
    it; the factor map is smoothed over 2 px, which softens the step where two objects' regions meet."""
    from skimage.filters import threshold_otsu

    threshold = threshold_otsu(clean)
    labels, count = ndimage.label(clean > threshold)
    if count == 0:
        return clean
    background = np.median(clean[clean <= threshold])
    gains = np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), count + 1)).astype(np.float32)
    nearest = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    gain_map = ndimage.gaussian_filter(gains[labels[tuple(nearest)]], 2.0)
    return background + (clean - background) * gain_map


def make_pair(image: np.ndarray, settings: GeneralistSettings,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (camera counts, normalized ground truth) pair from a clean 2D image (crops without structure, e.g.
    empty background, are drawn again)."""
    for _ in range(20):
        clean = _zoomed_crop(image, _log_uniform(rng, settings.zoom), settings.crop, rng)
        if np.percentile(clean, 99.9) > np.percentile(clean, 0.1):
            break
    else:
        raise InputError(f"an image of shape {image.shape} gave 20 crops without structure; is it empty?")
    if settings.object_gain != (1.0, 1.0):  # no draw otherwise, as for gamma
        clean = vary_object_brightness(clean, settings.object_gain, rng)
    sigma = rng.uniform(*settings.blur_sigma_px)
    if sigma > 0:
        clean = ndimage.gaussian_filter(clean, sigma)
    truth = noise.normalize_ground_truth(clean)
    if settings.gamma != (1.0, 1.0):  # no draw otherwise: the same seed gives the same pairs as before gamma existed
        truth = noise.normalize_ground_truth(truth ** _log_uniform(rng, settings.gamma))
    expected = truth * _log_uniform(rng, settings.photons) + rng.uniform(*settings.background_photons)
    low = noise.poisson_gaussian(expected, rng.uniform(*settings.read_noise), settings.gain, settings.offset, rng)
    return low, truth


def generalist_pairs(datasets: dict[str, list[np.ndarray]],
                     settings: GeneralistSettings | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`settings.pairs_per_dataset` pairs from each dataset's 2D images (random image per pair); reproducible."""
    settings = settings or GeneralistSettings()
    if not datasets or not all(datasets.values()):
        raise InputError("the generalist needs at least one dataset, each with at least one image")
    bad = [name for name, images in datasets.items() if any(np.ndim(im) != 2 for im in images)]
    if bad:
        raise InputError(f"generalist training takes 2D images; these datasets hold others: {', '.join(bad)}")
    rng = np.random.default_rng(settings.seed)
    lows, highs = [], []
    for name in sorted(datasets):
        images = datasets[name]
        for _ in range(settings.pairs_per_dataset):
            low, high = make_pair(images[int(rng.integers(len(images)))], settings, rng)
            lows.append(low)
            highs.append(high)
    return lows, highs

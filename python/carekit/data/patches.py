"""Input coercion and random patch sampling for training (pure numpy, no TensorFlow)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io import SUPPORTED_DTYPES

def real_array(data, name: str = "image") -> np.ndarray:
    """Any real-valued array-like (nested lists, int64, uint64, longdouble) as an array of a dtype carekit's image
    checks accept (float32 where needed); bool, complex and other kinds stay as they are for the checks to refuse."""
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} is not an image array ({err}); pass a numpy array or equal-length nested lists") from None
    if array.dtype.kind in "iuf" and not any(array.dtype == d for d in SUPPORTED_DTYPES):
        array = array.astype(np.float32)
    return array


def sample_patches(sources: list[np.ndarray], targets: list[np.ndarray], patch_size: tuple[int, ...],
                   patches_per_image: int, rng: np.random.Generator | int | None = None,
                   foreground_threshold: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Random aligned patches from (normalized) source/target images, preferring patches with target signal.

    Like csbdeep's no_background_patches: a patch is kept when its target maximum reaches `foreground_threshold`
    times the image's smoothed maximum; if too few qualify, the brightest candidates fill up.
    Returns arrays of shape (N, *patch_size).
    """
    if len(sources) != len(targets):
        raise InputError(f"{len(sources)} source images but {len(targets)} targets")
    rng = np.random.default_rng(rng)
    xs, ys = [], []
    for index, (source, target) in enumerate(zip(sources, targets)):
        if source.shape != target.shape:
            raise InputError(f"image {index}: source shape {source.shape} differs from target shape {target.shape}")
        if source.ndim != len(patch_size):
            raise InputError(f"image {index} has {source.ndim} dimensions but patch size {patch_size} has {len(patch_size)}")
        if any(s < p for s, p in zip(source.shape, patch_size)):
            raise InputError(f"image {index} of shape {source.shape} is smaller than the patch size {patch_size}; "
                             "use a smaller patch size or larger images")
        n_candidates = 4 * patches_per_image
        corners = np.stack([rng.integers(0, s - p + 1, n_candidates) for s, p in zip(source.shape, patch_size)], axis=1)
        windows = [tuple(slice(c, c + p) for c, p in zip(corner, patch_size)) for corner in corners]
        peak = np.percentile(target, 99.9)
        scores = np.array([target[w].max() for w in windows])
        order = np.argsort(-scores, kind="stable")
        good = [i for i in range(n_candidates) if scores[i] >= foreground_threshold * peak]
        chosen = list(rng.permutation(good)[:patches_per_image]) if len(good) >= patches_per_image else list(order[:patches_per_image])
        xs += [source[windows[i]] for i in chosen]
        ys += [target[windows[i]] for i in chosen]
    return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator | int | None = None):
    """Shuffle and split patches into ((x_train, y_train), (x_val, y_val)); at least one validation patch."""
    if len(x) < 2:
        raise InputError("need at least 2 patches to split off validation data; add images or patches_per_image")
    order = np.random.default_rng(rng).permutation(len(x))
    n_val = min(len(x) - 1, max(1, int(round(fraction * len(x)))))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])

"""Classical baselines for surface projection (stack (Z, Y, X) in, 2D image out): maximum and mean intensity
projection, maximum projection after the best classical denoiser, and a per-pixel best-focus-plane projection
(the plane of highest smoothed local contrast). Free parameters are chosen per image from a small grid by PSNR
against the ground truth when it is given ("oracle-tuned"), as the denoising baselines are."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..classical import GAUSSIAN_SIGMAS, NLM_STRENGTHS, anscombe, inverse_anscombe, nlm
from ..errors import InputError
from .baselines import _best

FOCUS_SMOOTHING = (2.0, 4.0, 8.0)


def _stack(stack: np.ndarray) -> np.ndarray:
    stack = np.asarray(stack, dtype=np.float32)
    if stack.ndim != 3 or stack.shape[0] < 2:
        raise InputError(f"projection baselines need a stack (Z, Y, X) with at least 2 planes, got {stack.shape}")
    return stack


def max_projection(stack: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _stack(stack).max(axis=0)


def mean_projection(stack: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _stack(stack).mean(axis=0)


def denoised_max_projection(stack: np.ndarray, gt: np.ndarray | None = None, gain: float = 1.0,
                            read_noise: float = 2.0, offset: float = 100.0) -> np.ndarray:
    """MIP after the better of a 3D Gaussian filter (sigmas as the 2D baseline) and GAT + NLM on each plane."""
    stack = _stack(stack)
    candidates = [ndimage.gaussian_filter(stack, s).max(axis=0) for s in GAUSSIAN_SIGMAS]
    stabilized = anscombe(stack.astype(np.float64), gain, read_noise, offset)
    lo, hi = stabilized.min(), stabilized.max()
    scale = hi - lo if hi > lo else 1.0
    for strength in NLM_STRENGTHS:
        planes = [nlm((p - lo) / scale, 1.0 / scale, strength) * scale + lo for p in stabilized]
        candidates.append(inverse_anscombe(np.stack(planes), gain, read_noise, offset).max(axis=0).astype(np.float32))
    return _best(candidates, gt)


def best_focus_projection(stack: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    """Per pixel, the Gaussian-denoised stack's value at the plane of highest local contrast (squared Laplacian of
    the smoothed plane, averaged locally); the height map is smoothed before it is used."""
    stack = _stack(stack)
    smoothed = ndimage.gaussian_filter(stack, (0, 1.5, 1.5))
    contrast = np.stack([ndimage.gaussian_filter(ndimage.laplace(p) ** 2, 3.0) for p in smoothed])
    argmax = np.argmax(contrast, axis=0).astype(np.float32)
    denoised = [ndimage.gaussian_filter(stack, (0, s, s)) for s in GAUSSIAN_SIGMAS]
    candidates = []
    for sigma in FOCUS_SMOOTHING:
        height = np.clip(np.rint(ndimage.gaussian_filter(argmax, sigma)), 0, len(stack) - 1).astype(int)
        candidates += [np.take_along_axis(d, height[None], axis=0)[0] for d in denoised]
    return _best(candidates, gt)


PROJECTION_BASELINES = {
    "MIP": max_projection,
    "mean projection": mean_projection,
    "denoised MIP": denoised_max_projection,
    "best-focus plane": best_focus_projection,
}


def run_projection_baselines(stack: np.ndarray, gt: np.ndarray | None = None,
                             camera: dict | None = None) -> dict[str, np.ndarray]:
    """Every projection baseline on one stack. `camera` = {'gain', 'read_noise', 'offset'} for GAT + NLM."""
    results = {}
    for name, method in PROJECTION_BASELINES.items():
        extra = camera or {} if method is denoised_max_projection else {}
        results[name] = method(stack, gt, **extra)
    return results

"""Classical denoising baselines (numpy in, numpy out): Gaussian, non-local means, total variation, and the
generalized Anscombe transform (GAT) + NLM for Poisson-Gaussian noise. BM3D only if the optional, closed and
non-commercial `bm3d` package is installed.

Gaussian, NLM and TV strengths are chosen per image from a small grid by PSNR against the ground truth
("oracle-tuned"), so the baselines are reported at their best, as in the CARE and N2V comparisons.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..normalize import affine_fit, normalize_ground_truth, normalize_percentile
from .metrics import psnr

GAUSSIAN_SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0)
NLM_STRENGTHS = (0.6, 0.9, 1.2)
TV_WEIGHTS = (0.05, 0.1, 0.2, 0.4)


def _best(candidates: list[np.ndarray], gt: np.ndarray | None) -> np.ndarray:
    if gt is None or len(candidates) == 1:
        return candidates[len(candidates) // 2]
    gt_norm = normalize_ground_truth(gt)
    scores = [psnr(gt_norm, affine_fit(c, gt_norm)) for c in candidates]
    return candidates[int(np.argmax(scores))]


def gaussian_candidates(image: np.ndarray) -> list[np.ndarray]:
    return [ndimage.gaussian_filter(image.astype(np.float32), s) for s in GAUSSIAN_SIGMAS]


def gaussian(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(gaussian_candidates(image), gt)


def _nlm(normalized: np.ndarray, sigma: float, strength: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    patch = 5 if normalized.ndim == 2 else 3
    return denoise_nl_means(normalized, h=strength * sigma, sigma=sigma, patch_size=patch, patch_distance=6,
                            fast_mode=True).astype(np.float32)


def nlm_candidates(image: np.ndarray) -> list[np.ndarray]:
    from skimage.restoration import estimate_sigma

    normalized = normalize_percentile(image, 1, 99.8)
    sigma = float(estimate_sigma(normalized))
    return [_nlm(normalized, sigma, k) for k in NLM_STRENGTHS]


def non_local_means(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(nlm_candidates(image), gt)


def tv_candidates(image: np.ndarray) -> list[np.ndarray]:
    from skimage.restoration import denoise_tv_chambolle

    normalized = normalize_percentile(image, 1, 99.8)
    return [denoise_tv_chambolle(normalized, weight=w).astype(np.float32) for w in TV_WEIGHTS]


def total_variation(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(tv_candidates(image), gt)


def check_camera(gain: float = 1.0, read_noise: float = 2.0, offset: float = 100.0) -> dict[str, float]:
    """The camera parameters GAT needs as a dict, refused unless gain > 0, read noise >= 0 and offset finite."""
    checks = {f"gain must be > 0, got {gain}": np.isfinite(gain) and gain > 0,
              f"read noise must be >= 0, got {read_noise}": np.isfinite(read_noise) and read_noise >= 0,
              f"offset must be a finite number, got {offset}": np.isfinite(offset)}
    problems = [message for message, ok in checks.items() if not ok]
    if problems:
        raise InputError("camera parameters for GAT (--gain, --read-noise, --offset): " + "; ".join(problems))
    return {"gain": float(gain), "read_noise": float(read_noise), "offset": float(offset)}


def anscombe(counts: np.ndarray, gain: float, read_noise: float, offset: float) -> np.ndarray:
    """Generalized Anscombe transform: Poisson-Gaussian counts -> approximately unit-variance Gaussian."""
    z = (counts - offset) / gain
    sigma = read_noise / gain
    return 2 * np.sqrt(np.maximum(z + 3 / 8 + sigma**2, 0))


def inverse_anscombe(d: np.ndarray, gain: float, read_noise: float, offset: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi 2013)."""
    d = np.maximum(d, 1e-6)
    sigma = read_noise / gain
    exact = (d**2 / 4 + np.sqrt(3 / 2) / (4 * d) - 11 / (8 * d**2) + 5 * np.sqrt(3 / 2) / (8 * d**3)
             - 1 / 8 - sigma**2)
    return np.maximum(exact, 0) * gain + offset


def gat_nlm_candidates(image: np.ndarray, gain: float = 1.0, read_noise: float = 2.0,
                       offset: float = 100.0) -> list[np.ndarray]:
    """Variance-stabilize with the GAT (needs the camera's gain, read noise and offset), NLM with sigma 1, invert."""
    check_camera(gain, read_noise, offset)
    stabilized = anscombe(np.asarray(image, dtype=np.float64), gain, read_noise, offset)
    lo, hi = stabilized.min(), stabilized.max()
    scale = hi - lo if hi > lo else 1.0
    return [inverse_anscombe(_nlm((stabilized - lo) / scale, 1.0 / scale, k) * scale + lo, gain, read_noise,
                             offset).astype(np.float32) for k in NLM_STRENGTHS]


def gat_nlm(image: np.ndarray, gt: np.ndarray | None = None, gain: float = 1.0, read_noise: float = 2.0,
            offset: float = 100.0) -> np.ndarray:
    return _best(gat_nlm_candidates(image, gain, read_noise, offset), gt)


def bm3d_available() -> bool:
    try:
        import bm3d  # noqa: F401
    except ImportError:
        return False
    return True


def bm3d_denoise(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    import bm3d
    from skimage.restoration import estimate_sigma

    normalized = normalize_percentile(image, 1, 99.8)
    return bm3d.bm3d(normalized, sigma_psd=float(estimate_sigma(normalized))).astype(np.float32)


BASELINES: dict[str, Callable] = {
    "Gaussian": gaussian,
    "NLM": non_local_means,
    "TV": total_variation,
    "GAT+NLM": gat_nlm,
}
BASELINE_NAMES = (*BASELINES, "BM3D")


def run_baselines(image: np.ndarray, gt: np.ndarray | None = None, names: tuple[str, ...] | None = None,
                  camera: dict | None = None) -> dict[str, np.ndarray]:
    """Every baseline (or those named) on one image. `camera` = {'gain', 'read_noise', 'offset'} for GAT."""
    available = dict(BASELINES)
    if bm3d_available():
        available["BM3D"] = bm3d_denoise
    names = names or tuple(available)
    unknown = set(names) - set(available)
    if unknown:
        raise InputError(f"unknown baselines {sorted(unknown)}; available here: {sorted(available)}"
                         + ("" if "BM3D" in available else " (BM3D needs the optional non-commercial `bm3d` package)"))
    results = {}
    for name in names:
        if name == "GAT+NLM":
            results[name] = gat_nlm(image, gt, **(camera or {}))
        else:
            results[name] = available[name](image, gt)
    return results

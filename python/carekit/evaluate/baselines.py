"""Classical denoising baselines (numpy in, numpy out): Gaussian, non-local means, total variation, and the
generalized Anscombe transform (GAT) + NLM for Poisson-Gaussian noise (carekit.classical). BM3D only if the optional,
closed and non-commercial `bm3d` package is installed.

Gaussian, NLM and TV strengths are chosen per image from a small grid by PSNR against the ground truth
("oracle-tuned"), so the baselines are reported at their best, as in the CARE and N2V comparisons.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..classical import gat_nlm_candidates, gaussian_candidates, nlm_candidates, tv_candidates
from ..errors import InputError
from ..normalize import affine_fit, normalize_ground_truth, normalize_percentile
from .metrics import psnr


def _best(candidates: list[np.ndarray], gt: np.ndarray | None) -> np.ndarray:
    if gt is None or len(candidates) == 1:
        return candidates[len(candidates) // 2]
    gt_norm = normalize_ground_truth(gt)
    scores = [psnr(gt_norm, affine_fit(c, gt_norm)) for c in candidates]
    return candidates[int(np.argmax(scores))]


def gaussian(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(gaussian_candidates(image), gt)


def non_local_means(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(nlm_candidates(image), gt)


def total_variation(image: np.ndarray, gt: np.ndarray | None = None) -> np.ndarray:
    return _best(tv_candidates(image), gt)


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

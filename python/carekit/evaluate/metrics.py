"""Image quality metrics as in the CARE papers.

Convention (fixed, used everywhere): the ground truth is percentile-normalized (0.1 -> 0, 99.9 -> 1); the image
under test is mapped onto it by the least-squares affine fit a*x+b (csbdeep.utils.normalize_minmse), so metrics
do not depend on the arbitrary intensity scale of each method. PSNR and SSIM then use data_range = 1
(the normalized ground truth's 0.1-99.9 percentile span); NRMSE = RMSE / 1 on that scale.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from ..normalize import affine_fit, normalize_ground_truth

DATA_RANGE = 1.0


def psnr(gt_norm: np.ndarray, x_fit: np.ndarray) -> float:
    mse = np.mean((gt_norm - x_fit) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(DATA_RANGE**2 / mse))


def nrmse(gt_norm: np.ndarray, x_fit: np.ndarray) -> float:
    return float(np.sqrt(np.mean((gt_norm - x_fit) ** 2)) / DATA_RANGE)


def ssim(gt_norm: np.ndarray, x_fit: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(gt_norm, x_fit, data_range=DATA_RANGE))


@dataclass
class Scores:
    psnr: float
    ssim: float
    nrmse: float

    def as_dict(self) -> dict:
        return asdict(self)


def score(gt: np.ndarray, image: np.ndarray) -> Scores:
    """PSNR/SSIM/NRMSE of `image` against `gt` (2D or 3D) under the convention in this module's docstring."""
    gt, image = np.asarray(gt), np.asarray(image)
    if gt.shape != image.shape:
        raise InputError(f"ground truth {gt.shape} and image {image.shape} differ in shape")
    if not (np.isfinite(gt).all() and np.isfinite(image).all()):
        raise InputError("ground truth or image contains NaN/Inf")
    gt_norm = normalize_ground_truth(gt)
    fitted = affine_fit(image, gt_norm)
    return Scores(psnr(gt_norm, fitted), ssim(gt_norm, fitted), nrmse(gt_norm, fitted))


def laplace_interval(mean: np.ndarray, scale: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Central interval holding `level` of a per-pixel Laplace(mean, scale) distribution (probabilistic CARE)."""
    if not 0 < level < 1:
        raise InputError(f"interval level must be in (0, 1), got {level}")
    half_width = -np.log(1 - level) * np.asarray(scale)
    return mean - half_width, mean + half_width


def coverage(gt: np.ndarray, mean: np.ndarray, scale: np.ndarray, level: float = 0.9) -> float:
    """Calibration check: the fraction of ground-truth pixels inside the predicted `level` interval (ideal: `level`).

    The prediction is mapped onto the normalized ground truth by the same least-squares affine fit as for the
    other metrics, and the interval with it (its width scales by |a|)."""
    gt, mean, scale = (np.asarray(a, dtype=np.float64) for a in (gt, mean, scale))
    if not gt.shape == mean.shape == scale.shape:
        raise InputError(f"ground truth {gt.shape}, mean {mean.shape} and scale {scale.shape} must have one shape")
    gt_norm = normalize_ground_truth(gt)
    fitted = affine_fit(mean, gt_norm)
    spread = np.std(mean)
    a = np.std(fitted) / spread * np.sign(np.corrcoef(mean.ravel(), fitted.ravel())[0, 1]) if spread > 0 else 0.0
    low, high = laplace_interval(fitted, abs(a) * scale, level)
    return float(np.mean((gt_norm >= low) & (gt_norm <= high)))

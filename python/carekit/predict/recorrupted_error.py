"""A restoration's error against the truth, estimated from the noisy image alone, up to one constant.

Recorrupted-to-recorrupted (Pang et al., CVPR 2021): with the image's own noise model (data.noise_model: variance
= slope * local mean + intercept, fitted to the image), draw Gaussian noise z of that variance; u = y + alpha * z
is a slightly noisier input (noise variance x (1 + alpha^2)) and t = y - z / alpha a target whose noise is
independent of u's (exactly for Gaussian noise, nearly for Poisson). For any method g, the mean of
(a * g(u) + b - t)^2 (a, b: the least-squares affine fit, as the metric fits) is its error against the truth plus
the same constant for every method, (1 + 1 / alpha^2) times the noise variance. So differences of these errors
rank methods (predict.classical_check: the model against classical denoisers) and settings (predict.rescale's
'search': the rescale factor) with no ground truth, at 1 + alpha^2 times the image's noise variance.

Pixels whose noise the model does not describe (hot pixels: an sCMOS chip's few pixels with several times the read
noise) break that: their noise is in u and t alike, and they dominated the errors (benchmarks/results/
noise_kinds.md: every sCMOS image was called behind where the model won). So the errors are means over the pixels
the noise model describes (modelled_weights): those within OUTLIER_SD modelled standard deviations of their 3 x 3
median, with the outliers' 4 neighbours left out too; on Poisson-Gaussian images that leaves out about 0.1%.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..data.recorrupt import recorrupted_batch
from ..normalize import affine_fit

ALPHA = 0.5
CHOOSING_SEED = 0  # the pair predict.classical_check chooses the classical setting on; it compares on the next one
OUTLIER_SD = 4.0
SEARCH_SEEDS = (2, 3, 4)  # rescale 'search' averages pairs of its own, not the classical check's comparison pair


def recorrupted_pair(image: np.ndarray, variance: np.ndarray, seed: int, misfit: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(u, t) for a 2D noisy image and its per-pixel noise variance (data.recorrupt.variance_map), the variance
    scaled by `misfit` (to see how much an error of the noise model moves a comparison)."""
    return recorrupted_batch(image, variance * misfit, np.random.default_rng(seed), ALPHA)


def target_noise(variance: np.ndarray) -> float:
    """The constant every method's estimated error carries: the target's mean noise variance."""
    return float(variance.mean()) * (1 + 1 / ALPHA**2)


def fitted_residual(candidate: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`target` minus the least-squares affine fit of `candidate` to it (normalize.affine_fit, as the metric fits),
    per pixel."""
    return np.asarray(target, np.float64) - affine_fit(candidate, target)


def fitted_error(candidate: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean squared difference between `target` and the least-squares affine fit of `candidate` to it (weighted by
    `weights`, e.g. modelled_weights, whose mean is 1)."""
    squared = fitted_residual(candidate, target) ** 2
    return float(np.mean(squared if weights is None else squared * weights))


def modelled_weights(image: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Per pixel, 0 where the noise model does not describe the image (a pixel more than OUTLIER_SD modelled
    standard deviations from its 3 x 3 median, and its 4 neighbours) and the same positive value elsewhere, with
    mean 1: a mean weighted by it is the mean over the modelled pixels."""
    spread = np.sqrt(np.maximum(variance, np.finfo(np.float32).tiny))
    deviation = np.abs(image - ndimage.median_filter(image, 3)) / spread
    kept = ~ndimage.binary_dilation(deviation > OUTLIER_SD)
    return kept / max(kept.mean(), 1 / kept.size)

"""A restoration's error against the truth, estimated from the noisy image alone, up to one constant.

Recorrupted-to-recorrupted (Pang et al., CVPR 2021): with the image's own noise model (data.noise_model: variance
= slope * local mean + intercept, fitted to the image), draw Gaussian noise z of that variance; u = y + alpha * z
is a slightly noisier input (noise variance x (1 + alpha^2)) and t = y - z / alpha a target whose noise is
independent of u's (exactly for Gaussian noise, nearly for Poisson). For any method g, the mean of
(a * g(u) + b - t)^2 (a, b: the least-squares affine fit, as the metric fits) is its error against the truth plus
the same constant for every method, (1 + 1 / alpha^2) times the noise variance. So differences of these errors
rank methods (predict.classical_check: the model against classical denoisers; predict.model_comparison: two models)
and settings (predict.rescale's 'search': the rescale factor) with no ground truth, at 1 + alpha^2 times the image's
noise variance. A difference decides between two methods only beyond chance and the noise model's error (decided).

Hot pixels (an sCMOS chip's few pixels with several times the read noise) break that: the model does not describe
their noise, which is then in u and t alike, and they dominated the errors (benchmarks/results/noise_kinds.md: a first
version called every sCMOS image behind where the model won). So the errors are means over the pixels other than
isolated spikes (spike_weights, data.outliers): a pixel more than OUTLIER_SD modelled standard deviations from the
median of its 8 neighbours while those neighbours stand at the level around them, as no optical image's detail does
(a spot sampled by a microscope lifts its neighbours too). On Poisson-Gaussian images that leaves out about 0.03% of the
pixels, and no pixel of bright spots.
"""

from __future__ import annotations

import numpy as np

from ..data.outliers import isolated_outliers
from ..data.recorrupt import recorrupted_batch
from ..normalize import affine_fit

ALPHA = 0.5
BLOCK = 16  # px: the standard error comes from block means (a restoration's errors correlate between neighbours)
CHOOSING_SEED = 0  # the pair predict.classical_check chooses the classical setting on; it compares on the next one
COMPARING_SEED = CHOOSING_SEED + 1  # ... the pair predict.model_comparison compares two models on too
MISFITS = (0.97, 1.03)  # noise-variance scalings a verdict must survive
OUTLIER_SD = 4.0
SEARCH_SEEDS = (2, 3, 4)  # rescale 'search' averages pairs of its own, not the classical check's comparison pair
STANDARD_ERRORS = 2.0  # how many standard errors a difference needs


def recorrupted_pair(image: np.ndarray, variance: np.ndarray, seed: int, misfit: float = 1.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(u, t) for a 2D noisy image and its per-pixel noise variance (data.recorrupt.variance_map), the variance
    scaled by `misfit` (to see how much an error of the noise model moves a comparison)."""
    return recorrupted_batch(image, variance * misfit, np.random.default_rng(seed), ALPHA)


def target_noise(variance: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The constant every method's estimated error carries: the target's mean noise variance (weighted by
    `weights`)."""
    return float(np.average(variance, weights=weights)) * (1 + 1 / ALPHA**2)


def fitted_residual(candidate: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`target` minus the least-squares affine fit of `candidate` to it (normalize.affine_fit, as the metric fits),
    per pixel."""
    return np.asarray(target, np.float64) - affine_fit(candidate, target)


def fitted_error(candidate: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean squared difference between `target` and the least-squares affine fit of `candidate` to it (weighted by
    `weights`, e.g. spike_weights)."""
    return float(np.average(fitted_residual(candidate, target) ** 2, weights=weights))


def spike_weights(image: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Per pixel, 0 at isolated spikes and 1 elsewhere: data.outliers.isolated_outliers at OUTLIER_SD modelled
    standard deviations (the noise model's `variance`)."""
    return (~isolated_outliers(image, variance, OUTLIER_SD)).astype(np.float64)


def decided(difference: float, standard_error: float, robust: bool) -> bool:
    """Whether an estimated difference of two methods' errors tells them apart: it keeps its sign with the noise
    variance scaled by each of MISFITS (`robust`) and exceeds STANDARD_ERRORS standard errors."""
    return robust and abs(difference) > STANDARD_ERRORS * standard_error


def block_standard_error(values: np.ndarray, block: int = BLOCK, weights: np.ndarray | None = None) -> float:
    """The standard error of the (weighted) mean of a 2D map whose neighbouring values correlate: from the spread of
    its block x block (weighted) means."""
    weights = np.ones(values.shape) if weights is None else weights
    rows, cols = (n // block for n in values.shape)
    if rows * cols < 4:
        kept = values[weights > 0]
        return float(kept.std() / np.sqrt(kept.size))

    def sums(a: np.ndarray) -> np.ndarray:
        return a[:rows * block, :cols * block].reshape(rows, block, cols, block).sum(axis=(1, 3))

    totals, counts = sums(values * weights), sums(weights)
    means = totals[counts > 0] / counts[counts > 0]
    return float(means.std(ddof=1) / np.sqrt(means.size))

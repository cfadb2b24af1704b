"""Would classical denoising do better than the model on this image? Estimated from the noisy image alone.

Recorrupted-to-recorrupted (Pang et al., CVPR 2021): with the image's own noise model (data.noise_model: variance
= slope * local mean + intercept, fitted to the image), draw Gaussian noise z of that variance; u = y + alpha * z
is a slightly noisier input (noise variance x (1 + alpha^2)) and t = y - z / alpha a target whose noise is
independent of u's (exactly for Gaussian noise, nearly for Poisson). For any method g, the mean of
(a * g(u) + b - t)^2 (a, b: the least-squares affine fit, as the metric fits) is its error against the truth plus
the same constant for every method. So the model's error minus a classical denoiser's, both on u against t,
estimates the difference of their errors against the truth at 1 + alpha^2 times the image's noise variance, with
no ground truth. The classical denoisers are the evaluation's baselines (carekit.classical), each tuned over its
grid by this same estimate instead of by the truth; GAT+NLM takes the camera estimated from the image.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .. import classical
from ..data.noise_model import estimate_camera, estimate_noise_model, local_mean
from ..errors import InputError
from ..io import Image
from ..models import load_model
from ..models.runner import PipelineRunner
from .domain_check import OutOfRangeWarning
from .restore import restore

ALPHA = 0.5
MAX_SIDE = 512  # the comparison runs on a central crop of one plane: bounded time, enough pixels


class WorseThanClassicalWarning(OutOfRangeWarning):
    """A classical denoiser is estimated to restore the image better than the model: it is out of its depth."""


@dataclass(frozen=True)
class ClassicalComparison:
    """Estimated mean squared errors against the truth, in the input's units, each up to the same unknown offset
    (the noise model's error: their difference is what the estimate gets right, not their ratio)."""

    model_error: float
    classical: str  # the best classical denoiser and its setting
    classical_error: float
    errors: dict[str, float]  # every classical candidate's
    noise_variance: float  # the input's mean noise variance, as the noise model estimates it

    @property
    def model_is_worse(self) -> bool:
        return self.model_error > self.classical_error

    @property
    def difference(self) -> float:
        """The model's estimated error minus the best classical denoiser's, over the input's noise variance."""
        return (self.model_error - self.classical_error) / self.noise_variance

    def summary(self) -> str:
        return (f"{'behind' if self.model_is_worse else 'ahead of'} {self.classical} (estimated from the noisy image "
                f"alone: the model's squared error {'exceeds' if self.model_is_worse else 'is below'} that "
                f"denoiser's by {abs(self.difference):.1%} of the input's noise variance)")


def _families(noisy: np.ndarray) -> dict[str, np.ndarray]:
    camera = estimate_camera(noisy)
    grids = {"Gaussian sigma": (classical.gaussian_candidates(noisy), classical.GAUSSIAN_SIGMAS),
             "NLM strength": (classical.nlm_candidates(noisy), classical.NLM_STRENGTHS),
             "TV weight": (classical.tv_candidates(noisy), classical.TV_WEIGHTS),
             "GAT+NLM strength": (classical.gat_nlm_candidates(noisy, **camera), classical.NLM_STRENGTHS)}
    return {f"{name} {value:g}": candidate for name, (candidates, values) in grids.items()
            for value, candidate in zip(values, candidates)}


def fitted_error(candidate: np.ndarray, target: np.ndarray) -> float:
    """Mean squared difference between `target` and the least-squares affine fit of `candidate` to it."""
    design = np.stack([candidate.ravel().astype(np.float64), np.ones(candidate.size)], 1)
    coefficients, *_ = np.linalg.lstsq(design, target.ravel().astype(np.float64), rcond=None)
    return float(np.mean((design @ coefficients - target.ravel()) ** 2))


def recorrupted(noisy: np.ndarray, alpha: float = ALPHA, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """(noisier input, independent target, the input's estimated mean noise variance): see the module doc. The
    target's noise variance is (1 + 1 / alpha^2) times that."""
    noisy = np.asarray(noisy, np.float64)
    variance = estimate_noise_model(noisy).variance(local_mean(noisy)).astype(np.float64)
    z = np.random.default_rng(seed).standard_normal(noisy.shape) * np.sqrt(variance)
    return noisy + alpha * z, noisy - z / alpha, float(np.mean(variance))


def central_plane(image: np.ndarray | Image, axes: str | None = None, max_side: int = MAX_SIDE) -> np.ndarray:
    """The middle plane (of any leading axes) of a YX image, cropped centrally to at most max_side^2."""
    if isinstance(image, Image):
        image, axes = image.data, image.axes
    axes = (axes or {2: "YX"}.get(np.ndim(image), "")).upper()
    if len(axes) != np.ndim(image) or "Y" not in axes or "X" not in axes:
        raise InputError(f"the comparison with classical denoising needs the image's axes (YX, TYX, ZYX...); got "
                         f"{axes!r} for shape {np.shape(image)}")
    planes = np.moveaxis(np.asarray(image), [axes.index("Y"), axes.index("X")], [-2, -1])
    plane = planes.reshape(-1, *planes.shape[-2:])[int(np.prod(planes.shape[:-2])) // 2]
    top, left = (max(n - max_side, 0) // 2 for n in plane.shape)
    return plane[top:top + max_side, left:left + max_side].astype(np.float32)


def is_2d_denoiser(runner) -> bool:
    """carekit's 2D restoration models (not projection, isotropic or 3D ones, nor packages made elsewhere)."""
    return runner.spec.kind == "care" and runner.spec.axes == "YX" and not isinstance(runner, PipelineRunner)


def compare_with_classical(model, image: np.ndarray | Image, axes: str | None = None,
                           rescale: str | float | None = None, seed: int = 0) -> ClassicalComparison:
    """The model (a 2D CARE model: folder, package or runner; restored as restore() would, with `rescale`) against
    the classical denoisers on the middle plane of `image` (central crop of at most MAX_SIDE^2 px)."""
    runner = load_model(model) if not hasattr(model, "spec") else model
    if not is_2d_denoiser(runner):
        raise InputError("the comparison with classical denoising is for carekit's 2D denoising models (kind care, "
                         f"axes YX); this model is {runner.spec.kind} with axes {runner.spec.axes}"
                         + (", made elsewhere" if isinstance(runner, PipelineRunner) else ""))
    plane = central_plane(image, axes)
    noisier, target, variance = recorrupted(plane, seed=seed)
    constant = variance * (1 + 1 / ALPHA**2)
    noisier = noisier.astype(np.float32)
    restored = restore(runner, noisier, axes="YX", progress=False, check_domain=False, rescale=rescale).image
    errors = {name: fitted_error(candidate, target) - constant for name, candidate in _families(noisier).items()}
    best = min(errors, key=errors.get)
    return ClassicalComparison(fitted_error(restored, target) - constant, best, errors[best], errors, variance)


def warn_if_worse(comparison: ClassicalComparison) -> str | None:
    """Warn (WorseThanClassicalWarning) when the model is estimated to be behind; the message is returned too."""
    if not comparison.model_is_worse:
        return None
    message = (f"the model is {comparison.summary()}: it is likely out of its depth on this image. Where you have "
               "ground truth, compare with `carekit evaluate --baselines`; for objects larger than the model's try "
               "--rescale auto; or fine-tune it on your data (`carekit train --from`, `carekit finetune`)")
    warnings.warn(message, WorseThanClassicalWarning, stacklevel=2)
    return message

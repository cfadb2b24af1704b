"""Would classical denoising do better than the model on this image? Estimated from the noisy image alone.

The estimate is predict.recorrupted_error's: on a recorrupted pair (u, t) drawn from the image's own noise model,
each method restores u, and its squared difference to t after the affine fit is its error against the truth plus one
constant shared by every method. So the model's error minus a classical denoiser's estimates the difference of their
errors against the truth at 1 + alpha^2 times the image's noise variance, with no ground truth. The classical
denoisers are the evaluation's baselines (carekit.classical), each tuned over its grid by this same estimate instead
of by the truth; GAT+NLM takes the camera estimated from the image.

Isolated spikes (hot pixels), whose noise the noise model does not describe, are left out of every mean
(recorrupted_error.spike_weights).

Two things blur the answer, and the verdict says "level" (no warning) when either could flip it: chance (the
difference's standard error, from the spread of its 16 x 16 px block means; a verdict needs 2 of them) and the
noise model's own error (with a variance off by a factor, u's and t's noise correlate, which biases each method by
its own sensitivity to the input, by ~0.1-0.9% of the noise variance per 10% off; the verdict must hold with the
variance scaled by 0.97 and 1.03 too, beyond the largest error of the noise model's mean variance measured on
Poisson-Gaussian camera noise, 2.3%). The best classical setting is chosen on one recorrupted pair and compared on
another, so that picking the best of 15 does not favour the classical side.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..data.recorrupt import variance_map
from ..errors import InputError
from ..io import Image
from ..models import load_model
from .domain_check import PredictionWarning
from ..data.crops import middle_plane
from ..data.hot_pixel_images import KEEP
from .hot_pixels import cleaned_input
from .classical_settings import candidates, classical_errors, setting_of
from .recorrupted_error import (CHOOSING_SEED, MISFITS, block_standard_error, decided, fitted_residual,
                                recorrupted_pair, spike_weights)
from .rescale import MODEL, refuse_unless_2d_denoising
from .plane_restore import image_factor, restored_plane


class WorseThanClassicalWarning(PredictionWarning):
    """A classical denoiser is estimated to restore the image better than the model: it is out of its depth."""


@dataclass(frozen=True)
class ClassicalComparison:
    """Estimated mean squared errors against the truth, in the input's units, each up to an unknown offset (the
    noise model's error) that is nearly, not exactly, the same for every method: their difference is what the
    estimate is for."""

    model_error: float  # classical_error plus the model's excess over that denoiser, measured on the second pair
    classical: str  # the best classical denoiser and its setting, chosen on the first pair
    classical_error: float
    errors: dict[str, float]  # every classical candidate's, on the first pair
    noise_variance: float  # the input's mean noise variance, as the noise model estimates it
    standard_error: float  # of the difference model_error - classical_error
    robust: bool  # the difference keeps its sign with the noise variance scaled by each of MISFITS

    @property
    def difference(self) -> float:
        """The model's estimated error minus the best classical denoiser's, over the input's noise variance."""
        return (self.model_error - self.classical_error) / self.noise_variance

    @property
    def verdict(self) -> str:
        """'behind' or 'ahead of' the best classical denoiser, or 'level' where chance or the noise model's error
        could flip the sign."""
        if not decided(self.model_error - self.classical_error, self.standard_error, self.robust):
            return "level"
        return "behind" if self.model_error > self.classical_error else "ahead of"

    @property
    def model_is_worse(self) -> bool:
        return self.verdict == "behind"

    def summary(self) -> str:
        share = (f"{abs(self.difference):.2%} of the input's noise variance, standard error "
                 f"{self.standard_error / self.noise_variance:.2%}")
        if self.verdict == "level":
            return (f"level with {self.classical} (estimated from the noisy image alone: the squared errors differ "
                    f"by {share}, {'too little to tell' if self.robust else 'with a sign the noise model decides'})")
        return (f"{self.verdict} {self.classical} (estimated from the noisy image alone: the model's squared error "
                f"{'exceeds' if self.verdict == 'behind' else 'is below'} that denoiser's by {share})")


def _squared_residuals(runner, crop, variance, factor, seed, misfit, settings=None) -> tuple:
    """(the model's squared residual per pixel (None without a runner), each classical candidate's (all, or
    `settings`)) on one recorrupted pair."""
    noisier, target = recorrupted_pair(crop, variance, seed, misfit)
    model = None
    if runner is not None:
        model = fitted_residual(restored_plane(runner, noisier, factor), target) ** 2
    return model, {n: fitted_residual(c, target) ** 2 for n, c in candidates(noisier, settings).items()}


def compare_with_classical(model, image: np.ndarray | Image, axes: str | None = None,
                           rescale: str | float | None = MODEL, seed: int = CHOOSING_SEED, hot_pixels: str = KEEP
                           ) -> ClassicalComparison:
    """The model (a 2D CARE model: folder, package or runner; restored as restore() would, with `rescale` judged on
    the whole image as restore() judges it) against the classical denoisers on the middle plane of `image` (central
    crop of at most crops.ESTIMATE_SIDE^2 px; with `hot_pixels` 'replace', the image's hot pixels replaced first, as
    restore() replaces them)."""
    runner = load_model(model) if not hasattr(model, "spec") else model
    refuse_unless_2d_denoising(runner, "the comparison with classical denoising")
    if isinstance(image, Image):
        image, axes = image.data, image.axes
    image = cleaned_input(image, (axes or "YX").upper(), hot_pixels)[0]  # before the rescale factor too, as restore()
    crop = middle_plane(image, axes)
    factor = image_factor(runner, rescale, image, axes)
    variance = variance_map(crop)
    weights = spike_weights(crop, variance)  # every mean below leaves out isolated spikes (hot pixels)
    errors = classical_errors(crop, variance, weights, seed)
    best = min(errors, key=errors.get)
    setting = setting_of(best)
    differences = {}
    for misfit in (1.0, *MISFITS):  # compared on a second pair
        model_sq, classical_sq = _squared_residuals(runner, crop, variance, factor, seed + 1, misfit, setting)
        differences[misfit] = model_sq - classical_sq[best]
    means = {misfit: float(np.average(d, weights=weights)) for misfit, d in differences.items()}
    return ClassicalComparison(means[1.0] + errors[best], best, errors[best], errors,
                               float(np.average(variance, weights=weights)),
                               block_standard_error(differences[1.0], weights=weights),
                               len({np.sign(m) for m in means.values()}) == 1)


def not_compared(error: Exception) -> str:
    """The note for an image the comparison could not judge (an InputError: too small or flat to estimate its
    noise) or for a comparison that failed: it only advises, so the restoration stands either way."""
    if isinstance(error, InputError):
        return f"not compared with classical denoising: {error}"
    return f"not compared with classical denoising, the comparison failed: {type(error).__name__}: {error}"


def warn_if_worse(comparison: ClassicalComparison) -> str | None:
    """Warn (WorseThanClassicalWarning) when the model is estimated to be behind; the message is returned too."""
    if not comparison.model_is_worse:
        return None
    message = (f"the model is {comparison.summary()}: it is likely out of its depth on this image. Where you have "
               "ground truth, compare with `carekit evaluate --baselines`; unless it was already used, try "
               "--rescale search (the scale estimated to restore best); mix in classical denoising where that is "
               "estimated to help (--classical-blend; classical_blend in Python and Fiji); or fine-tune the model "
               "on your data (`carekit train --from`, `carekit finetune`)")
    warnings.warn(message, WorseThanClassicalWarning, stacklevel=2)
    return message

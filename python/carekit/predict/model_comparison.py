"""Which of two models restores an image better? Estimated from the noisy image alone.

The estimate is predict.recorrupted_error's, as in the comparison with classical denoising (predict.classical_check):
on a recorrupted pair (u, t) drawn from the image's own noise model, each model alone (no classical blend) restores u
at the rescale factor restore() would use on the whole image (by default its own mode, `search` for the generalist),
and the difference of their squared errors to t after the affine fit estimates the difference of their
errors against the truth, with no ground truth. The verdict names a better model only where neither chance (the
standard error of the difference) nor the noise model's error (the variance scaled by each of MISFITS) could flip it.

What it is for: choosing between a starting model and the model fine-tuned from it, on images neither was trained
on. Fine-tuning compares them by the validation loss on patches of the training images, at those images' own scale:
that favours the fine-tuned weights where the training images are few, and does not see the generalist at the scale
its search would choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.recorrupt import variance_map
from ..errors import InputError
from ..io import Image
from ..models import load_model
from ..data.crops import middle_plane
from ..data.hot_pixel_images import KEEP
from .hot_pixels import cleaned_input
from .recorrupted_error import (COMPARING_SEED, MISFITS, block_standard_error, decided, fitted_residual,
                                recorrupted_pair, spike_weights, target_noise)
from .rescale import MODEL, refuse_unless_2d_denoising
from .plane_restore import image_factor, restored_plane


@dataclass(frozen=True)
class ModelComparison:
    """Two models' estimated mean squared errors against the truth on one image, in the input's units, each up to an
    offset nearly, not exactly, the same for both: their difference is what the estimate is for."""

    factors: tuple[float, float]  # the rescale factor each restored at (1: full size)
    errors: tuple[float, float]
    noise_variance: float  # the input's mean noise variance, as the noise model estimates it
    standard_error: float  # of errors[0] - errors[1]
    robust: bool  # the difference keeps its sign with the noise variance scaled by each of MISFITS

    @property
    def difference(self) -> float:
        """The first model's estimated error minus the second's, over the input's noise variance."""
        return (self.errors[0] - self.errors[1]) / self.noise_variance

    @property
    def better(self) -> int | None:
        """0 or 1: the model estimated to restore the image better; None where chance or the noise model's error
        could flip the answer (level)."""
        if not decided(self.errors[0] - self.errors[1], self.standard_error, self.robust):
            return None
        return 0 if self.errors[0] < self.errors[1] else 1

    def summary(self, names: tuple[str, str]) -> str:
        share = (f"the squared errors differ by {abs(self.difference):.2%} of the input's noise variance, standard "
                 f"error {self.standard_error / self.noise_variance:.2%}")
        scales = "; " + ", ".join(f"{n} at {_scale(f)}" for n, f in zip(names, self.factors))
        if self.better is None:
            why = "too little to tell" if self.robust else "with a sign the noise model decides"
            return f"level ({share}: {why}{scales})"
        return f"{names[self.better]} restores better ({share}{scales})"


def _scale(factor: float) -> str:
    return "full size" if factor == 1 else f"{factor:g}x downsampling"


def comparable_runners(first, second) -> list:
    """The two models' runners (folders, packages or runners), or an InputError unless both are carekit 2D denoising
    models."""
    runners = [model if hasattr(model, "spec") else load_model(model) for model in (first, second)]
    for which, runner in zip(("the first model", "the second model"), runners):
        refuse_unless_2d_denoising(runner, "comparing models on noisy images", which)
    return runners


def compare_models(first, second, image: np.ndarray | Image, axes: str | None = None,
                   rescale: tuple = (MODEL, MODEL), seed: int = COMPARING_SEED, hot_pixels: str = KEEP
                   ) -> ModelComparison:
    """Two 2D CARE models (folders, packages or runners), each alone (no classical blend) restoring as restore()
    would with its `rescale` (a pair: by default each model's own mode) and `hot_pixels`, compared on the middle
    plane of `image` (central crop of at most crops.ESTIMATE_SIDE^2 px)."""
    if not isinstance(rescale, tuple) or len(rescale) != 2:
        raise InputError(f"rescale must be a pair, one mode per model (e.g. ('model', 1)); got {rescale!r}")
    runners = comparable_runners(first, second)
    if isinstance(image, Image):
        image, axes = image.data, image.axes
    image = cleaned_input(image, (axes or "YX").upper(), hot_pixels)[0]  # before the rescale factors too, as restore()
    crop = middle_plane(image, axes)
    variance = variance_map(crop)  # before the models' searches: refuses an image too flat to judge
    weights = spike_weights(crop, variance)  # every mean leaves out isolated spikes (hot pixels)
    factors = tuple(image_factor(runner, mode, image, axes) for runner, mode in zip(runners, rescale))

    def squared_residuals(misfit: float) -> list[np.ndarray]:
        noisier, target = recorrupted_pair(crop, variance, seed, misfit)
        return [fitted_residual(restored_plane(runner, noisier, factor), target) ** 2
                for runner, factor in zip(runners, factors)]

    squared = squared_residuals(1.0)
    errors = tuple(float(np.average(sq, weights=weights)) - target_noise(variance, weights) for sq in squared)
    signs = {np.sign(np.average(a - b, weights=weights))
             for a, b in [squared, *(squared_residuals(misfit) for misfit in MISFITS)]}
    return ModelComparison(factors, errors, float(np.average(variance, weights=weights)),
                           block_standard_error(squared[0] - squared[1], weights=weights), len(signs) == 1)

"""The classical denoisers judged from the noisy image alone (the evaluation's baselines, carekit.classical, GAT+NLM
with the camera estimated from the image), and the choice of the best setting among them on one recorrupted pair
(predict.recorrupted_error): shared by the classical check and the classical blend."""

from __future__ import annotations

import numpy as np

from .. import classical
from ..data.noise_model import estimate_camera
from ..errors import InputError
from ..normalize import denormalize_range
from .recorrupted_error import fitted_residual, recorrupted_pair, target_noise

NORMALIZED = ("NLM strength", "TV weight")  # families whose images are in classical.NORMALIZATION's units
FAMILIES = {  # name: (its candidates for a noisy image and settings, its settings)
    "Gaussian sigma": (classical.gaussian_candidates, classical.GAUSSIAN_SIGMAS),
    "NLM strength": (classical.nlm_candidates, classical.NLM_STRENGTHS),
    "TV weight": (classical.tv_candidates, classical.TV_WEIGHTS),
    "GAT+NLM strength": (lambda noisy, values: classical.gat_nlm_candidates(noisy, **estimate_camera(noisy),
                                                                            strengths=values), classical.NLM_STRENGTHS),
}


def candidates(noisy: np.ndarray, settings: dict[str, tuple] | None = None) -> dict[str, np.ndarray]:
    """{'Gaussian sigma 1.5': image, ...}: the classical denoisers on `noisy`, at `settings` ({family: values}), or
    at every setting of every family that can run on it (GAT+NLM needs a camera gain estimated above 0)."""
    out = {}
    for name, values in (settings or {name: values for name, (_, values) in FAMILIES.items()}).items():
        try:
            images = FAMILIES[name][0](noisy, values)
        except InputError:
            if settings:
                raise
            continue
        out.update((f"{name} {value:g}", image) for value, image in zip(values, images))
    return out


def setting_of(name: str) -> dict[str, tuple]:
    """The settings ({family: (value,)}) that make the candidate `name` ('NLM strength 1.2')."""
    return {family: (value,) for family, (_, values) in FAMILIES.items() for value in values
            if name == f"{family} {value:g}"}


def denoised(noisy: np.ndarray, name: str) -> np.ndarray:
    """`noisy` (2D) restored by the classical candidate `name` ('NLM strength 1.2')."""
    return candidates(noisy, setting_of(name))[name]


def in_input_units(name: str, restored: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """The classical candidate `name`'s restoration of the 2D `noisy` in the units of `noisy` itself (NLM and TV
    restore it normalized by its classical.NORMALIZATION percentiles; the others in its own units)."""
    if name.rsplit(" ", 1)[0] not in NORMALIZED:
        return np.asarray(restored, np.float32)
    return denormalize_range(restored, *np.percentile(np.asarray(noisy, np.float32), classical.NORMALIZATION))


def classical_errors(crop: np.ndarray, variance: np.ndarray, weights: np.ndarray, seed: int) -> dict[str, float]:
    """Every classical candidate's estimated error against the truth on the recorrupted pair `seed` of a 2D `crop`
    (its noise `variance` per pixel; means weighted by `weights`, recorrupted_error.spike_weights), up to the noise
    model's error: the best one is the smallest."""
    noisier, target = recorrupted_pair(crop, variance, seed)
    constant = target_noise(variance, weights)
    return {name: float(np.average(fitted_residual(candidate, target) ** 2, weights=weights)) - constant
            for name, candidate in candidates(noisier).items()}

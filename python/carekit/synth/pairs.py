"""Semi-synthetic training pairs: a clean image becomes (degraded input, normalized ground truth)."""

from __future__ import annotations

import numpy as np

from ..config import SynthConfig
from ..errors import InputError
from . import anisotropy, noise, psf


def make_psf(config: SynthConfig, ndim: int) -> np.ndarray | None:
    if config.psf == "none":
        return None
    if config.psf == "gaussian":
        return psf.gaussian_psf(config.psf_sigma_px, ndim=2)
    return psf.widefield_psf(config.na, config.wavelength_nm, config.pixel_size_nm, config.n_immersion)


def degrade(ground_truth: np.ndarray, config: SynthConfig, photons: float,
            rng: np.random.Generator, kernel: np.ndarray | None = None) -> np.ndarray:
    """Degrade a normalized ground truth (99.9th percentile = 1) into camera counts at a `photons` peak level."""
    signal = ground_truth.astype(np.float32)
    if config.axial_subsample > 1:
        if signal.ndim != 3:
            raise InputError("axial_subsample needs 3D (Z, Y, X) images")
        signal = anisotropy.axial_degrade(signal, config.axial_subsample)
    if kernel is not None:
        signal = psf.blur(signal, kernel)
    if config.modulation > 0:
        signal = signal * noise.intensity_modulation(signal.shape, config.modulation, config.modulation_px, rng)
    expected = signal * photons + config.background_photons
    return noise.poisson_gaussian(expected, config.read_noise, config.gain, config.offset, rng)


def make_pairs(clean_images: list[np.ndarray], config: SynthConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One (low, high) pair per clean image and photon level; reproducible for a given `config.seed`."""
    if not clean_images:
        raise InputError("no clean images given to make semi-synthetic pairs from")
    rng = np.random.default_rng(config.seed)
    lows, highs = [], []
    for image in clean_images:
        ground_truth = noise.normalize_ground_truth(image)
        kernel = make_psf(config, ground_truth.ndim)
        for photons in config.photons:
            lows.append(degrade(ground_truth, config, photons, rng, kernel))
            highs.append(ground_truth)
    return lows, highs

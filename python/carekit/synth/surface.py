"""Curved-surface stacks for joint projection + denoising: a clean 2D image embedded on a smooth random surface
z = f(y, x) inside a 3D volume, seen through an axial PSF with out-of-focus background and camera noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .noise import normalize_ground_truth, poisson_gaussian


@dataclass(frozen=True)
class SurfaceSettings:
    """How a 2D image becomes a noisy stack. Lengths are in pixels (planes for the axial ones)."""

    n_planes: int = 16
    amplitude: float = 0.3  # surface height range as a fraction of the stack depth
    correlation_px: float = 24.0  # lateral smoothness of the surface
    sigma_z: float = 1.0  # axial PSF (Gaussian) sigma
    sigma_xy: float = 1.0  # lateral PSF sigma in focus
    defocus_blur: float = 1.5  # extra lateral blur per plane away from focus
    background: float = 0.3  # out-of-focus haze relative to the signal
    background_photons: float = 1.0
    read_noise: float = 2.0
    gain: float = 1.0
    offset: float = 100.0


def random_surface(shape: tuple[int, int], n_planes: int, amplitude: float, correlation_px: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Heights in planes (float) of a smooth random surface centred in the stack, within [1, n_planes - 2]."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), correlation_px, mode="reflect")
    field -= field.mean()
    peak = np.abs(field).max()
    field = field / peak if peak > 0 else field
    centre = (n_planes - 1) / 2 + rng.uniform(-0.15, 0.15) * n_planes
    return np.clip(centre + field * amplitude * n_planes / 2, 1, n_planes - 2)


def embed(image: np.ndarray, surface: np.ndarray, settings: SurfaceSettings) -> np.ndarray:
    """The noise-free stack (Z, Y, X) of `image` (>= 0) on `surface`: per plane the image weighted by the axial PSF
    at its distance from focus, blurred laterally more the further out of focus, plus a wide haze."""
    haze = ndimage.gaussian_filter(image, 8 * settings.sigma_xy)
    planes = []
    for z in range(settings.n_planes):
        distance = z - surface
        axial = np.exp(-0.5 * (distance / settings.sigma_z) ** 2)
        # out-of-focus light: spreads laterally with defocus and decays slowly along Z
        spread = np.exp(-0.5 * (distance / (4 * settings.sigma_z)) ** 2)
        sigma = settings.sigma_xy + settings.defocus_blur * min(np.abs(distance).mean(), 4.0)
        planes.append(ndimage.gaussian_filter(image * axial, settings.sigma_xy)
                      + settings.background * ndimage.gaussian_filter(haze * spread, sigma))
    return np.stack(planes).astype(np.float32)


def surface_pair(clean: np.ndarray, photons: float, settings: SurfaceSettings = SurfaceSettings(),
                 rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(noisy stack (Z, Y, X) in camera counts, clean 2D target) for one clean 2D image at `photons` peak photons
    (the target's 99.9th percentile)."""
    clean = np.asarray(clean, dtype=np.float32)
    if clean.ndim != 2:
        raise InputError(f"surface stacks are made from 2D images, got shape {clean.shape}")
    if photons <= 0:
        raise InputError(f"photons must be positive, got {photons}")
    if settings.n_planes < 4:
        raise InputError(f"a surface stack needs at least 4 planes, got {settings.n_planes}")
    rng = np.random.default_rng(rng)
    target = normalize_ground_truth(clean)
    surface = random_surface(target.shape, settings.n_planes, settings.amplitude, settings.correlation_px, rng)
    expected = photons * embed(target, surface, settings) + settings.background_photons
    noisy = poisson_gaussian(expected, settings.read_noise, settings.gain, settings.offset, rng)
    return noisy, target


def surface_pairs(cleans: list[np.ndarray], photons: list[float], settings: SurfaceSettings = SurfaceSettings(),
                  seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One stack per clean image and photon level, each on its own random surface."""
    rng = np.random.default_rng(seed)
    stacks, targets = [], []
    for level in photons:
        for clean in cleans:
            stack, target = surface_pair(clean, level, settings, rng)
            stacks.append(stack)
            targets.append(target)
    return stacks, targets

"""Point spread functions, normalized to unit sum so that blurring preserves the photon budget."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..errors import InputError


def gaussian_psf(sigma: float | tuple[float, ...], ndim: int = 2, size: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Gaussian PSF with standard deviation `sigma` in pixels (one value, or one per axis)."""
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=float), (ndim,))
    if np.any(sigmas <= 0):
        raise InputError(f"PSF sigma must be positive, got {sigma}")
    sizes = np.broadcast_to(size, (ndim,)) if size is not None else [2 * int(np.ceil(4 * s)) + 1 for s in sigmas]
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in sizes], indexing="ij")
    psf = np.exp(-sum(g**2 / (2 * s**2) for g, s in zip(grids, sigmas)))
    return (psf / psf.sum()).astype(np.float32)


def widefield_psf(na: float, wavelength_nm: float, pixel_size_nm: float, n_immersion: float = 1.518,
                  z_planes: int = 1, z_step_nm: float | None = None, size: int | None = None) -> np.ndarray:
    """Scalar widefield PSF (Born & Wolf paraxial model) from the optics.

    In focus it is the Airy pattern [2 J1(v)/v]^2 with v = 2 pi NA r / lambda, lateral FWHM ~0.51 lambda/NA.
    `z_planes` > 1 gives a 3D PSF (Z, Y, X) sampled every `z_step_nm` around focus.
    """
    if not 0 < na < n_immersion:
        raise InputError(f"numerical aperture must be between 0 and the immersion index {n_immersion}, got {na}")
    if wavelength_nm <= 0 or pixel_size_nm <= 0:
        raise InputError("wavelength and pixel size must be positive (in nm)")
    airy_radius_px = 0.61 * wavelength_nm / na / pixel_size_nm
    if size is None:
        size = max(3, 2 * int(np.ceil(3 * airy_radius_px)) + 1)
    r = np.hypot(*np.meshgrid(*(2 * [np.arange(size) - (size - 1) / 2]), indexing="ij")) * pixel_size_nm
    k = 2 * np.pi / wavelength_nm
    z_step_nm = z_step_nm or pixel_size_nm
    zs = (np.arange(z_planes) - (z_planes - 1) / 2) * z_step_nm
    rho, weights = np.polynomial.legendre.leggauss(128)
    rho, weights = (rho + 1) / 2, weights / 2
    v = k * na * r[..., None] * rho
    psf = np.empty((z_planes, size, size))
    for i, z in enumerate(zs):
        u = k * na**2 * z / n_immersion
        integrand = special.j0(v) * np.exp(-0.5j * u * rho**2) * rho
        psf[i] = np.abs(2 * (integrand * weights).sum(-1)) ** 2
    psf = psf if z_planes > 1 else psf[0]
    return (psf / psf.sum()).astype(np.float32)


def fwhm(profile: np.ndarray) -> float:
    """Full width at half maximum (pixels) of a 1D peak, by linear interpolation."""
    profile = np.asarray(profile, dtype=float)
    peak = int(np.argmax(profile))
    half = profile[peak] / 2
    left = np.where(profile[:peak] < half)[0][-1]
    right = peak + np.where(profile[peak:] < half)[0][0]
    x_left = left + (half - profile[left]) / (profile[left + 1] - profile[left])
    x_right = right - 1 + (half - profile[right - 1]) / (profile[right] - profile[right - 1])
    return float(x_right - x_left)


def blur(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
    """Convolve with a PSF (FFT, reflective borders); a 2D PSF on a 3D stack blurs each plane."""
    from scipy.signal import fftconvolve

    image = np.asarray(image, dtype=np.float32)
    if psf.ndim > image.ndim:
        raise InputError(f"a {psf.ndim}D PSF cannot blur a {image.ndim}D image")
    kernel = psf.reshape((1,) * (image.ndim - psf.ndim) + psf.shape)
    pad = [(n // 2, n // 2) for n in kernel.shape]
    padded = np.pad(image, pad, mode="reflect")
    return np.clip(fftconvolve(padded, kernel, mode="valid"), 0, None).astype(np.float32)

"""Lateral-plane degradation for isotropic CARE training (CSBDeep's anisotropic_distortions): make an XY plane look
like an XZ plane by blurring it with the axial PSF rotated into the plane, adding noise, subsampling one lateral axis
by the Z/XY pixel-size ratio and interpolating back (pure numpy/scipy)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .psf import blur, gaussian_psf, widefield_psf

DEGRADED_AXIS = 0  # the plane axis that plays Z: rows (Y of an XY plane; Z of a ZX / ZY plane at prediction)

FACTOR_TOLERANCE = 0.1  # relative: a stack whose Z/XY ratio differs more from the model's is refused


def z_factor_from_pixel_size(pixel_size: dict, source: str = "the stack") -> float:
    """The Z/XY pixel-size ratio, or an InputError when the metadata does not give both sizes."""
    if not pixel_size.get("Z") or not pixel_size.get("X"):
        raise InputError(f"{source} does not record its Z and X pixel sizes, so the Z/XY factor is unknown; give it "
                         "with --z-factor (z_factor= in Python), e.g. --z-factor 4")
    return float(pixel_size["Z"]) / float(pixel_size["X"])


def axial_psf_gaussian(sigma_z_px: float, sigma_xy_px: float = 0.5) -> np.ndarray:
    """2D Gaussian PSF of an XZ section (Z on axis 0) in lateral pixels: sigma_z along axis 0, sigma_xy along 1."""
    return gaussian_psf((sigma_z_px, sigma_xy_px), ndim=2)


def axial_psf_widefield(na: float, wavelength_nm: float, pixel_size_nm: float, n_immersion: float = 1.518,
                        size: int | None = None) -> np.ndarray:
    """The XZ section (Z on axis 0) of the widefield PSF, sampled isotropically at the lateral pixel size."""
    lateral = widefield_psf(na, wavelength_nm, pixel_size_nm, n_immersion, size=size)
    n = lateral.shape[0]
    z_planes = max(n, 2 * int(np.ceil(2 * wavelength_nm * n_immersion / na**2 / pixel_size_nm)) + 1)
    psf3d = widefield_psf(na, wavelength_nm, pixel_size_nm, n_immersion, z_planes=z_planes, z_step_nm=pixel_size_nm,
                          size=n)
    section = psf3d[:, n // 2, :].astype(np.float64)
    return (section / section.sum()).astype(np.float32)


def measured_psf_section(psf: np.ndarray) -> np.ndarray:
    """A measured PSF as an XZ section (Z on axis 0): a (Z, Y, X) PSF gives its central XZ slice, a 2D one is used
    as it is (already Z on axis 0)."""
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim == 3:
        psf = psf[:, psf.shape[1] // 2, :]
    if psf.ndim != 2 or not np.isfinite(psf).all() or psf.min() < 0 or psf.sum() <= 0:
        raise InputError(f"a measured PSF must be a non-negative 2D (Z, X) or 3D (Z, Y, X) array, got shape {psf.shape}")
    return (psf / psf.sum()).astype(np.float32)


def subsample_and_back(plane: np.ndarray, factor: float, axis: int = DEGRADED_AXIS) -> np.ndarray:
    """Keep every `factor`-th row along `axis` (nearest sampling, any factor > 1 including non-integers such as
    10.2) and interpolate back linearly to the original size: what an axial step `factor` times the lateral pixel
    size records, seen at lateral sampling."""
    plane = np.asarray(plane, dtype=np.float32)
    n = plane.shape[axis]
    if factor <= 1:
        raise InputError(f"the Z/XY factor must be greater than 1, got {factor}")
    if n < 2 * factor:
        raise InputError(f"a plane of {n} px along the degraded axis is too small for the factor {factor}; it needs "
                         f"at least {int(np.ceil(2 * factor))} px")
    kept = np.round(np.arange(0, n - 1e-9, factor)).astype(int)
    kept = kept[kept < n]
    rows = np.take(plane, kept, axis=axis)
    return zoom_axis(rows, kept, n, axis)


def zoom_axis(rows: np.ndarray, positions: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Linear interpolation of `rows` sampled at `positions` along `axis` onto 0..n-1 (held constant beyond the
    first and last sample)."""
    target = np.clip(np.arange(n, dtype=np.float64), positions[0], positions[-1])
    index = np.interp(target, positions, np.arange(len(positions)))
    lower = np.floor(index).astype(int)
    upper = np.minimum(lower + 1, len(positions) - 1)
    shape = [1] * rows.ndim
    shape[axis] = n
    frac = (index - lower).reshape(shape).astype(np.float32)
    return ((1 - frac) * np.take(rows, lower, axis=axis) + frac * np.take(rows, upper, axis=axis)).astype(np.float32)


def degrade_plane(plane: np.ndarray, factor: float, psf: np.ndarray | None = None, photons: float | None = None,
                  read_noise: float = 0.0, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """CSBDeep's order: convolve with `psf` (an XZ section, Z on axis 0, sum-normalised), Poisson noise at `photons`
    (peak of the plane's 99.9th percentile; None: no shot noise), Gaussian read noise (same units), subsample axis 0
    by `factor` and interpolate back."""
    plane = np.asarray(plane, dtype=np.float32)
    if plane.ndim != 2:
        raise InputError(f"lateral degradation needs a 2D plane, got shape {plane.shape}")
    out = blur(plane, psf) if psf is not None else plane
    rng = np.random.default_rng(rng)
    if photons is not None or read_noise > 0:
        peak = max(float(np.percentile(out, 99.9)), 1e-6)
        counts = out / peak * (photons or 1.0)
        if photons is not None:
            counts = rng.poisson(np.clip(counts, 0, None)).astype(np.float32)
        counts = counts + rng.normal(0, read_noise, counts.shape) if read_noise > 0 else counts
        out = (counts * peak / (photons or 1.0)).astype(np.float32)
    return subsample_and_back(out, factor)


def training_planes(stack: np.ndarray, factor: float, psf: np.ndarray | None = None, photons: float | None = None,
                    read_noise: float = 0.0, max_planes: int | None = None,
                    seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(degraded, original) lateral planes of a (Z, Y, X) stack, each plane used twice: as it is and transposed,
    so that both lateral axes serve as the degraded one (the sample has no preferred lateral direction)."""
    stack = np.asarray(stack, dtype=np.float32)
    if stack.ndim != 3:
        raise InputError(f"isotropic training needs a (Z, Y, X) stack, got shape {stack.shape}")
    index = np.arange(stack.shape[0])
    if max_planes is not None and max_planes < len(index):
        index = np.linspace(0, stack.shape[0] - 1, max_planes).round().astype(int)
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for z in index:
        for plane in (stack[z], stack[z].T):
            sources.append(degrade_plane(plane, factor, psf, photons, read_noise, rng))
            targets.append(np.ascontiguousarray(plane))
    return sources, targets


def zoom_z(volume: np.ndarray, factor: float) -> np.ndarray:
    """Linear interpolation of a (Z, ...) array onto round(Z * factor) planes spaced 1/factor apart (plane i of the
    input lands on plane i * factor), as CSBDeep's prediction zooms Z before the network."""
    volume = np.asarray(volume, dtype=np.float32)
    n_out = int(round(volume.shape[0] * factor))
    positions = np.arange(volume.shape[0]) * factor
    return zoom_axis(volume, positions, n_out, 0) if volume.shape[0] > 1 else np.repeat(volume, n_out, 0)



def axial_planes(stack: np.ndarray, factor: float, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(xz, yz): `n` evenly spaced XZ planes (n, Z', X) and YZ planes (n, Z', Y) of a (Z, Y, X) stack zoomed along Z
    by `factor` (Z on each plane's axis 0): the planes the network of an isotropic model sees."""
    ys = np.unique(np.linspace(0, stack.shape[1] - 1, n).round().astype(int))
    xs = np.unique(np.linspace(0, stack.shape[2] - 1, n).round().astype(int))
    xz = zoom_z(np.asarray(stack[:, ys, :], np.float32), factor)
    yz = zoom_z(np.asarray(stack[:, :, xs], np.float32), factor)
    return np.moveaxis(xz, 1, 0), np.moveaxis(yz, 2, 0)

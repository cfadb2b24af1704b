"""Fully synthetic ground truth: tubular meshes (microtubule-like) and granules (vesicle-like), 2D or 3D."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError


def _check_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 8:
        raise InputError(f"synthetic structures need a 2D or 3D shape with at least 8 pixels per axis, got {shape}")
    return shape


def tubules(shape: tuple[int, ...], n_tubes: int = 20, width_px: float = 1.0, persistence: float = 0.9,
            rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Smooth random curves (persistent random walks) crossing the field, blurred to `width_px`; max normalized to 1."""
    shape = _check_shape(shape)
    rng = np.random.default_rng(rng)
    canvas = np.zeros(shape, np.float32)
    upper = np.array(shape) - 1
    n_steps = int(4 * max(shape))
    for _ in range(n_tubes):
        position = rng.uniform(0, upper)
        direction = rng.standard_normal(len(shape))
        direction /= np.linalg.norm(direction)
        brightness = rng.uniform(0.5, 1.0)
        for _ in range(n_steps):
            turn = rng.standard_normal(len(shape))
            direction = persistence * direction + (1 - persistence) * turn
            direction /= np.linalg.norm(direction)
            position = position + 0.5 * direction
            if np.any(position < 0) or np.any(position > upper):
                break
            canvas[tuple(np.round(position).astype(int))] = brightness
    canvas = ndimage.gaussian_filter(canvas, width_px)
    return (canvas / max(canvas.max(), 1e-12)).astype(np.float32)


def granules(shape: tuple[int, ...], n_granules: int = 60, radius_px: tuple[float, float] = (1.5, 4.0),
             rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Randomly placed bright blobs of random radius and brightness; max normalized to 1."""
    shape = _check_shape(shape)
    rng = np.random.default_rng(rng)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    canvas = np.zeros(shape, np.float32)
    for _ in range(n_granules):
        center = rng.uniform(0, np.array(shape) - 1)
        radius = rng.uniform(*radius_px)
        dist2 = sum((g - c) ** 2 for g, c in zip(grids, center))
        canvas += rng.uniform(0.3, 1.0) * np.exp(-dist2 / (2 * radius**2)).astype(np.float32)
    return (canvas / max(canvas.max(), 1e-12)).astype(np.float32)


STRUCTURES = {"tubules": tubules, "granules": granules}
STRUCTURE_KINDS = (*sorted(STRUCTURES), "mixed")


def synthetic_ground_truth(kind: str, shape: tuple[int, ...], n_images: int, seed: int = 0) -> list[np.ndarray]:
    """`n_images` ground-truth images of one structure kind ('tubules', 'granules' or 'mixed')."""
    if kind not in STRUCTURE_KINDS:
        raise InputError(f"unknown structure {kind!r}; choose one of {STRUCTURE_KINDS}")
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n_images):
        name = kind if kind != "mixed" else sorted(STRUCTURES)[i % len(STRUCTURES)]
        images.append(STRUCTURES[name](shape, rng=rng))
    return images

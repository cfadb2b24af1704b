"""The sample input a model folder keeps from its training data: packaging makes the test tensors and the cover
from it, without reading or regenerating the training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import Image, write_image

SAMPLE_INPUT_FILE = "sample_input.tif"
# larger than the package's test tensors (256² / 48x128²), whose central crop is therefore the same as from the
# full image
SAMPLE_SHAPE = {2: (512, 512), 3: (64, 256, 256)}


def save_sample_input(model_dir: str | Path, image, axes: str, pixel_size: dict | None = None) -> Path:
    """Write a central crop (at most SAMPLE_SHAPE) of a training input to model_dir/sample_input.tif."""
    image = np.asarray(image)
    size = [min(n, s) for n, s in zip(image.shape, SAMPLE_SHAPE.get(image.ndim, image.shape))]
    start = [(n - s) // 2 for n, s in zip(image.shape, size)]
    crop = image[tuple(slice(a, a + s) for a, s in zip(start, size))]
    return write_image(Path(model_dir) / SAMPLE_INPUT_FILE, Image(crop, axes, pixel_size or {}))

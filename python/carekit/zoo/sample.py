"""The package's sample image (the one given, else the one training kept) and the test input cut from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import PROJECTION_MIN_PLANES, ModelRecord
from ..data.patches import real_array
from ..errors import InputError
from ..io import check_image, list_tiffs, read_image
from ..train.sample import SAMPLE_INPUT_FILE

TEST_SIZE = {2: (256, 256), 3: (48, 128, 128)}


def sample_image(record: ModelRecord, model_dir: Path, sample: str | Path | np.ndarray | None) -> np.ndarray:
    """The given sample, else the training input the model folder keeps; folders trained before carekit kept one
    fall back to the first low image of their training pairs."""
    if isinstance(sample, np.ndarray):
        return sample
    if sample is not None:
        return read_image(sample).data
    if (model_dir / SAMPLE_INPUT_FILE).exists():
        return read_image(model_dir / SAMPLE_INPUT_FILE).data
    if record.data.get("source") == "pairs":
        return read_image(list_tiffs(record.data["low"])[0]).data
    raise InputError(f"{model_dir} keeps no {SAMPLE_INPUT_FILE} (it was trained with an older carekit); give a "
                     "sample image like the training inputs (--sample image.tif)")


def checked_sample(sample) -> np.ndarray:
    """The sample as an array the test tensors can come from: real-valued and finite (NaN pixels would give an
    all-NaN test output that test_model passes)."""
    sample = real_array(sample, "sample image")
    problems = check_image(sample, "sample image")
    if problems:
        raise InputError("; ".join(problems) + " (give another --sample)")
    return sample


def central_test_crop(image: np.ndarray, ndim: int, step: int, min_size: int) -> np.ndarray:
    """A central crop of the sample for the test tensors; axes shorter than the network's minimum size (e.g. a
    stack of few planes) are mirror-padded to it."""
    if image.ndim != ndim:
        raise InputError(f"the sample image must be {ndim}D like the model, got shape {image.shape}")
    if min(image.shape) < 2:
        raise InputError(f"the sample image {image.shape} needs at least 2 pixels along every axis")
    short = [max(0, min_size - n) for n in image.shape]
    image = np.pad(image, [(pad // 2, pad - pad // 2) for pad in short], mode="symmetric")
    size = [(min(n, max(wanted, min_size)) // step) * step for n, wanted in zip(image.shape, TEST_SIZE[ndim])]
    start = [(n - s) // 2 for n, s in zip(image.shape, size)]
    return np.ascontiguousarray(image[tuple(slice(a, a + s) for a, s in zip(start, size))], dtype=np.float32)


def central_projection_crop(stack: np.ndarray, step: int, min_size: int) -> np.ndarray:
    """The test input of a projection model: the same central lateral crop of every plane of a stack (Z, Y, X),
    at most TEST_SIZE[3][0] central planes (the network takes any number from PROJECTION_MIN_PLANES)."""
    if stack.ndim != 3:
        raise InputError(f"the sample image of a projection model must be a stack (Z, Y, X), got shape {stack.shape}")
    if stack.shape[0] < PROJECTION_MIN_PLANES:
        raise InputError(f"the sample stack has {stack.shape[0]} planes; a projection model needs at least "
                         f"{PROJECTION_MIN_PLANES}")
    start = max(0, (stack.shape[0] - TEST_SIZE[3][0]) // 2)
    return np.stack([central_test_crop(plane, 2, step, min_size) for plane in stack[start:start + TEST_SIZE[3][0]]])

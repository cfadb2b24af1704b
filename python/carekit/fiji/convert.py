"""numpy <-> ImagePlus through JPype's buffer copies (hundreds of MB/s to GB/s, never element by element)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .contract import IMAGEJ_AXES, squeezed_layout


def to_imageplus(array: np.ndarray, axes: str, title: str = "image", pixel_size: dict | None = None):
    """A 32-bit ImagePlus (hyperstack when it has T, Z or C) from an array with axes from 'TZCYX'."""
    from jpype import JArray, JFloat
    from scyjava import jimport

    ImagePlus, ImageStack = jimport("ij.ImagePlus"), jimport("ij.ImageStack")
    FloatProcessor = jimport("ij.process.FloatProcessor")
    axes = axes.upper()
    if len(axes) != array.ndim or set(axes) - set(IMAGEJ_AXES) or "Y" not in axes or "X" not in axes:
        raise InputError(f"axes {axes!r} do not describe an image of shape {array.shape} (letters from TZCYX)")
    full = np.asarray(array, dtype=np.float32)
    for axis in IMAGEJ_AXES:
        if axis not in axes:
            full = full[..., None]
            axes += axis
    full = np.ascontiguousarray(np.transpose(full, [axes.index(a) for a in IMAGEJ_AXES]))
    frames, slices, channels, height, width = full.shape
    stack = ImageStack(width, height)
    for plane in full.reshape(-1, height * width):
        stack.addSlice(FloatProcessor(width, height, JArray(JFloat)(plane)))
    imp = ImagePlus(title, stack)
    imp.setDimensions(channels, slices, frames)
    if pixel_size:
        calibration = imp.getCalibration()
        calibration.pixelWidth = float(pixel_size.get("X", 1.0))
        calibration.pixelHeight = float(pixel_size.get("Y", pixel_size.get("X", 1.0)))
        calibration.pixelDepth = float(pixel_size.get("Z", 1.0))
        calibration.setUnit("micron")
    return imp


def channel_names(imp) -> list[str]:
    """Slice labels of the first plane of each channel (e.g. ['mean', 'scale']), or [] when unlabeled."""
    channels = int(imp.getNChannels())
    stack = imp.getStack()
    labels = [stack.getSliceLabel(c + 1) for c in range(channels)]
    return [str(label) for label in labels] if channels > 1 and all(labels) else []


def from_imageplus(imp) -> tuple[np.ndarray, str, dict]:
    """(array, axes, pixel size) of an ImagePlus; singleton T/Z/C axes are dropped."""
    width, height, channels, slices, frames = [int(d) for d in imp.getDimensions()]
    stack = imp.getStack()
    data = np.empty((stack.getSize(), height, width), np.float32)
    for index in range(stack.getSize()):
        processor = stack.getProcessor(index + 1)
        if processor.getBitDepth() != 32:
            processor = processor.convertToFloatProcessor()
        data[index] = np.asarray(memoryview(processor.getPixels()), dtype=np.float32).reshape(height, width)
    data = data.reshape(frames, slices, channels, height, width)
    shape, axes = squeezed_layout(frames, slices, channels, height, width)
    data = data.reshape(shape)
    calibration = imp.getCalibration()
    pixel_size = {"X": float(calibration.pixelWidth), "Y": float(calibration.pixelHeight)}
    if slices > 1:
        pixel_size["Z"] = float(calibration.pixelDepth)
    return data, axes, pixel_size

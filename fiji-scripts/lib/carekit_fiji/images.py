"""ImagePlus <-> flat float32 buffers in (T, Z, C, Y, X) order, the layout of ImageJ stacks."""

from ij import CompositeImage, ImagePlus, ImageStack
from ij.process import FloatProcessor

from . import contract


def layout(imp):
    """(shape, axes) of an ImagePlus without singleton axes, e.g. ([5, 256, 256], 'TYX')."""
    dims = imp.getDimensions()  # width, height, channels, slices, frames
    width, height, channels, slices, frames = [int(d) for d in dims]
    return contract.squeezed_layout(frames, slices, channels, height, width)


def write_planes(imp, float_buffer):
    """Copy every plane, converted to 32-bit, into a java.nio.FloatBuffer in stack order."""
    stack = imp.getStack()
    for index in range(1, stack.getSize() + 1):
        processor = stack.getProcessor(index).convertToFloatProcessor()
        float_buffer.put(processor.getPixels())


def read_image(float_buffer, shape, axes, title, calibration=None, channel_names=None):
    """An ImagePlus (hyperstack when needed) from a FloatBuffer holding an array of `shape`/`axes`;
    `channel_names` label the planes of each channel (e.g. mean, scale)."""
    from jarray import zeros

    height, width = shape[-2], shape[-1]
    channels, slices, frames = contract.hyperstack_dims(shape, axes)
    stack = ImageStack(width, height)
    plane = width * height
    names = list(channel_names or [])
    for index in range(channels * slices * frames):
        pixels = zeros(plane, "f")
        float_buffer.get(pixels)
        label = names[index % channels] if len(names) == channels else None
        stack.addSlice(label, FloatProcessor(width, height, pixels, None))
    imp = ImagePlus(title, stack)
    imp.setDimensions(channels, slices, frames)
    if channels > 1:
        imp = CompositeImage(imp, CompositeImage.GRAYSCALE)
        imp.setOpenAsHyperStack(True)
    if calibration is not None:
        imp.setCalibration(calibration.copy())
    for c in range(1, channels + 1):
        imp.setC(c)
        imp.resetDisplayRange()
    return imp

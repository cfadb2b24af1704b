"""Small stand-ins for the ImageJ 1.x and Java API that the CARE Restore plugin's Jython helpers call, so that
their logic runs under CPython (tests/unit/test_fiji_helpers.py). Only what the helpers use is modelled."""

import os
import types
from urllib.parse import unquote, urlsplit

import numpy as np


class JavaException(Exception):
    pass


class URISyntaxException(JavaException):
    pass


class IllegalArgumentException(JavaException):
    pass


class URI:  # java.net.URI: no unescaped spaces, brackets or quotes
    def __init__(self, text):
        if any(char in text for char in " []'\""):
            raise URISyntaxException("Illegal character in path: " + text)
        self.parts = urlsplit(text)


class File:  # java.io.File(URI)
    def __init__(self, uri):
        if uri.parts.scheme != "file" or not uri.parts.path.startswith("/"):
            raise IllegalArgumentException("URI is not hierarchical")
        self.path = unquote(uri.parts.path)

    def getPath(self):
        return self.path


class FloatBuffer:  # java.nio.FloatBuffer: relative bulk get and put
    def __init__(self, values=()):
        self.values, self.position = list(np.asarray(values, np.float32).ravel()), 0

    def get(self, array):
        array[:] = self.values[self.position:self.position + len(array)]
        self.position += len(array)

    def put(self, array):
        self.values.extend(array)


class FloatProcessor:
    def __init__(self, width, height, pixels, color_model=None):
        self.pixels = pixels

    def getPixels(self):
        return self.pixels

    def getBitDepth(self):
        return 32

    def convertToFloatProcessor(self):
        return self


class ImageStack:
    def __init__(self, width, height):
        self.width, self.height, self.slices = width, height, []

    def addSlice(self, label, processor):
        self.slices.append((label, processor))

    def getSize(self):
        return len(self.slices)

    def getProcessor(self, n):
        return self.slices[n - 1][1]

    def getSliceLabel(self, n):
        return self.slices[n - 1][0]


class Calibration:
    def __init__(self, pixel_width=1.0):
        self.pixelWidth = self.pixelHeight = self.pixelDepth = pixel_width

    def copy(self):
        return Calibration(self.pixelWidth)


class ImagePlus:
    def __init__(self, title, stack):
        self.title, self.stack, self.dims, self.calibration = title, stack, (1, stack.getSize(), 1), Calibration()

    def setDimensions(self, channels, slices, frames):
        assert channels * slices * frames == self.stack.getSize()
        self.dims = (channels, slices, frames)

    def getDimensions(self):
        return [self.stack.width, self.stack.height] + list(self.dims)

    def getNChannels(self):
        return self.dims[0]

    def getStack(self):
        return self.stack

    def setCalibration(self, calibration):
        self.calibration = calibration

    def getCalibration(self):
        return self.calibration

    def setOpenAsHyperStack(self, flag):
        pass

    def setC(self, channel):
        pass

    def resetDisplayRange(self):
        pass


class CompositeImage(ImagePlus):
    GRAYSCALE = 3

    def __init__(self, imp, mode):
        self.__dict__.update(imp.__dict__)


class IJ:
    directories, logged = {}, []

    getDirectory = staticmethod(lambda name: IJ.directories.get(name))
    log = staticmethod(lambda message: IJ.logged.append(message))
    isMacro = staticmethod(lambda: True)


class System:
    getenv = staticmethod(os.environ.get)
    getProperty = staticmethod(lambda name: None)


def _module(name, **members):
    """A stand-in module; any other name it is asked for is a bare class (Java classes no test here calls)."""
    module = types.ModuleType(name)
    module.__dict__.update(members)

    def other(attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return type(attr, (JavaException,), {})

    module.__getattr__ = other
    return module


STAND_INS = {
    "ij": _module("ij", IJ=IJ, ImagePlus=ImagePlus, ImageStack=ImageStack, CompositeImage=CompositeImage,
                  WindowManager=_module("WindowManager", getCurrentImage=lambda: None)),
    "ij.process": _module("ij.process", FloatProcessor=FloatProcessor),
    "jarray": _module("jarray", zeros=lambda size, kind: np.zeros(size, np.float32)),
    "java": _module("java"),
    "java.awt": _module("java.awt", GraphicsEnvironment=_module("GraphicsEnvironment", isHeadless=lambda: True)),
    "java.io": _module("java.io", File=File),
    "java.lang": _module("java.lang", System=System, IllegalArgumentException=IllegalArgumentException),
    "java.net": _module("java.net", URI=URI, URISyntaxException=URISyntaxException),
    "java.nio": _module("java.nio"),
    "java.nio.channels": _module("java.nio.channels"),
    "java.nio.file": _module("java.nio.file"),  # used only when saving, which these tests leave to real ImageJ
    "java.util": _module("java.util"),
}

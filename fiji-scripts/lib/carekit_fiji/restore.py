"""The one call behind CARE Restore: options in, restored ImagePlus out (shown, saved, made current)."""

import os

from ij import IJ, Macro, WindowManager

from . import contract, engines
from . import options as plugin_options
from .appose_client import WorkerError


def input_image(path):
    if path:
        if not os.path.exists(path):
            raise plugin_options.OptionError("input image not found: %s" % path)
        imp = IJ.openImage(path)
        if imp is None:
            raise plugin_options.OptionError("ImageJ cannot open %s as an image" % path)
        return imp
    imp = WindowManager.getCurrentImage()
    if imp is None:
        raise plugin_options.OptionError("no image is open: open one, or pass input=[/path/to/image.tif]")
    return imp


def run(values):
    """Restore the input with the model; returns the result ImagePlus (also the current image)."""
    opts = plugin_options.normalize(values)
    if not os.path.exists(opts["model"]):
        raise plugin_options.OptionError("model package not found: %s" % opts["model"])
    imp = input_image(opts["input"])
    IJ.showStatus("CARE: restoring %s ..." % imp.getTitle())
    result = engines.ENGINES[opts["engine"]](imp, opts)
    if opts["output"]:
        folder = os.path.dirname(opts["output"])
        if folder and not os.path.isdir(folder):
            os.makedirs(folder)
        IJ.saveAsTiff(result, opts["output"])
    WindowManager.setTempCurrentImage(result)
    if not java_headless():
        result.show()
    IJ.showStatus("CARE: done")
    return result


def java_headless():
    from java.awt import GraphicsEnvironment
    return GraphicsEnvironment.isHeadless()


def report(error):
    """Show a failure where the user looks (Log window, dialog when there is a screen) and stop the macro."""
    message = "CARE Restore: %s" % error
    IJ.log(message)
    if not java_headless() and not IJ.isMacro():
        IJ.error("CARE Restore", str(error))
    return "%s %s" % (contract.ERROR_PREFIX, error)


KNOWN_ERRORS = (plugin_options.OptionError, engines.EngineError, WorkerError)

"""The one call behind CARE Restore: options in, restored ImagePlus out (shown, saved, made current)."""

import os

from ij import IJ, Macro, WindowManager
from java.io import IOException
from java.nio.file import Files, Paths, StandardCopyOption
from java.util import UUID

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
    output = output_path(opts["output"], opts["input"] or source_file(imp))
    IJ.showStatus("CARE: restoring %s ..." % imp.getTitle())
    result = engines.ENGINES[opts["engine"]](imp, opts)
    if output:
        save_tiff(result, output)
    WindowManager.setTempCurrentImage(result)
    if not java_headless():
        result.show()
    IJ.showStatus("CARE: done")
    return result


def source_file(imp):
    info = imp.getOriginalFileInfo()
    if info is None or not info.fileName or not info.directory:
        return ""
    return os.path.join(info.directory, info.fileName)


def tiff_name(path):
    """The name IJ.saveAsTiff writes to (as its updateExtension): a short extension is replaced by .tif, unless it
    starts with a digit; anything else gets .tif appended."""
    if path.endswith(".tiff"):
        return path
    dot = path.rfind(".")
    if dot > path.rfind(os.sep) and len(path) - dot <= 5 and not path[dot + 1:dot + 2].isdigit():
        return path[:dot] + ".tif"
    return path + ".tif"


def output_path(output, source):
    """The file the result will be saved to (ImageJ saves TIFFs as .tif unless they end in .tiff), checked before
    any work: never the input itself, never through a symbolic link; its folder is created."""
    if not output:
        return ""
    output = tiff_name(output)
    target = Paths.get(output).toAbsolutePath()
    if Files.isSymbolicLink(target):
        raise plugin_options.OptionError("output %s is a symbolic link; CARE Restore does not write through links: "
                                         "remove it or choose another output" % output)
    source = Paths.get(source) if source else None
    if source is not None and Files.exists(target) and Files.exists(source) and Files.isSameFile(target, source):
        raise plugin_options.OptionError("output %s is the input image; CARE Restore never overwrites its input: "
                                         "choose another output file" % output)
    if Files.isDirectory(target):
        raise plugin_options.OptionError("output %s is a folder; give a file name for the result" % output)
    folder = os.path.dirname(str(target))
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
    except OSError as error:
        raise plugin_options.OptionError("cannot create the output folder %s (%s)" % (folder, error))
    return str(target)


def save_tiff(imp, path):
    """Save as TIFF under `path` complete or not at all: written beside it, then moved over it in one step."""
    folder, name = os.path.split(path)
    temp = os.path.join(folder, ".%s.%s.partial.tif" % (name, str(UUID.randomUUID())[:8]))
    try:
        if not IJ.saveAsTiff(imp, temp):
            raise plugin_options.OptionError("ImageJ could not save the result as %s" % path)
        Files.move(Paths.get(temp), Paths.get(path), StandardCopyOption.REPLACE_EXISTING,
                   StandardCopyOption.ATOMIC_MOVE)
    except IOException as error:
        raise plugin_options.OptionError("cannot save the result as %s (%s)" % (path, error))
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    imp.setTitle(name)
    info = imp.getOriginalFileInfo()
    if info is not None:
        info.fileName, info.directory = name, folder + os.sep


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

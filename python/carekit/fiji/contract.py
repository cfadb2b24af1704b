"""What the CARE Restore plugin (Jython 2.7 inside ImageJ) and carekit (CPython 3) must agree on: the plugin's
option names and defaults, ImageJ's TZCYX layout, the worker task, and the names both sides look up.

One file for both interpreters, so it is written in the Python 2.7/3 common subset (no f-strings, no annotations)
and imports nothing. This copy, inside the carekit package, is the only one in the repository: the CPython side
(run_in_fiji, the worker, the installer) imports it as `carekit.fiji.contract` from wherever carekit is installed,
and `carekit fiji install` copies it next to the plugin's Jython helpers (jars/Lib/carekit_fiji/contract.py), which
already reach ImageJ only through the installer and import it as `from . import contract`. The other direction
would make the installed package import a file from outside itself (fiji-scripts/).
"""

# The plugin's options: macro keys and #@ parameter names, with their defaults as a macro would write them.
OPTION_DEFAULTS = {
    "model": "",
    "input": "",
    "output": "",
    "engine": "python",
    "backend": "onnx",
    "tile": "0",
    "uncertainty": "true",
    "python": "",
    "timeout": "600",
    "precision": "fp32",
    "rescale": "model",
    "classical_check": "true",
    "hot_pixels": "keep",
    "classical_blend": "model",
    "tta": "false",
}
PATH_OPTIONS = ("model", "input", "output", "python")
# the options a bare word in a macro turns on, as a ticked checkbox in an ImageJ macro is written ("... tta")
FLAG_OPTIONS = ("uncertainty", "classical_check", "classical_blend", "tta")
ENGINES = ("python", "deepimagej")
BACKENDS = ("onnx", "tensorflow", "keras")
PRECISIONS = ("auto", "fp32", "bf16")  # as carekit.precision.CHOICES (a test checks they agree)
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
RESCALE_AUTO = "auto"  # as carekit.predict.rescale.AUTO, SEARCH, MODEL and MAX_FACTOR (a test checks they agree)
RESCALE_SEARCH = "search"
RESCALE_MODEL = "model"
RESCALE_MAX = 8.0
BLEND_MODEL = "model"  # classical_blend: the model's own choice (restore()'s None)
HOT_PIXELS = ("keep", "replace")  # as carekit.data.hot_pixel_images.CHOICES (a test checks they agree)


def rescale_value(text):
    """The rescale option as restore() takes it: None when off ('1' or empty), 'model' (the model's own mode), 'auto',
    'search', or a factor from 1 to RESCALE_MAX; ValueError for anything else."""
    text = ("" if text is None else str(text)).strip().lower() or "1"
    if text in (RESCALE_MODEL, RESCALE_AUTO, RESCALE_SEARCH):
        return text
    factor = float(text)
    if not 1 <= factor <= RESCALE_MAX:
        raise ValueError("rescale factor %s is outside 1-%g" % (text, RESCALE_MAX))
    return None if factor == 1 else factor


def flag_value(value):
    """A true/false option (text or bool): True for TRUE_WORDS, False for FALSE_WORDS; ValueError for anything else."""
    text = ("" if value is None else str(value)).strip().lower()
    if text not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError("must be true or false, got '%s'" % value)
    return text in TRUE_WORDS


def blend_value(value):
    """The classical_blend option (text, or restore()'s None / bool) as restore() takes it: None for 'model' (the
    model's own choice) or empty, else flag_value's; ValueError for anything else."""
    if ("" if value is None else str(value)).strip().lower() in ("", BLEND_MODEL):
        return None
    try:
        return flag_value(value)
    except ValueError:
        raise ValueError("classical_blend must be model (the model's own choice), true or false, got '%s'" % value)


def engine_refusal(engine, options):
    """Why `engine` cannot restore with `options` (rescale, hot_pixels, classical_blend, tta), as one line; None
    when it can. deepImageJ runs the model alone, once, at the image's own scale. rescale: the option's text or
    rescale_value's value; hot_pixels: its text; classical_blend: blend_value's value; tta: a boolean."""
    if str(engine).lower() != ENGINES[1]:
        return None
    if rescale_value(options["rescale"]) not in (None, RESCALE_MODEL):
        return ("rescale=%s needs engine=python (deepImageJ runs the model at the image's own scale)"
                % options["rescale"])
    if str(options["hot_pixels"]).strip().lower() != OPTION_DEFAULTS["hot_pixels"]:
        return "hot_pixels=%s needs engine=python (deepImageJ restores the image as it is)" % options["hot_pixels"]
    for flag, why in (("classical_blend", "restores with the model alone"), ("tta", "runs the model once")):
        if options[flag]:
            return "%s=true needs engine=python (deepImageJ %s)" % (flag, why)
    return None


COMMAND = "CARE Restore"  # the menu command ImageJ makes of plugins/CARE/CARE_Restore.py
ERROR_PREFIX = "ERROR:"  # the plugin's result when it failed: this prefix, a space, the one-line message
PROPERTIES_FILE = "carekit.properties"  # next to the plugin; names the Python that runs the models


def brackets_pair(text):
    """Whether `[text]` reads back as `text`: ImageJ ends a [value] at its matching ']' (ij.Macro.getValue)."""
    depth = 0
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def properties_text(python):
    return "python=%s\n" % python


def python_from_properties(lines):
    """The Python recorded by properties_text, or None."""
    for line in lines:
        if line.startswith("python="):
            return line.split("=", 1)[1].strip()
    return None


# ImageJ's stack order: planes by frame (T), slice (Z), channel (C); each plane Y rows of X pixels.
IMAGEJ_AXES = "TZCYX"


def squeezed_layout(frames, slices, channels, height, width):
    """(shape, axes) of a hyperstack without its singleton T/Z/C axes, e.g. ([5, 256, 256], 'TYX')."""
    shape, axes = [], ""
    for size, name in ((frames, "T"), (slices, "Z"), (channels, "C")):
        if size > 1:
            shape.append(size)
            axes += name
    return shape + [height, width], axes + "YX"


def hyperstack_dims(shape, axes):
    """(channels, slices, frames) of an array with `shape`/`axes`, as ImagePlus.setDimensions takes them."""
    sizes = dict((a, s) for a, s in zip(axes, shape))
    return sizes.get("C", 1), sizes.get("Z", 1), sizes.get("T", 1)


# The `python` engine: a warm Appose worker (carekit.fiji.worker) that the plugin's Jython client starts.
WORKER_COMMAND = "from carekit.fiji.worker import main; main()"
WORKER_KEY = "carekit.appose.worker"  # JVM system property holding the warm worker (stopped when Python exits)
SEGMENT_PREFIX = "psm_carekit_"  # shared-memory segments in /dev/shm: psm_carekit_<JVM pid>_<id>
TASK_INPUTS = ("image", "output", "axes", "model", "backend", "tile", "uncertainty", "precision", "pixel_size",
               "rescale", "classical_check", "hot_pixels", "classical_blend", "tta")
# warnings and notes: lines for ImageJ's Log, with and without "warning:"
TASK_OUTPUTS = ("shape", "axes", "channels", "seconds", "warnings", "notes")
TASK_SCRIPT = """
from carekit.fiji.worker import restore_task
restore_task(task, %s)
""" % ", ".join(TASK_INPUTS)
# A result larger than the output segment (isotropic or axially upsampling models add Z planes): TASK_SCRIPT then
# returns only NEEDS_VALUES (the floats it needs) and keeps the result; FETCH_SCRIPT copies it into a segment that
# large (input "output") and returns TASK_OUTPUTS.
NEEDS_VALUES = "needs_values"
FETCH_SCRIPT = """
from carekit.fiji.worker import fetch_task
fetch_task(task, output)
"""


def output_values(n_values, uncertainty):
    """Size of the output segment in floats: room for a second channel (scale or disagreement) with uncertainty."""
    return n_values * (2 if uncertainty else 1)


MICRONS_PER_UNIT = {"nm": 0.001, "nanometer": 0.001, "mm": 1000.0, "millimeter": 1000.0, "um": 1.0, "micron": 1.0,
                    "microns": 1.0, "micrometer": 1.0, u"\u00b5m": 1.0}  # as carekit.io reads TIFFs


def pixel_size_um(unit, width, height):
    """An ImageJ calibration as carekit's pixel size in micrometres ({'X': .., 'Y': ..}), None for unknown units."""
    factor = MICRONS_PER_UNIT.get(unit)
    if factor is None:
        return None
    return {"X": float(width) * factor, "Y": float(height) * factor}


def task_inputs(image, output, axes, options, pixel_size=None):
    """The inputs of TASK_SCRIPT: the NDArrays of the two segments, the image's axes, the plugin's options and
    the image's pixel size ({'X': .., 'Y': ..} when calibrated, for the out-of-range check)."""
    return {"image": image, "output": output, "axes": axes, "model": options["model"],
            "backend": options["backend"], "tile": options["tile"], "uncertainty": options["uncertainty"],
            "precision": options["precision"], "pixel_size": pixel_size, "rescale": options["rescale"],
            "classical_check": options["classical_check"], "hot_pixels": options["hot_pixels"],
            "classical_blend": options["classical_blend"], "tta": options["tta"]}

"""Model engines of the CARE Restore plugin: 'python' (warm Appose worker running the package with
ONNX Runtime/TensorFlow, GPU when available) and 'deepimagej' (Fiji with deepImageJ installed)."""

import os

from ij import IJ, Menus
from java.io import File
from java.lang import System

from . import appose_client, contract, images, package_kind, unzip


class EngineError(Exception):
    pass


def find_python(explicit):
    """The carekit environment's Python: option python=, $CAREKIT_PYTHON, or what the installer recorded."""
    if explicit:
        return explicit
    from_env = System.getenv("CAREKIT_PYTHON")
    if from_env:
        return from_env
    plugins = IJ.getDirectory("plugins")
    if not plugins and System.getProperty("plugins.dir"):
        plugins = os.path.join(System.getProperty("plugins.dir"), "plugins")
    if plugins:
        properties = os.path.join(plugins, "CARE", contract.PROPERTIES_FILE)
        if os.path.exists(properties):
            recorded = contract.python_from_properties(open(properties))
            if recorded is not None:
                return recorded
    return "python3"


def _count(shape):
    n_values = 1
    for size in shape:
        n_values *= size
    return n_values


def _progress(update):
    if update.get("maximum"):
        IJ.showProgress(int(update.get("current", 0)), int(update["maximum"]))
    if update.get("message"):
        IJ.showStatus(update["message"])


def restore_python(imp, opts):
    shape, axes = images.layout(imp)
    n_values = _count(shape)
    out_values = contract.output_values(n_values, opts["uncertainty"])
    state = appose_client.worker(find_python(opts["python"]))
    source = appose_client.SharedSegment(n_values)
    target = None
    try:
        images.write_planes(imp, source.floats())
        target = appose_client.SharedSegment(out_values)
        inputs = contract.task_inputs(source.ndarray(shape), target.ndarray([out_values]), axes, opts,
                                      _pixel_size(imp))
        outputs = appose_client.execute(state, contract.TASK_SCRIPT, inputs, opts["timeout"], _progress)
        if outputs.get(contract.NEEDS_VALUES):  # more Z planes (isotropic, upsampling) or more output channels
            target.dispose()
            target = appose_client.SharedSegment(int(outputs[contract.NEEDS_VALUES]))
            outputs = appose_client.execute(state, contract.FETCH_SCRIPT,
                                            {"output": target.ndarray([int(outputs[contract.NEEDS_VALUES])])},
                                            opts["timeout"], _progress)
        IJ.showProgress(1.0)
        for message in outputs.get("warnings") or []:
            IJ.log("CARE Restore: warning: %s" % message)
        for message in outputs.get("notes") or []:
            IJ.log("CARE Restore: %s" % message)
        return images.read_image(target.floats(), outputs["shape"], outputs["axes"], imp.getShortTitle() + "_CARE",
                                 _calibration(imp, shape, axes, outputs), outputs.get("channels"))
    finally:
        source.dispose()
        if target is not None:
            target.dispose()


def _pixel_size(imp):
    """The image's lateral pixel size when it is calibrated, else None (no pixel-size check)."""
    calibration = imp.getCalibration()
    if not calibration.scaled():
        return None
    return contract.pixel_size_um(calibration.getUnit(), calibration.pixelWidth, calibration.pixelHeight)


def _calibration(imp, shape, axes, outputs):
    """The input's calibration, with the Z voxel size divided by the Z zoom of the result."""
    calibration = imp.getCalibration().copy()
    if "Z" in axes and "Z" in outputs["axes"]:
        zoom = float(outputs["shape"][outputs["axes"].index("Z")]) / shape[axes.index("Z")]
        calibration.pixelDepth = calibration.pixelDepth / zoom
    return calibration


def restore_deepimagej(imp, opts):
    refusal = contract.engine_refusal("deepimagej", opts)
    if refusal:
        raise EngineError(refusal)
    if Menus.getCommands().get("DeepImageJ Run") is None:
        raise EngineError("deepImageJ is not installed here: in Fiji, Help > Update... > Manage update sites > "
                          "DeepImageJ, then restart; or use engine=python.")
    model = opts["model"]
    if model.lower().endswith((".yaml", ".yml")):  # the description file: deepImageJ takes its folder
        model = os.path.dirname(os.path.abspath(model))
    elif model.lower().endswith(".zip"):
        try:
            model = unzip.extract(model)
        except unzip.UnzipError as error:
            raise EngineError(str(error))
    description = package_kind.description_text(model)
    problem = package_kind.deepimagej_problem(description)
    if problem:
        raise EngineError(problem)
    note = package_kind.deepimagej_modes_note(description, contract.rescale_value(opts["rescale"]) ==
                                              contract.RESCALE_MODEL, opts["classical_blend"] is None)
    if note:
        IJ.log("CARE Restore: %s" % note)
    work = File.createTempFile("carekit-dij-", "")
    work.delete()
    work.mkdirs()
    input_path = os.path.join(work.getAbsolutePath(), imp.getShortTitle() + ".tif")
    IJ.saveAsTiff(imp, input_path)
    output_folder = os.path.join(work.getAbsolutePath(), "output")
    IJ.run("DeepImageJ Run", "model_path=[%s] input_path=[%s] output_folder=[%s] display_output=null"
           % (model, input_path, output_folder))
    results = sorted(f for f in os.listdir(output_folder) if f.lower().endswith(".tif")) if os.path.isdir(output_folder) else []
    if not results:
        raise EngineError("deepImageJ produced no output in %s; see the Log window" % output_folder)
    result = IJ.openImage(os.path.join(output_folder, results[0]))
    result.setTitle(imp.getShortTitle() + "_CARE")
    return result


ENGINES = {"python": restore_python, "deepimagej": restore_deepimagej}

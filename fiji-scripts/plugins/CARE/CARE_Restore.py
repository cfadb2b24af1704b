#@ File (label="Model package (bioimage.io .zip or folder)", style="both") model
#@ String (label="Input image file (empty: the current image)", value="", required=false) input
#@ String (label="Engine", choices={"python", "deepimagej"}, value="python") engine
#@ String (label="Python backend", choices={"onnx", "tensorflow", "keras"}, value="onnx") backend
#@ Integer (label="Tile size in pixels (0: automatic)", value=0, min=0) tile
#@ Boolean (label="Add the uncertainty channel (probabilistic models)", value=true) uncertainty
#@ String (label="Save result as TIFF (optional)", value="", required=false) output
#@ String (label="Python of the carekit environment (empty: as installed)", value="", required=false) python
#@ Double (label="Timeout in seconds", value=600, min=1) timeout
#@ String (label="Precision (bf16: faster on CPUs with bf16 units)", choices={"fp32", "bf16", "auto"}, value="fp32") precision
#@ String (label="Rescale to the model's object scale (model: the model's own; 1: off; auto; search; or a factor up to 8)", value="model") rescale
#@ Boolean (label="Warn if classical denoising is estimated better (python engine)", value=true) classical_check
#@ String (label="Hot (or dead) camera pixels (replace: by their neighbours' median first; python engine)", choices={"keep", "replace"}, value="keep") hot_pixels
#@ String (label="Blend with the best classical denoiser in the shares estimated best (model: the model's own choice; true; false; python engine)", choices={"model", "true", "false"}, value="model", persist=false) classical_blend
#@ Boolean (label="Test-time augmentation: average over turns and flips, 8x slower (python engine)", value=false) tta
# CARE Restore: restore the image with a CARE model packaged by carekit (bioimage.io format).
# Macro: run("CARE Restore", "model=[/path/model.zip] input=[/path/in.tif] output=[/path/out.tif]");
# Plain ImageJ 1.x has no #@ parameters: the same keys are read from the macro options.
import os
import sys

from ij import IJ, Macro

for _folder in (IJ.getDirectory("imagej"), IJ.getDirectory("plugins")):
    if _folder:
        _lib = os.path.join(_folder, "jars", "Lib")
        if os.path.isdir(_lib) and _lib not in sys.path:
            sys.path.append(_lib)

from carekit_fiji import options, restore

try:
    values = {"model": str(model), "input": input or "", "engine": engine, "backend": backend, "tile": tile,
              "uncertainty": uncertainty, "output": output or "", "python": python or "", "timeout": timeout,
              "precision": precision, "rescale": rescale, "classical_check": classical_check,
              "hot_pixels": hot_pixels, "classical_blend": classical_blend, "tta": tta}
except NameError:
    macro_options = Macro.getOptions() or globals().get("__script_argument__", "")
    values = None

try:
    if values is None:
        values = options.from_macro_string(macro_options)
    result = restore.run(values).getTitle()
except restore.KNOWN_ERRORS as error:
    result = restore.report(error)
    if Macro.getOptions() is not None:
        Macro.abort()

"""run_in_fiji: restore an image inside ImageJ/Fiji with the same CARE Restore plugin macro users call."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..errors import CarekitError, InputError
from . import contract, convert, runtime


def _macro_value(value) -> str:
    """`[value]`: ImageJ reads it up to the matching ']' (ij.Macro.getValue), so a path whose brackets do not
    pair up goes as a file: URI, which has none (the plugin turns it back into the path)."""
    text = str(value)
    return f"[{text}]" if contract.brackets_pair(text) else f"[{Path(text).resolve().as_uri()}]"


def plugin_options(model: str | Path, engine: str = "python", backend: str = "onnx", tile: int = 0,
                   uncertainty: bool = True, python: str | None = None, timeout: float = 600,
                   input_path: str | Path | None = None, output_path: str | Path | None = None,
                   precision: str = "fp32", rescale: str | float | None = contract.RESCALE_MODEL,
                   classical_check: bool = True, hot_pixels: str = contract.OPTION_DEFAULTS["hot_pixels"],
                   classical_blend: bool | None = None, tta: bool = False) -> str:
    """The macro options string of CARE Restore (what a macro would pass to run("CARE Restore", ...))."""
    parts = [f"model={_macro_value(Path(model).resolve())}", f"engine={engine}", f"backend={backend}",
             f"tile={int(tile)}", f"uncertainty={str(bool(uncertainty)).lower()}", f"timeout={timeout:g}",
             f"precision={precision}", f"classical_check={str(bool(classical_check)).lower()}",
             f"hot_pixels={hot_pixels}", f"classical_blend={_blend_option(classical_blend)}",
             f"tta={str(bool(tta)).lower()}"]
    parts.append(f"rescale={1 if rescale is None else rescale}")  # None is off, not the plugin's default
    if python:
        parts.append(f"python={_macro_value(python)}")
    if input_path:
        parts.append(f"input={_macro_value(Path(input_path).resolve())}")
    if output_path:
        parts.append(f"output={_macro_value(os.path.abspath(output_path))}")  # not resolved: the plugin refuses links
    return " ".join(parts)


def _blend_option(classical_blend: bool | None) -> str:
    """restore()'s classical_blend (checked as restore() checks it) as the plugin's option (contract.blend_value
    reads it back)."""
    from ..predict.classical_blend import checked_blend

    given = checked_blend(classical_blend)
    return contract.BLEND_MODEL if given is None else str(given).lower()


def run_in_fiji(model: str | Path, image, axes: str | None = None, *, engine: str = "python", backend: str = "onnx",
                tile: int = 0, uncertainty: bool = True, macro_before: str | None = None,
                macro_after: str | None = None, python: str | None = None, timeout: float = 600,
                fiji: str | Path | None = None, precision: str = "fp32",
                rescale: str | float | None = contract.RESCALE_MODEL,
                classical_check: bool = True, hot_pixels: str = contract.OPTION_DEFAULTS["hot_pixels"],
                classical_blend: bool | None = None, tta: bool = False):
    """Push `image` (numpy array or xarray.DataArray) into ImageJ, run CARE Restore on it, pull the result back.

    Returns an xarray.DataArray with the ImageJ axes of the result (T, Z, C, Y, X without singletons; with
    `uncertainty`, C holds [mean, scale] for probabilistic models and [mean, disagreement] for ensembles). `macro_before`/`macro_after` are ImageJ macro
    code run on the current image before and after restoring. ImageJ starts once per Python process: Fiji via
    PyImageJ when `fiji` or $FIJI_HOME names a local Fiji.app, else the local ImageJ 1.x with Jython. `rescale`,
    `hot_pixels`, `classical_blend` (None: the model's own choice) and `tta` are restore()'s; deepImageJ (`engine`)
    refuses them before ImageJ starts.
    """
    import xarray as xr
    from jpype import JVMNotRunning
    from scyjava import jimport

    _blend_option(classical_blend)  # a value the plugin would not take is refused before ImageJ starts
    try:
        refusal = contract.engine_refusal(engine, {"rescale": rescale, "hot_pixels": hot_pixels,
                                                   "classical_blend": classical_blend, "tta": tta})
    except ValueError as error:  # a rescale value the plugin would refuse too
        raise InputError(f"rescale={rescale!r}: {error}") from None
    if refusal:  # before ImageJ starts
        raise InputError(refusal)
    array, axes, pixel_size = _as_array(image, axes)
    _check_fits_memory(array)
    if not Path(model).exists():
        raise InputError(f"model package not found: {model}")
    active = runtime.session(fiji, python)
    IJ, WindowManager = jimport("ij.IJ"), jimport("ij.WindowManager")
    imp = convert.to_imageplus(array, axes, "carekit_input", pixel_size)
    WindowManager.setTempCurrentImage(imp)
    if macro_before:
        _run_macro(IJ, macro_before, "macro_before")
        imp = WindowManager.getCurrentImage() or imp  # the macro may have replaced the image
        WindowManager.setTempCurrentImage(imp)
    options = plugin_options(model, engine, backend, tile, uncertainty, python or sys.executable, timeout,
                             precision=precision, rescale=rescale, classical_check=classical_check,
                             hot_pixels=hot_pixels, classical_blend=classical_blend, tta=tta)
    try:
        outcome = _run_plugin(IJ, active, options)
    except JVMNotRunning:  # ^C: the JVM exits on SIGINT while this thread still waits for the plugin
        raise KeyboardInterrupt from None
    if outcome.startswith(contract.ERROR_PREFIX):
        raise CarekitError(outcome[len(contract.ERROR_PREFIX):].strip())
    result = WindowManager.getCurrentImage()
    if result is None or result == imp:
        raise CarekitError("CARE Restore produced no image; see ImageJ's log")
    if macro_after:
        WindowManager.setTempCurrentImage(result)
        _run_macro(IJ, macro_after, "macro_after")
        result = WindowManager.getCurrentImage() or result
    data, out_axes, out_pixel_size = convert.from_imageplus(result)
    names = convert.channel_names(result)
    coords = {"C": names} if names and "C" in out_axes else {}
    return xr.DataArray(data, dims=list(out_axes), coords=coords,
                        attrs={"pixel_size": out_pixel_size, "title": str(result.getTitle()), "imagej": active.kind})


def _run_plugin(IJ, active: runtime.Session, options: str) -> str:
    if active.kind == "fiji":
        IJ.run(contract.COMMAND, options)
        return ""
    return str(IJ.runMacroFile(str(active.plugin), options) or "")


def _run_macro(IJ, code: str, name: str) -> None:
    if str(IJ.runMacro(code) or "") == "[aborted]":
        raise CarekitError(f"{name} failed in ImageJ (see the message above). Without a display, ImageJ 1.x macros "
                           "cannot use menu commands (run(...)): use macro functions, xvfb-run, or Fiji")


def _check_fits_memory(array: np.ndarray) -> None:
    """ImageJ holds the image as float32, shared memory a copy, the worker its result: about 3x float32 in RAM."""
    import psutil

    needed = 3 * 4 * array.size
    available = psutil.virtual_memory().available
    if needed > available:
        raise InputError(f"the image {array.shape} needs about {needed / 2**30:.1f} GiB in ImageJ and the worker, more "
                         f"than the {available / 2**30:.1f} GiB available; run_in_fiji is for images that fit in "
                         "memory: restore larger ones chunk by chunk with `carekit predict --model M big.ome.zarr "
                         "--out restored.ome.zarr` (OME-Zarr, Zarr or TIFF input, see README 'Large data')")


def _as_array(image, axes: str | None) -> tuple[np.ndarray, str, dict]:
    from ..io import Image

    pixel_size: dict = {}
    if isinstance(image, Image):
        return image.data, image.axes, image.pixel_size
    if hasattr(image, "dims") and hasattr(image, "values"):
        axes = axes or "".join(str(d).upper() for d in image.dims)
        pixel_size = dict(image.attrs.get("pixel_size", {}))
        image = image.values
    array = np.asarray(image)
    axes = (axes or {2: "YX", 3: "ZYX"}.get(array.ndim, "")).upper()
    if len(axes) != array.ndim:
        raise InputError(f"give axes for an image of shape {array.shape}, e.g. axes='TYX'")
    return array, axes, pixel_size

"""The Python side of the ImageJ plugin's `python` engine: runs inside a warm Appose worker process.

The Jython client (fiji-scripts/lib/carekit_fiji/appose_client.py) starts
`python -c contract.WORKER_COMMAND` and sends tasks whose script (contract.TASK_SCRIPT) calls `restore_task`.
Images travel through shared memory segments that the client creates and removes; this side only attaches,
reads, writes and detaches. The worker exits as soon as the process that started it is gone, even mid-task.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .contract import NEEDS_VALUES, OPTION_DEFAULTS, RESCALE_MODEL, TASK_OUTPUTS, rescale_value

# a warm worker keeps the models it ran last (a macro looping over images reuses one); older ones are evicted so
# that a session trying many packages does not hold every network in memory
MODEL_CACHE_SIZE = 2
_MODELS: OrderedDict[tuple[str, str, str, int], object] = OrderedDict()
_PENDING: dict = {}  # a result too large for its output segment, until FETCH_SCRIPT collects it


def main() -> None:
    """Entry point of the worker process: Appose's worker loop, tied to the life of its parent."""
    import appose.python_worker

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="carekit-parent-watch",
                     daemon=True).start()
    appose.python_worker.main()  # returns when stdin closes: the parent exited or stopped the worker
    os._exit(0)  # a task thread still computing must not keep the process alive


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Exit once the parent is gone (the process is then re-parented). Not prctl(PR_SET_PDEATHSIG): that fires
    when the parent *thread* ends, and ImageJ runs each command in a short-lived thread."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(0)


def _model(path: str, backend: str, precision: str = "fp32"):
    from ..models import load_model

    resolved = Path(path).resolve()
    key = (str(resolved), backend, precision, resolved.stat().st_mtime_ns)  # a package rebuilt in place is reloaded
    if key in _MODELS:
        _MODELS.move_to_end(key)
    else:
        _MODELS[key] = load_model(path, engine=backend, precision=precision)
        while len(_MODELS) > MODEL_CACHE_SIZE:
            _MODELS.popitem(last=False)
    return _MODELS[key]


def restore_array(image: np.ndarray, axes: str, model: str, backend: str = "onnx", tile: int = 0,
                  uncertainty: bool = True, on_progress=None, precision: str = "fp32",
                  pixel_size: dict | None = None, on_warning=None, rescale: str | float | None = RESCALE_MODEL,
                  classical_check: bool = True, on_note=None,
                  hot_pixels: str = OPTION_DEFAULTS["hot_pixels"], classical_blend: bool | None = None,
                  tta: bool = False) -> tuple[np.ndarray, str, list[str]]:
    """Restore `image` (axes like 'TZCYX' without singleton axes); returns (result, result axes, channel names).

    With `uncertainty`, a probabilistic model adds a channel with the Laplace scale and an ensemble one with the
    disagreement D: the result gains a channel axis C holding [mean, scale] (or [mean, disagreement]) for each
    input channel, which ImageJ shows as channels of one hyperstack. Out-of-range warnings (the input unlike the
    model's training data) go to `on_warning(message)`, and so does, with `classical_check`, the warning that a
    classical denoiser is estimated to restore the image better (predict.classical_check; 2D denoising models).
    `rescale`, `hot_pixels`, `classical_blend` and `tta`: as restore() takes them; the factor 'auto' or 'search'
    chose, how many hot pixels were replaced and how the restoration was blended go to `on_note(message)` (blended,
    the classical check does not run: the blend's estimate includes it).
    """
    from ..io import Image
    from ..predict import restore
    from ..predict.domain_check import PredictionWarning

    runner = _model(model, backend, precision)
    spatial = len(runner.spec.axes)
    tile_shape = (tile,) * spatial if tile else None
    unchecked = []  # the classical check's notes where it could not judge
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PredictionWarning)
        result = restore(runner, Image(image, axes, pixel_size or {}), tile=tile_shape, progress=False,
                         on_progress=on_progress, rescale=rescale, hot_pixels=hot_pixels,
                         classical_blend=classical_blend, tta=tta)
        if classical_check and not result.classical_blend:  # at the factor restore chose
            unchecked = _classical_check(runner, Image(image, axes), result.factor, hot_pixels)
    for note in _notes(result, runner, rescale, hot_pixels, uncertainty, tta, classical_blend is None):
        if on_note is not None:
            on_note(note)
    for message in [str(w.message) for w in caught if issubclass(w.category, PredictionWarning)] + unchecked:
        if on_warning is not None:
            on_warning(message)
    if result.outputs and (len(result.outputs) > 1 or "C" in result.axes):  # not made by carekit: C per output
        return _output_channels(result.outputs, axes)
    extra, name = ((result.scale, "scale") if result.scale is not None else (result.disagreement, "disagreement"))
    if extra is None or not uncertainty:
        return result.image, result.axes if runner.spec.kind == "projection" else axes, []  # a projection has no Z
    if "C" in axes:
        c = axes.index("C")
        stacked = np.stack([result.image, extra], axis=c + 1)
        merged = stacked.reshape(stacked.shape[:c] + (-1,) + stacked.shape[c + 2:])
        return merged, axes, [f"{kind} {i + 1}" for i in range(image.shape[c]) for kind in ("mean", name)]
    c = max(axes.find("Z"), axes.find("T")) + 1
    return np.stack([result.image, extra], axis=c), axes[:c] + "C" + axes[c:], ["mean", name]


def _notes(result, runner, rescale, hot_pixels: str, uncertainty: bool, tta: bool, blend_by_default: bool) -> list[str]:
    """The Log's notes on a restoration: the rescale factor chosen, the hot pixels replaced, how it was blended (and
    whether by the model's default), test-time augmentation."""
    from ..models.augmentation import tta_note
    from ..predict.classical_blend import blend_note
    from ..predict.hot_pixels import replaced_note
    from ..predict.rescale import chosen_factor_note

    extra = result.scale is not None or result.disagreement is not None
    notes = (chosen_factor_note(rescale, result.factor, runner.spec), replaced_note(hot_pixels,
                                                                                     result.hot_pixels_replaced),
             result.classical_blend and blend_note(result.classical_blend, uncertainty and extra, blend_by_default),
             tta_note(tta, runner.spec.kind))
    return [note for note in notes if note]


def _classical_check(runner, image, rescale, hot_pixels) -> list[str]:
    """Warn (in the caller's catch) when a classical denoiser is estimated to do better on `image`; a note instead
    when its noise cannot be estimated, so that the Log never suggests a check that did not run."""
    from ..predict.classical_check import compare_with_classical, not_compared, warn_if_worse
    from ..predict.rescale import is_2d_restoration

    if not is_2d_restoration(runner):
        return []
    try:
        warn_if_worse(compare_with_classical(runner, image, rescale=rescale, hot_pixels=hot_pixels))
    except Exception as error:  # the check only advises: the restoration stands whatever goes wrong in it
        return [not_compared(error)]
    return []


def _output_channels(outputs: dict, axes: str) -> tuple[np.ndarray, str, list[str]]:
    """Every output of a package not made by carekit as channels of one image: an output with the input's axes is
    one channel, one with a leading C axis several (named `id i`)."""
    if "C" in axes or any(out.axes not in (axes, "C" + axes) for out in outputs.values()):
        raise ValueError(f"the model's outputs {sorted(outputs)} have axes {[o.axes for o in outputs.values()]}; "
                         f"ImageJ gets them as channels of one image only when each has the input's axes {axes} "
                         "(with or without a leading C): run carekit predict, which writes one file per output")
    planes, names = [], []
    for name, out in outputs.items():
        data = out.data if out.axes[0] == "C" else out.data[np.newaxis]
        planes.append(data)
        names += [name] if len(data) == 1 and out.axes != "C" + axes else [f"{name} {i + 1}" for i in range(len(data))]
    c = max(axes.find("Z"), axes.find("T")) + 1
    return np.moveaxis(np.concatenate(planes), 0, c), axes[:c] + "C" + axes[c:], names


def restore_task(task, image, output, axes: str, model: str, backend: str, tile: int, uncertainty: bool,
                 precision: str = "fp32", pixel_size: dict | None = None, rescale: str = RESCALE_MODEL,
                 classical_check: bool = True, hot_pixels: str = OPTION_DEFAULTS["hot_pixels"],
                 classical_blend: bool | None = None, tta: bool = False) -> None:
    """Appose task body: read `image` (NDArray), write the restoration into `output` (NDArray) when it fits,
    report progress, return the result's shape and axes. A result larger than `output` (more Z planes, or more
    output channels) is kept and only NEEDS_VALUES returned: FETCH_SCRIPT then copies it into a larger segment."""
    started = time.perf_counter()
    messages, notes = [], []
    source = image.ndarray()
    try:
        def progress(done, total):
            task.update(message=f"CARE: tile {done}/{total}", current=done, maximum=total)

        restored, out_axes, channels = restore_array(np.array(source, dtype=np.float32), axes, model, backend,
                                                     tile, uncertainty, progress, precision, pixel_size,
                                                     messages.append, rescale_value(rescale), classical_check,
                                                     notes.append, hot_pixels, classical_blend, tta)
        outputs = dict(zip(TASK_OUTPUTS, (list(restored.shape), out_axes, channels,
                                           round(time.perf_counter() - started, 4), messages, notes)))
        if restored.size > int(np.prod(output.shape)):
            _PENDING.update(result=restored, outputs=outputs)
            task.outputs[NEEDS_VALUES] = int(restored.size)
            return
        _write(output, restored)
    finally:
        del source
        for array in (image, output):
            try:
                array.shm.close()
            except BufferError:  # a view is still alive after an error; the client removes the segment anyway
                pass
    task.outputs.update(outputs)


def _write(output, restored: np.ndarray) -> None:
    target = output.ndarray()
    flat = target.reshape(-1)
    if restored.size > flat.size:
        raise ValueError(f"output buffer too small: {flat.size} values for a result of shape {restored.shape}")
    flat[: restored.size] = restored.astype(np.float32, copy=False).reshape(-1)
    del target, flat


def fetch_task(task, output) -> None:
    """Appose task body of FETCH_SCRIPT: write the result kept by restore_task into the larger `output`."""
    if not _PENDING:
        raise ValueError("no restored image is waiting to be fetched")
    try:
        _write(output, _PENDING["result"])
    finally:
        try:
            output.shm.close()
        except BufferError:
            pass
    task.outputs.update(_PENDING.pop("outputs"))
    _PENDING.clear()

"""What carekit needs to know before it runs a bioimage.io package it did not make: which weights run here (local,
runtime installed), its one required input, that every axis maps onto an image axis, and the block size to tile
with. Each problem is one clear InputError."""

from __future__ import annotations

import importlib.util

from ..errors import InputError
from .weights import WEIGHT_PRIORITY, choose_weight_format, present_formats

# Formats bioimageio.core runs beyond carekit's own (WEIGHT_PRIORITY first), with the module each needs.
OTHER_FORMATS = {"keras_v3": "keras", "torchscript": "torch", "pytorch_state_dict": "torch"}
RUNTIME = {"onnx": "onnxruntime", "tensorflow_saved_model_bundle": "tensorflow", "keras_hdf5": "tensorflow",
           **OTHER_FORMATS}
MAPPABLE_AXES = ("batch", "channel", "z", "y", "x")
MAX_BLOCK = {2: {"y": 1024, "x": 1024}, 3: {"z": 32, "y": 128, "x": 128}}  # as carekit's DEFAULT_TILE


def _is_url(entry) -> bool:
    return "://" in str(entry.source)


def runnable_formats(descr) -> list[str]:
    """The package's weight formats whose runtime is installed here, in carekit's order of preference."""
    present = present_formats(descr)
    order = list(WEIGHT_PRIORITY) + list(OTHER_FORMATS)
    return [fmt for fmt in order if fmt in present and importlib.util.find_spec(RUNTIME[fmt]) is not None]


def choose_foreign_weights(descr, engine: str | None, source) -> str:
    """The weight format to run: the engine's, else the first runnable one (WEIGHT_PRIORITY, then keras_v3,
    torchscript, pytorch_state_dict) whose file is inside the package. Weights only at a URL are not fetched."""
    present = present_formats(descr)
    runnable = [choose_weight_format(descr, engine, source)] if engine else runnable_formats(descr)
    if not runnable:
        raise InputError(f"{source} has {present} weights, none of which runs here (carekit runs "
                         f"{list(WEIGHT_PRIORITY)}; keras_v3 needs keras, torchscript and pytorch_state_dict need "
                         "torch installed)")
    local = [fmt for fmt in runnable if not _is_url(getattr(descr.weights, fmt))]
    if not local:
        urls = ", ".join(f"{fmt}: {getattr(descr.weights, fmt).source}" for fmt in runnable)
        raise InputError(f"the weights of {source} that could run here ({runnable}) are only at URLs ({urls}) and "
                         f"carekit does not download them; the package has {present}: download the weight file "
                         "into the package folder and name it in the description")
    return local[0]


def axis_ids(tensor) -> list[str]:
    """A tensor description's axis ids as bioimageio.core names them (spec 0.4 letters 'bcyx' become batch,
    channel, y, x)."""
    if isinstance(tensor.axes, str):
        return [{"b": "batch", "c": "channel", "i": "index", "t": "time"}.get(a, a) for a in tensor.axes]
    return [str(a.id) for a in tensor.axes]


def required_input(descr, source):
    """The one input carekit feeds; other inputs must be optional (spec 0.5 `optional`)."""
    required = [t for t in descr.inputs if not getattr(t, "optional", False)]
    if len(required) != 1:
        names = [str(getattr(t, "id", getattr(t, "name", "?"))) for t in required]
        raise InputError(f"{source} needs {len(required)} input tensors {names}; carekit feeds one image, so it runs "
                         "only models with one required input")
    return required[0]


def check_axes(descr, source) -> None:
    for kind, tensors in (("input", descr.inputs), ("output", descr.outputs)):
        for tensor in tensors:
            unknown = [a for a in axis_ids(tensor) if a not in MAPPABLE_AXES]
            if unknown:
                name = getattr(tensor, "id", getattr(tensor, "name", "?"))
                raise InputError(f"the {kind} {name!r} of {source} has axes {unknown} that carekit cannot map onto "
                                 f"an image's axes (it maps {list(MAPPABLE_AXES)}); run it with bioimageio.core")


def blocksize_parameter(tensor, shape: dict[str, int], halo: dict[str, int]) -> dict:
    """{(input id, axis id): n} for the input's parameterized axes (size min + n*step): the smallest n whose block
    covers the image plus its halo, up to carekit's default tile size. Fixed sizes need none (bioimageio.core tiles
    at exactly that size)."""
    spatial = [a for a in axis_ids(tensor) if a in ("z", "y", "x")]
    limits = MAX_BLOCK[3 if "z" in spatial else 2]
    ns = {}
    for axis in tensor.axes:
        size = getattr(axis, "size", None)
        if not hasattr(size, "step") or str(axis.id) not in limits:
            continue
        wanted = min(shape.get(str(axis.id), 1) + 2 * halo.get(str(axis.id), 0), limits[str(axis.id)])
        ns[(tensor.id, axis.id)] = max(0, -(-(wanted - size.min) // max(1, size.step)))
    return ns

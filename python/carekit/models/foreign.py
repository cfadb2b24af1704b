"""Any single-input bioimage.io model, run through bioimageio.core's prediction pipeline with the package's own
pre/postprocessing and blockwise inference."""

from __future__ import annotations

import contextlib

import numpy as np

from ..errors import InputError
from ..io import check_image
from .package_files import OpenedPackage, cache_dir
from .runner import PipelineRunner
from .spec import NetworkSpec
from .weights import choose_weight_format


class ForeignPackage(PipelineRunner):
    """A bioimage.io model package run by bioimageio.core with one weight format (`engine`, else the first of
    WEIGHT_PRIORITY it has and this machine runs, else bioimageio.core's own choice, e.g. PyTorch). `spec.axes`
    are the spatial axes of its input; the pipeline is built on the first prediction and then reused."""

    def __init__(self, package: OpenedPackage, engine: str | None = None):
        self.descr = descr = package.descr
        self.weight_format = choose_weight_format(descr, engine, package.source)
        package.check_weight_zips(self.weight_format)
        if len(descr.inputs) != 1:
            raise InputError(f"only single-input models are supported here, this one has {len(descr.inputs)} inputs")
        self.model_axes = [str(a.id) for a in descr.inputs[0].axes]
        spatial = "".join(a.upper() for a in self.model_axes if a in ("z", "y", "x"))
        self.spec = NetworkSpec(spatial, None, None, halo=0, divisor=1, probabilistic=False)
        self._pipeline = None

    def predict_image(self, image: np.ndarray, axes: str) -> np.ndarray:
        """Non-finite pixels in the input or the output are refused."""
        problems = check_image(np.asarray(image), "input image")
        if problems:
            raise InputError("; ".join(problems))
        from ..train.tf import import_tensorflow

        import_tensorflow()  # first: bioimageio.core reads KERAS_BACKEND on import (its default is torch)
        from bioimageio.core import Tensor, create_prediction_pipeline, predict

        tensor = Tensor.from_numpy(_model_input(image, axes, self.model_axes), dims=tuple(self.model_axes))
        work = cache_dir() / "bioimageio"
        work.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(work):  # bioimageio.core unzips TensorFlow weights into the working directory
            if self._pipeline is None:
                self._pipeline = create_prediction_pipeline(self.descr, weight_format=self.weight_format)
            sample = predict(model=self._pipeline, inputs={self.descr.inputs[0].id: tensor})
        result = _first_output(next(iter(sample.members.values())), axes)
        bad = result.size - np.count_nonzero(np.isfinite(result))
        if bad:
            raise InputError(f"the model gave {bad} NaN/Inf output values ({100 * bad / result.size:.1f}%) for this "
                             "input; refusing the result (check that the input suits this model)")
        return result


def _model_input(image: np.ndarray, axes: str, model_axes: list[str]) -> np.ndarray:
    """The image as float32 in the model's axis order, with singleton axes for those the image lacks."""
    image_axes = [{"C": "channel"}.get(a, a.lower()) for a in axes.upper()]
    missing = [a for a in image_axes if a not in model_axes]
    if missing:
        raise InputError(f"the model's input axes are {model_axes}; the image axes {axes!r} do not fit ({missing})")
    data = np.asarray(image, dtype=np.float32)
    for axis in model_axes:
        if axis not in image_axes:
            data = data[..., None]
            image_axes.append(axis)
    return np.transpose(data, [image_axes.index(a) for a in model_axes])


def _first_output(output, axes: str) -> np.ndarray:
    """The output tensor as an array: the image's spatial axes, and the channel axis if it has several channels,
    in the model's output order (other axes are singletons and dropped)."""
    spatial = [a.lower() for a in axes.upper() if a in "ZYX"]
    keep = [d for d in output.dims if str(d) in spatial or (str(d) == "channel" and output.tagged_shape[d] > 1)]
    squeezed = output.data.squeeze([str(d) for d in output.dims if d not in keep])
    return np.asarray(squeezed.transpose(*[str(d) for d in keep]).values)

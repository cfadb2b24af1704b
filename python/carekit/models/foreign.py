"""Any bioimage.io model package with one required input (spec 0.4 or 0.5; 0.4 descriptions are converted to 0.5
on loading), run through bioimageio.core's prediction pipeline with the package's own pre/postprocessing.

Tiling: bioimageio.core's blockwise prediction. The preprocessing (e.g. zero_mean_unit_variance, scale_range) runs
over the whole image, as carekit normalizes its own models; then the image is cut into blocks of exactly the size
the model accepts: a fixed size as declared, a parameterized size (min + n*step) with the smallest n that covers
the image plus its halo, at most carekit's default tile (1024² in 2D, 32x128x128 in 3D). Each block carries the
declared output halo as context (cropped from the output); bioimageio.core pads the image edge as the input
declares (symmetric by default). An image smaller than one block is first padded at its end (symmetric, after
normalization) to one block and the outputs cropped back. Blockwise postprocessing (e.g. sigmoid) runs per block,
whole-image postprocessing on the assembled output. Every output tensor is returned by its id.

Where the result differs from `bioimageio predict`: that command, without --blockwise, feeds the whole image padded
by the halo, which fails on a model with a fixed input size (ONNX Runtime refuses the shape) and on images larger
than memory allows; with --blockwise N it tiles like carekit but with the same N for every parameterized axis, so
block seams (where the halo is smaller than the receptive field) fall elsewhere. On images smaller than one block
bioimageio.core refuses to tile; carekit pads them as said above. For a fixed input size and an image at least one
block large, carekit's output equals `bioimageio.core.predict(..., blocksize_parameter=0)` (tested to 1e-5)."""

from __future__ import annotations

import contextlib
import io
import threading

import numpy as np

from ..errors import InputError
from ..io import check_image
from .foreign_descr import axis_ids, blocksize_parameter, check_axes, choose_foreign_weights, required_input
from .foreign_stats import (chunkwise_refusal, needs_whole_image_stats, preprocess_with,
                            whole_image_stats)
from .package_files import OpenedPackage, cache_dir
from .runner import PipelineRunner
from .spec import NetworkSpec

_PROCESS_STATE = threading.Lock()
TENSORFLOW_FORMATS = ("tensorflow_saved_model_bundle", "keras_hdf5")


class ForeignPackage(PipelineRunner):
    """A bioimage.io model package run by bioimageio.core with one weight format (`engine`, else see
    foreign_descr.choose_foreign_weights). `spec.axes` are the spatial axes of its input; `output_ids` name its
    outputs; the pipeline is built on the first prediction and then reused."""

    def __init__(self, package: OpenedPackage, engine: str | None = None):
        self.descr = descr = package.descr
        self.input = required_input(descr, package.source)
        check_axes(descr, package.source)
        self.weight_format = choose_foreign_weights(descr, engine, package.source)
        package.check_weight_zips(self.weight_format)
        self.model_axes = axis_ids(self.input)
        self.output_ids = [str(getattr(t, "id", getattr(t, "name", ""))) for t in descr.outputs]
        spatial = "".join(a.upper() for a in self.model_axes if a in ("z", "y", "x"))
        # halo: the largest output halo the package declares (the context each block, or chunk, needs)
        self.spec = NetworkSpec(spatial, None, None, halo=max(_output_halo(descr).values(), default=0), divisor=1,
                                probabilistic=False)
        self._pipeline = None

    def predict_image(self, image: np.ndarray, axes: str) -> np.ndarray:
        """The first output for `image` (see predict_outputs)."""
        return next(iter(self.predict_outputs(image, axes).values()))

    @property
    def needs_whole_image_stats(self) -> bool:
        return needs_whole_image_stats(self.descr)

    def chunkwise_refusal(self, several_planes: bool) -> str | None:
        """Why the package cannot run chunk by chunk on the distributed path (foreign_stats), or None."""
        return chunkwise_refusal(self.descr, self.model_axes, several_planes)

    def whole_image_stats(self, image: np.ndarray, axes: str) -> dict:
        """The statistics the preprocessing needs, of the whole `image` (for predict_outputs' `stats`)."""
        return whole_image_stats(self.descr, self.input.id, _model_input(image, axes, self.model_axes),
                                 self.model_axes)

    def predict_outputs(self, image: np.ndarray, axes: str, progress: bool = True,
                        stats: dict | None = None) -> dict[str, np.ndarray]:
        """Every output tensor by id, each with the image's spatial axes (plus a leading channel axis when it has
        several channels). Non-finite pixels in the input or the outputs are refused. `stats`: the preprocessing
        uses these statistics (whole_image_stats of a larger image that `image` is part of) instead of `image`'s.
        Each call normalizes with statistics of its own image (or `stats`): nothing is carried over between calls."""
        problems = check_image(np.asarray(image), "input image")
        if problems:
            raise InputError("; ".join(problems))
        from ..train.tf import import_tensorflow

        import_tensorflow()  # first: bioimageio.core reads KERAS_BACKEND on import (its default is torch)
        data = _model_input(image, axes, self.model_axes)
        shape = dict(zip(self.model_axes, data.shape))
        ns = blocksize_parameter(self.input, shape, _output_halo(self.descr))
        block = {str(a): n for a, n in self.descr.get_tensor_sizes(ns, 1).inputs[self.input.id].items()}
        if stats is None:  # statistics over the whole image, before any padding
            stats = whole_image_stats(self.descr, self.input.id, data, self.model_axes)
        padded = _pad_to_block(preprocess_with(self.descr, self.input.id, data, self.model_axes, stats), self.input.id,
                               block)
        with _PROCESS_STATE:  # a dask worker's threads share one pipeline and sys.stderr
            if self._pipeline is None:  # loaded once; bioimageio.core.predict() would reload it on every call
                self._pipeline = self._load_pipeline()
            # bioimageio.core's block progress bar has no switch: without `progress` its stderr output is dropped
            with contextlib.nullcontext() if progress else contextlib.redirect_stderr(io.StringIO()):
                output = self._pipeline.predict_sample_with_blocking(padded, skip_preprocessing=True, ns=ns or 0)
        results = {str(k): _output_array(_crop(v, shape), axes) for k, v in output.members.items()}
        for name, result in results.items():
            bad = result.size - np.count_nonzero(np.isfinite(result))
            if bad:
                raise InputError(f"the model gave {bad} NaN/Inf values ({100 * bad / result.size:.1f}%) in its "
                                 f"output {name!r} for this input; refusing the result (check that the input suits "
                                 "this model)")
        return results

    def _load_pipeline(self):
        from bioimageio.core import create_prediction_pipeline

        if self.weight_format not in TENSORFLOW_FORMATS:
            return create_prediction_pipeline(self.descr, weight_format=self.weight_format)
        work = cache_dir() / "bioimageio"
        work.mkdir(parents=True, exist_ok=True)
        # bioimageio.core unzips TensorFlow weights into the working directory (the process's: paths carekit reads
        # and writes meanwhile are absolute)
        with contextlib.chdir(work):
            return create_prediction_pipeline(self.descr, weight_format=self.weight_format)


def _pad_to_block(sample, input_id, block: dict[str, int]):
    """The sample with its input padded at the end (symmetric, bioimageio.core's default) along each spatial axis
    shorter than one block: bioimageio.core tiles only images at least one block large."""
    from bioimageio.core import Sample, Tensor

    tensor = sample.members[input_id]
    dims = [str(d) for d in tensor.dims]
    widths = [(0, max(0, block.get(d, 0) - n) if d in ("z", "y", "x") else 0) for d, n in zip(dims, tensor.data.shape)]
    if not any(after for _, after in widths):
        return sample
    data = np.pad(np.asarray(tensor.data.values), widths, mode="symmetric")
    return Sample(members={input_id: Tensor.from_numpy(data, dims=tuple(dims))}, stat=sample.stat, id=sample.id)


def _crop(tensor, shape: dict[str, int]):
    """An output tensor cut back to the image's spatial size (it was padded up to one block)."""
    return tensor[{d: slice(0, shape[str(d)]) for d in tensor.dims if str(d) in ("z", "y", "x") and str(d) in shape}]


def _output_halo(descr) -> dict[str, int]:
    """The largest output halo per axis id (in output pixels; the outputs of the models carekit runs have the
    input's scale)."""
    halo: dict[str, int] = {}
    for tensor in descr.outputs:
        for axis in tensor.axes:
            if getattr(axis, "halo", 0):
                halo[str(axis.id)] = max(halo.get(str(axis.id), 0), int(axis.halo))
    return halo


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


def _output_array(output, axes: str) -> np.ndarray:
    """The output tensor as an array: the image's spatial axes, and the channel axis if it has several channels,
    in the model's output order (other axes are singletons and dropped)."""
    spatial = [a.lower() for a in axes.upper() if a in "ZYX"]
    keep = [d for d in output.dims if str(d) in spatial or (str(d) == "channel" and output.tagged_shape[d] > 1)]
    squeezed = output.data.squeeze([str(d) for d in output.dims if d not in keep])
    return np.asarray(squeezed.transpose(*[str(d) for d in keep]).values)

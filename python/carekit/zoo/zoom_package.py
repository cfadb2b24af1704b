"""Packages of models that zoom Z (isotropic restoration, axial upsampling) with the whole recipe in the exported graph
(train.isotropic_export): bioimageio.core and deepImageJ run raw stack (Z, Y, X) in -> round(Z * factor) planes out
with no carekit code. carekit's own tiled, memory-bounded path runs the bare network, attached to the package as
Keras HDF5 and in each weight format of the package (config.carekit.network_weights). The Keras HDF5 format cannot
hold the recipe without carekit code, so these packages have SavedModel and ONNX weights only.

The output's Z size is declared the spec 0.5 way: a SizeReference to the input's Z, with axis scales in a unit of
1/q lateral pixels where p/q (q <= MAX_STEP) is the fraction nearest to the factor: input z scale p, every other
axis q (exact integers, so bioimageio.spec's floor(Z * p / q) and its exact check of the test output's size work in
floats). The graph (like scipy's zoom) gives round(Z * factor) planes; the declared input Z sizes are the multiples
of q (from 2 when q = 1), where both agree for a factor that is p/q (4, 2.5, 10.2 = 51/5, 1.2 / 0.4 =
2.9999999999999996 -> 3); for other factors (e.g. 3.1409 ~ 22/7) they agree for the first declared sizes only
(declared_run tells how many).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from bioimageio.spec.model import v0_5

from ..config import ModelRecord
from ..errors import InputError
from ..io import Image, write_image
from ..models.spec import NetworkSpec
from ..normalize import normalize_percentile
from ..tiling import round_up
from .spec import TENSOR_INPUT, TENSOR_OUTPUT, AxisGeometry

NETWORK_FILES = {"keras_hdf5": "network_keras.h5", "tensorflow_saved_model_bundle": "network_tf_saved_model.zip",
                 "onnx": "network.onnx"}
TEST_PLANES, TEST_LATERAL = 8, 64  # about the test input's size: the graph runs the network on every XZ/YZ plane
MAX_STEP = 12
DECLARED_RANGE = 256  # declared input Z sizes that declared_run checks


def zooms_z(record: ModelRecord) -> bool:
    return record.kind == "isotropic" or record.z_factor > 1


def declared_fraction(factor: float) -> tuple[int, int]:
    """(p, q): the fraction nearest to the factor with a denominator up to MAX_STEP."""
    fraction = Fraction(factor).limit_denominator(MAX_STEP)
    return fraction.numerator, fraction.denominator


def declared_output_z(z: int, factor: float) -> int:
    """bioimageio.spec's SizeReference rule for the output Z: floor(Z * input scale / output scale)."""
    p, q = declared_fraction(factor)
    return int(z * float(p) / float(q))


def declared_z_sizes(factor: float) -> tuple[int, int]:
    """(min, step) of the declared input Z sizes: the multiples of q, from 2 when q is 1."""
    q = declared_fraction(factor)[1]
    return (2 if q == 1 else q), q


def declared_run(factor: float, limit: int = DECLARED_RANGE) -> int:
    """How many of the first `limit` declared input Z sizes get the graph's round(Z * factor) planes declared."""
    z_min, z_step = declared_z_sizes(factor)
    sizes = range(z_min, z_min + limit * z_step, z_step)
    return next((i for i, z in enumerate(sizes) if declared_output_z(z, factor) != round(z * factor)), limit)


def sample_planes(factor: float) -> int:
    """Planes of the test input: the first declared Z size from TEST_PLANES, refused when the declaration does not
    hold that far (bioimageio.core tests sizes n = 0, 1, 2 too)."""
    z_min, z_step = declared_z_sizes(factor)
    index = max(0, -(-(TEST_PLANES - z_min) // z_step))
    if declared_run(factor, index + 3) <= index:
        raise InputError(f"the Z/XY factor {factor:g} is too far from any fraction p/q with q <= {MAX_STEP} to declare "
                         "the output size of a package; train with a factor such as "
                         f"{float(Fraction(factor).limit_denominator(MAX_STEP)):g}")
    return z_min + index * z_step


@dataclass(frozen=True)
class ZoomPackaging:
    """What differs in a Z-zooming package: test tensors (a stack), weights (the recipe graph plus the bare network
    as attachments) and the tensor descriptions."""

    spec: NetworkSpec
    geometry: AxisGeometry

    @property
    def recipe(self):
        from ..train.isotropic_export import Recipe

        spec = self.spec
        return Recipe(spec.kind == "isotropic", spec.z_factor, round_up(spec.halo, spec.divisor), spec.divisor,
                      spec.probabilistic, (spec.pmin, spec.pmax, spec.eps))

    def test_crop(self, stack: np.ndarray) -> np.ndarray:
        """A central (Z, Y, X) crop of the sample stack with a declared number of planes and a lateral size the
        network takes; mirror-padded where the sample is smaller."""
        if stack.ndim != 3 or stack.shape[0] < 2:
            raise InputError(f"the sample image of a Z-zooming model must be a stack (Z, Y, X) of at least 2 "
                             f"planes, got shape {stack.shape}; give one with --sample STACK.tif (models and packages "
                             "made before carekit kept stack samples hold a single plane)")
        planes = sample_planes(self.spec.z_factor)
        step, min_size = self.geometry.step, self.geometry.min_size
        lateral = round_up(max(TEST_LATERAL, min_size), step)
        wanted = (planes, lateral, lateral)
        short = [max(0, w - n) for w, n in zip(wanted, stack.shape)]
        stack = np.pad(stack, [(p // 2, p - p // 2) for p in short], mode="symmetric")
        start = [(n - w) // 2 for n, w in zip(stack.shape, wanted)]
        return np.ascontiguousarray(stack[tuple(slice(a, a + w) for a, w in zip(start, wanted))], np.float32)

    def test_output(self, model, crop: np.ndarray) -> np.ndarray:
        from ..train.tf import import_tensorflow

        tf = import_tensorflow()
        out = np.asarray(self.recipe(model, tf.constant(self.recipe_input(crop, warn_as="sample image"))))
        if not np.isfinite(out).all():
            raise InputError("the model gives NaN/Inf on the sample image: its weights are damaged (e.g. by diverged "
                             "training); retrain it before packaging")
        return out

    def recipe_input(self, crop: np.ndarray, warn_as: str | None = None) -> np.ndarray:
        """The test crop as the recipe graph takes it (batch and channel axes added): normalized for isotropic
        restoration; raw for axial upsampling, whose graph normalizes after its zoom."""
        spec = self.spec
        given = (normalize_percentile(crop, spec.pmin, spec.pmax, spec.eps, warn_as=warn_as)
                 if spec.kind == "isotropic" else crop)
        return np.ascontiguousarray(given[None, ..., None], np.float32)

    def network_input(self, crop: np.ndarray) -> np.ndarray:
        """An input for the bare network cut from the normalized test crop: its middle plane (isotropic: a 2D
        network), or the stack mirror-padded along Z to a multiple of the network's step (upsampling: 3D)."""
        spec = self.spec
        normalized = normalize_percentile(crop, spec.pmin, spec.pmax, spec.eps)
        if spec.kind == "isotropic":
            return normalized[len(normalized) // 2][None, ..., None]
        extra = round_up(len(normalized), self.geometry.step) - len(normalized)
        return np.pad(normalized, [(0, extra), (0, 0), (0, 0)], mode="symmetric")[None, ..., None]

    def export_weights(self, model, work: Path, formats: tuple[str, ...], crop: np.ndarray
                       ) -> tuple[dict, dict[str, str]]:
        """({format: recipe weights or None}, {format: attached bare-network file}: Keras HDF5 and the requested
        formats); `crop`: the test input, on which the ONNX exports are checked against TensorFlow."""
        from ..train import export

        recipe = self.recipe
        files = {"keras_hdf5": None,
                 "tensorflow_saved_model_bundle": export.save_saved_model_zip(
                     model, work / "care_tf_saved_model.zip", recipe=recipe)
                 if "tensorflow_saved_model_bundle" in formats else None,
                 "onnx": export.save_onnx(model, work / "care.onnx", self.recipe_input(crop), recipe=recipe)
                 if "onnx" in formats else None}
        network = {fmt: name for fmt, name in NETWORK_FILES.items() if fmt == "keras_hdf5" or fmt in formats}
        export.save_keras_hdf5(model, work / network["keras_hdf5"])  # always: re-packaging rebuilds from it
        if "tensorflow_saved_model_bundle" in network:
            export.save_saved_model_zip(model, work / network["tensorflow_saved_model_bundle"])
        if "onnx" in network:
            export.save_onnx(model, work / network["onnx"], self.network_input(crop))
        return files, network

    def write_test_tensors(self, work: Path, crop: np.ndarray, test_out: np.ndarray, pixel_size: dict) -> None:
        """`pixel_size`: the model record's (an isotropic model records its output's, an upsampling model its
        input's); the sample TIFFs get Z pixel sizes that differ by the factor."""
        np.save(work / "test_input.npy", crop[None, ..., None])
        np.save(work / "test_output.npy", test_out)
        factor = self.spec.z_factor
        given, isotropic = dict(pixel_size or {}), self.spec.kind == "isotropic"
        changed = {**given, "Z": given["Z"] * factor if isotropic else given["Z"] / factor} if given.get("Z") else given
        write_image(work / "sample_input.tif", Image(crop, "ZYX", changed if isotropic else given))
        write_image(work / "sample_output.tif", Image(test_out[0, ..., 0], "ZYX", given if isotropic else changed))

    def tensors(self, work: Path) -> tuple[list, list]:
        """The input (a raw stack; Z scaled by the factor) and output (Z referenced to the input's) descriptions.
        An isotropic input is normalized over z, y and x by preprocessing; an upsampling graph normalizes the
        zoomed stack itself, as restore() does."""
        z_min, z_step = declared_z_sizes(self.spec.z_factor)
        spec, geometry = self.spec, self.geometry
        scale_range = v0_5.ScaleRangeDescr(kwargs=v0_5.ScaleRangeKwargs(
            axes=[v0_5.AxisId(a) for a in "zyx"], min_percentile=spec.pmin, max_percentile=spec.pmax, eps=spec.eps))
        p, q = declared_fraction(self.spec.z_factor)
        z_in = v0_5.SpaceInputAxis(id=v0_5.AxisId("z"), size=v0_5.ParameterizedSize(min=z_min, step=z_step),
                                   scale=float(p))
        lateral = [v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.ParameterizedSize(min=geometry.min_size,
                                                                                      step=geometry.step), scale=q)
                   for a in "yx"]
        inputs = v0_5.InputTensorDescr(
            id=v0_5.TensorId(TENSOR_INPUT), axes=[v0_5.BatchAxis(), z_in, *lateral,
                                                  v0_5.ChannelAxis(channel_names=[v0_5.Identifier("raw")])],
            description=f"raw fluorescence stack (one channel), Z pixels {self.spec.z_factor:g}x the lateral ones"
                        + ("" if spec.kind == "isotropic" else "; the graph normalizes it after the Z zoom"),
            test_tensor=v0_5.FileDescr(source=work / "test_input.npy"),
            sample_tensor=v0_5.FileDescr(source=work / "sample_input.tif"),
            data=v0_5.IntervalOrRatioDataDescr(type="float32"),
            preprocessing=[v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32"))] + (
                [scale_range] if spec.kind == "isotropic" else []))
        reference = {a: v0_5.SizeReference(tensor_id=v0_5.TensorId(TENSOR_INPUT), axis_id=v0_5.AxisId(a))
                     for a in "zyx"}
        outputs = v0_5.OutputTensorDescr(
            id=v0_5.TensorId(TENSOR_OUTPUT),
            axes=[v0_5.BatchAxis(), v0_5.SpaceOutputAxis(id=v0_5.AxisId("z"), size=reference["z"], scale=q),
                  *[v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(a), halo=geometry.halo, size=reference[a], scale=q)
                    for a in "yx"],
                  v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in self.spec.output_channels])],
            description=f"restored stack in normalized units, Z zoomed by {self.spec.z_factor:g} (round(Z * factor) "
                        "planes, isotropic sampling)" + (" (channel 0: Laplace mean, 1: scale)"
                                                         if self.spec.probabilistic else ""),
            test_tensor=v0_5.FileDescr(source=work / "test_output.npy"),
            sample_tensor=v0_5.FileDescr(source=work / "sample_output.tif"),
            data=v0_5.IntervalOrRatioDataDescr(type="float32"))
        return [inputs], [outputs]

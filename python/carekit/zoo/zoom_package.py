"""Packages of models that zoom Z (isotropic restoration, axial upsampling) with the whole recipe in the exported
graph (train.isotropic_export): bioimageio.core and deepImageJ run raw stack (Z, Y, X) in -> round(Z * factor)
planes out with no carekit code. carekit's own tiled, memory-bounded path runs the bare network, attached to the
package in every weight format (config.carekit.network_weights). The Keras HDF5 format cannot hold the recipe
without carekit code, so these packages have SavedModel and ONNX weights only.

The output's Z size is declared the spec 0.5 way: a SizeReference to the input's Z with the input Z axis scaled by
the factor (output scale 1), which bioimageio.spec computes as floor(Z * factor) while the graph (like scipy's zoom)
gives round(Z * factor). The declared scale is the factor times SCALE_MARGIN, so that a factor a rounding error below
an integer (1.2 / 0.4 = 2.9999999999999996) still gives Z * 3 planes. The declared input Z sizes (min + n * step) are chosen where the two agree: every Z for an
integer factor, every step-th Z for a factor p/step such as 10.2 = 51/5; for other factors the rule holds for the
first DECLARED_RANGE sizes it allows (checked), not beyond.
"""

from __future__ import annotations

from dataclasses import dataclass
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
DECLARED_RANGE = 256  # declared input Z sizes checked against round(Z * factor)
SCALE_MARGIN = 1 + 1e-9


def zooms_z(record: ModelRecord) -> bool:
    return record.kind == "isotropic" or record.z_factor > 1


def declared_output_z(z: int, factor: float) -> int:
    """bioimageio.spec's SizeReference rule for the output Z (input scale factor * SCALE_MARGIN, output scale 1)."""
    return int(z * (factor * SCALE_MARGIN) / 1.0)


def declared_z_sizes(factor: float) -> tuple[int, int]:
    """(min, step) of the input Z sizes whose declared output size floor(Z * factor) equals round(Z * factor) for
    DECLARED_RANGE sizes, the smallest step first; the longest agreeing run when none agrees that long."""
    best, best_run = (2, 1), -1
    for step in range(1, MAX_STEP + 1):
        for start in range(2, 2 + step):
            sizes = range(start, start + DECLARED_RANGE * step, step)
            run = next((i for i, z in enumerate(sizes) if declared_output_z(z, factor) != round(z * factor)),
                       len(sizes))
            if run == len(sizes):
                return start, step
            if run > best_run:
                best, best_run = (start, step), run
    if best_run < 3:
        raise InputError(f"no input Z sizes with a declarable output size were found for the factor {factor:g}")
    return best


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
            raise InputError(f"the sample image of a Z-zooming model must be a stack (Z, Y, X) of at least 2 planes, "
                             f"got shape {stack.shape}")
        z_min, z_step = declared_z_sizes(self.spec.z_factor)
        planes = z_min + max(0, -(-(TEST_PLANES - z_min) // z_step)) * z_step
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
        spec = self.spec
        given = (normalize_percentile(crop, spec.pmin, spec.pmax, spec.eps, warn_as="sample image")
                 if spec.kind == "isotropic" else crop)  # an upsampling graph normalizes after its zoom
        out = np.asarray(self.recipe(model, tf.constant(given[None, ..., None])))
        if not np.isfinite(out).all():
            raise InputError("the model gives NaN/Inf on the sample image: its weights are damaged (e.g. by diverged "
                             "training); retrain it before packaging")
        return out

    def export_weights(self, model, work: Path, formats: tuple[str, ...]) -> tuple[dict, dict[str, str]]:
        """({format: recipe weights or None}, {format: attached bare-network file})."""
        from ..train import export

        recipe = self.recipe
        files = {"keras_hdf5": None,
                 "tensorflow_saved_model_bundle": export.save_saved_model_zip(
                     model, work / "care_tf_saved_model.zip", recipe=recipe)
                 if "tensorflow_saved_model_bundle" in formats else None,
                 "onnx": export.save_onnx(model, work / "care.onnx", recipe=recipe) if "onnx" in formats else None}
        export.save_keras_hdf5(model, work / NETWORK_FILES["keras_hdf5"])
        export.save_saved_model_zip(model, work / NETWORK_FILES["tensorflow_saved_model_bundle"])
        export.save_onnx(model, work / NETWORK_FILES["onnx"])
        return files, dict(NETWORK_FILES)

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
        z_in = v0_5.SpaceInputAxis(id=v0_5.AxisId("z"), size=v0_5.ParameterizedSize(min=z_min, step=z_step),
                                   scale=self.spec.z_factor * SCALE_MARGIN)
        lateral = [v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.ParameterizedSize(min=geometry.min_size,
                                                                                      step=geometry.step))
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
            axes=[v0_5.BatchAxis(), v0_5.SpaceOutputAxis(id=v0_5.AxisId("z"), size=reference["z"], scale=1.0),
                  *[v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(a), halo=geometry.halo, size=reference[a])
                    for a in "yx"],
                  v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in self.spec.output_channels])],
            description=f"restored stack in normalized units, Z zoomed by {self.spec.z_factor:g} (round(Z * factor) "
                        "planes, isotropic sampling)" + (" (channel 0: Laplace mean, 1: scale)"
                                                         if self.spec.probabilistic else ""),
            test_tensor=v0_5.FileDescr(source=work / "test_output.npy"),
            sample_tensor=v0_5.FileDescr(source=work / "sample_output.tif"),
            data=v0_5.IntervalOrRatioDataDescr(type="float32"))
        return [inputs], [outputs]

"""The bioimage.io spec 0.5 description of a carekit model: axis geometry, test tensors, weights and config."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from bioimageio.spec import ValidationContext
from bioimageio.spec.model import v0_5

from .. import __version__
from ..config import PROJECTION_MIN_PLANES, PackageCarekitBlock
from ..io import Image, write_image
from ..models.spec import NetworkSpec, receptive_halo
from ..tiling import round_up
from ..train.tf import import_tensorflow

CARE_DOI = "10.1038/s41592-018-0216-7"
CARE_CITATION = ("Weigert et al. Content-aware image restoration: pushing the limits of fluorescence microscopy. "
                 "Nature Methods 15, 1090-1097 (2018)")
TENSOR_INPUT, TENSOR_OUTPUT = "input", "output"


class AxisGeometry(NamedTuple):
    step: int
    halo: int
    min_size: int


def axis_geometry(unet_depth: int, kern_size: int) -> AxisGeometry:
    """(step, halo, minimum size) per spatial axis: sizes must be multiples of 2**depth; the halo covers the
    receptive field and 2*halo is a multiple of the step (the spec requires it)."""
    step = 2**unet_depth
    halo = round_up(receptive_halo(unet_depth, kern_size), step)
    return AxisGeometry(step, halo, 2 * halo + step)


def network_geometry(spec: NetworkSpec, unet_depth: int, kern_size: int) -> AxisGeometry:
    """The lateral geometry of a network: a projection spec's halo is already rounded to its step (the 3D head's
    pooling can set it); Z of a projection input is free (any number of planes from PROJECTION_MIN_PLANES)."""
    if spec.projection:
        return AxisGeometry(spec.divisor, spec.halo, 2 * spec.halo + spec.divisor)
    return axis_geometry(unet_depth, kern_size)


def write_test_tensors(work: Path, test_in: np.ndarray, test_out: np.ndarray, axes: str, pixel_size: dict,
                       in_axes: str | None = None) -> None:
    """The test tensors (batch and channel axes added) and the sample tensors (one channel, as TIFF); `in_axes`
    when the input's axes differ from the output's `axes` (a projection model: ZYX in, YX out)."""
    np.save(work / "test_input.npy", test_in[None, ..., None])
    np.save(work / "test_output.npy", test_out)
    write_image(work / "sample_input.tif", Image(test_in, in_axes or axes, pixel_size))
    write_image(work / "sample_output.tif", Image(test_out[0, ..., 0], axes, pixel_size))


def _input_tensor(spec: NetworkSpec, geometry: AxisGeometry, work: Path) -> v0_5.InputTensorDescr:
    space_ids = [a.lower() for a in spec.axes]
    planes = [v0_5.SpaceInputAxis(id=v0_5.AxisId("z"), size=v0_5.ParameterizedSize(min=PROJECTION_MIN_PLANES, step=1))
              ] if spec.projection else []
    axes = [v0_5.BatchAxis()] + planes + [
        v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.ParameterizedSize(min=geometry.min_size, step=geometry.step))
        for a in space_ids] + [v0_5.ChannelAxis(channel_names=[v0_5.Identifier("raw")])]
    space_ids = ["z"] * spec.projection + space_ids
    scale_range = v0_5.ScaleRangeDescr(kwargs=v0_5.ScaleRangeKwargs(
        axes=[v0_5.AxisId(a) for a in space_ids], min_percentile=spec.pmin, max_percentile=spec.pmax, eps=spec.eps))
    return v0_5.InputTensorDescr(
        id=v0_5.TensorId(TENSOR_INPUT), axes=axes,
        description="raw fluorescence " + ("stack, every plane" if spec.projection else "image") + " (one channel)",
        test_tensor=v0_5.FileDescr(source=work / "test_input.npy"),
        sample_tensor=v0_5.FileDescr(source=work / "sample_input.tif"),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=[v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32")), scale_range])


def _output_tensor(spec: NetworkSpec, geometry: AxisGeometry, work: Path) -> v0_5.OutputTensorDescr:
    axes = [v0_5.BatchAxis()] + [
        v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(a), halo=geometry.halo,
                                     size=v0_5.SizeReference(tensor_id=v0_5.TensorId(TENSOR_INPUT), axis_id=v0_5.AxisId(a)))
        for a in (a.lower() for a in spec.axes)] + [
        v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in spec.output_channels])]
    return v0_5.OutputTensorDescr(
        id=v0_5.TensorId(TENSOR_OUTPUT), axes=axes,
        description=("restored projection" if spec.projection else "restored image") + " in normalized units" + (
            f" (Laplace mean, scale of {spec.ensemble_members} ensemble members)" if spec.ensemble_members
            else " (channel 0: Laplace mean, 1: scale)" if spec.probabilistic else ""),
        test_tensor=v0_5.FileDescr(source=work / "test_output.npy"),
        sample_tensor=v0_5.FileDescr(source=work / "sample_output.tif"),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"))


def _weights(files: dict[str, Path | None]) -> v0_5.WeightsDescr:
    """The first format exported (keras_hdf5, else the SavedModel of a projection model) is the parent the other
    formats were converted from; formats not exported are None in `files`."""
    tf_version = v0_5.Version(import_tensorflow().__version__)
    parent = next(fmt for fmt, path in files.items() if path)
    weights = {}
    if files["keras_hdf5"]:
        weights["keras_hdf5"] = v0_5.KerasHdf5WeightsDescr(source=files["keras_hdf5"], tensorflow_version=tf_version)
    if files["tensorflow_saved_model_bundle"]:
        weights["tensorflow_saved_model_bundle"] = v0_5.TensorflowSavedModelBundleWeightsDescr(
            source=files["tensorflow_saved_model_bundle"], tensorflow_version=tf_version,
            parent=None if parent == "tensorflow_saved_model_bundle" else parent)
    if files["onnx"]:
        from ..train.export import ONNX_OPSET

        weights["onnx"] = v0_5.OnnxWeightsDescr(source=files["onnx"], opset_version=ONNX_OPSET,
                                                parent=None if parent == "onnx" else parent)
    return v0_5.WeightsDescr(**weights)


_ARCHITECTURE = {False: "CARE U-Net (csbdeep), residual, channels last",
                 True: "3D encoder-decoder -> softmax over Z -> weighted sum of the planes -> CARE U-Net (csbdeep), "
                       "residual, channels last"}


def _config(spec: NetworkSpec, geometry: AxisGeometry, network_weights: dict | None = None) -> dict:
    halo, step = geometry.halo, geometry.step
    architecture = ({"architecture_type": "carekit-z-zoom", "architecture_description": _zoom_architecture(spec)}
                    if network_weights else
                    {"architecture_type": "carekit-projection" if spec.projection else "csbdeep-unet",
                     "architecture_description": _ARCHITECTURE[spec.projection]})
    return {
        "bioimageio": architecture,
        "deepimagej": {"pyramidal_model": False, "allow_tiling": True, "model_keys": None,
                       "prediction": {"preprocess": [{"spec": None}], "postprocess": [{"spec": None}]}},
        "carekit": PackageCarekitBlock(
            version=__version__, probabilistic=spec.probabilistic, axes=spec.axes, norm_pmin=spec.pmin,
            norm_pmax=spec.pmax, halo=halo, step=step, output_channels=list(spec.output_channels),
            ensemble_members=spec.ensemble_members, domain=spec.domain, kind=spec.kind,
            z_factor=spec.z_factor, network_weights=network_weights or {}, rescale=spec.rescale,
            classical_blend=spec.classical_blend).for_rdf(),
    }


def _zoom_architecture(spec: NetworkSpec) -> str:
    zoom = f"linear Z zoom by {spec.z_factor:g} -> "
    if spec.kind == "isotropic":
        return (zoom + "CARE U-Net (csbdeep) on every XZ and every YZ plane -> geometric mean of the two "
                "(probabilistic scale: maximum); the bare 2D network is attached (config.carekit.network_weights)")
    return zoom + "3D CARE U-Net (csbdeep); the bare network is attached (config.carekit.network_weights)"


def describe(spec: NetworkSpec, name: str, description: str, authors: tuple[str, ...],
             tags: tuple[str, ...], files: dict[str, Path | None], work: Path, geometry: AxisGeometry,
             attachments: list[Path], github_users: tuple[str, ...] = (), tensors: tuple | None = None,
             network_weights: dict | None = None) -> v0_5.ModelDescr:
    """The model description; every file it names lies in `work` (README.md, cover.png, test tensors, ...).

    The file entries are made first, with I/O checks (they record each file's SHA-256); the description itself
    without: with them bioimageio.spec looks each maintainer up with the GitHub API (no network here; bioimage.io
    checks the names on upload, test_model checks the rest)."""
    parts = dict(
        documentation=v0_5.FileDescr(source=work / "README.md"),
        covers=[v0_5.FileDescr(source=work / "cover.png")],
        attachments=[v0_5.FileDescr(source=p) for p in attachments],
        inputs=tensors[0] if tensors else [_input_tensor(spec, geometry, work)],
        outputs=tensors[1] if tensors else [_output_tensor(spec, geometry, work)],
        weights=_weights(files),
    )
    with ValidationContext(perform_io_checks=False):
        return v0_5.ModelDescr(
            name=name, description=description,
            authors=[v0_5.Author(name=a) for a in authors],
            maintainers=[v0_5.Maintainer(github_user=user) for user in github_users],
            cite=[v0_5.CiteEntry(text=CARE_CITATION, doi=v0_5.Doi(CARE_DOI))],
            license=v0_5.LicenseId("CC-BY-4.0"),
            tags=sorted({"care", "csbdeep", "denoising", "fluorescence-light-microscopy", f"{len(spec.axes)}d",
                         *(("projection", "3d") if spec.projection else ()),
                         *(("3d",) if network_weights else ()),
                         "tensorflow", "onnx", *tags}),
            version="0.1.0",
            config=_config(spec, geometry, network_weights),
            **parts,
        )

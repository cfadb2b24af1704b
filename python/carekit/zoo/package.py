"""Build BioImage Model Zoo packages (bioimage.io spec 0.5) from trained carekit models, validated before saving."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import MODEL_CONFIG_FILE, ModelRecord
from ..errors import CarekitError, InputError
from ..models.spec import NetworkSpec, network_spec_from_record
from ..normalize import normalize_percentile
from ..safe_write import atomic_folder, copy_file, prepare_output_folder
from . import docs
from .sample import central_projection_crop, central_test_crop, checked_sample, sample_image
from .spec import describe, network_geometry, write_test_tensors
from .validate import WEIGHT_FORMATS, check_package, validate_package  # noqa: F401 (validate_package: public here)
from .zoom_package import ZoomPackaging, zooms_z


class PackageValidationError(CarekitError):
    """bioimageio.core's test_model failed for at least one weight format; nothing was saved."""


@dataclass
class PackageResult:
    zip_path: Path
    folder: Path | None
    test_results: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def build_package(model_dir: str | Path, out_zip: str | Path, *, name: str | None = None, description: str | None = None,
                  authors: tuple[str, ...] = ("carekit user",), sample: str | Path | np.ndarray | None = None,
                  formats: tuple[str, ...] = WEIGHT_FORMATS, evaluation: dict | None = None,
                  unzipped_folder: bool = True, tags: tuple[str, ...] = (),
                  maintainers: tuple[str, ...] = ()) -> PackageResult:
    """Package a trained model as a bioimage.io spec 0.5 zip (and an unzipped folder next to it).

    The test tensors and cover come from `sample`, by default from the sample input the model folder keeps from
    training. Every weight format is checked with bioimageio.core's test_model; if any fails, nothing is written
    and PackageValidationError carries the failing report. `maintainers` are GitHub user names: bioimage.io
    needs at least one to accept an upload (without one, test_model warns). A projection model (stack in, 2D
    out) gets no keras_hdf5 weights: Keras cannot load its custom layer without carekit; nor do isotropic and
    axial-upsampling models, whose weights hold the whole Z-zoom recipe (zoom_package).
    """
    model_dir, out_zip = Path(model_dir), Path(out_zip)
    record = ModelRecord.load(model_dir)
    if record.kind == "projection" or zooms_z(record):
        formats = tuple(fmt for fmt in formats if fmt != "keras_hdf5")
    _check_target(out_zip, formats, ("isotropic" if record.kind == "isotropic" else "axial-upsampling")
                  if zooms_z(record) else record.kind)
    for user in maintainers:
        _check_github_user(user)
    folder = out_zip.with_suffix("") if unzipped_folder else None
    if folder is not None and folder.exists() and not (folder / "rdf.yaml").exists():
        raise InputError(f"{folder} exists and is not a bioimage.io package folder; the unzipped package would "
                         "replace it: choose another package path")
    spec = network_spec_from_record(record)
    name = name or f"CARE {record.name}"
    if not 5 <= len(name) <= 128:
        raise InputError(f"a bioimage.io model name needs 5 to 128 characters, got {name!r}")
    description = description or _default_description(spec)

    from ..models.keras_dir import load_keras_model

    model = load_keras_model(model_dir)
    geometry = network_geometry(spec, record.train.unet_depth, record.train.unet_kern_size)
    image = checked_sample(sample_image(record, model_dir, sample))
    zoom = ZoomPackaging(spec, geometry) if zooms_z(record) else None
    crop, test_out = _test_pair(model, image, spec, geometry, zoom, model_dir)

    with tempfile.TemporaryDirectory(prefix="carekit-package-") as tmp:
        work = Path(tmp) / "files"
        work.mkdir()
        files, network = _weights_and_tensors(model, work, formats, zoom, (crop, test_out), record, spec)
        docs.cover(crop, test_out[0, ..., 0], work / "cover.png")
        (work / "README.md").write_text(docs.readme(record, name, description, evaluation, formats))
        attachments = _attachments(model_dir, work, evaluation) + [work / f for f in (network or {}).values()]
        descr = describe(spec, name, description, authors, tags, files, work, geometry, attachments, maintainers,
                         zoom.tensors(work) if zoom else None, network)
        package = Path(tmp) / out_zip.name
        results, warnings = _saved_and_tested(descr, package, formats)
        copy_file(package, out_zip)
    if folder is not None:
        with atomic_folder(folder) as unzipped, zipfile.ZipFile(out_zip) as zf:
            zf.extractall(unzipped)
    return PackageResult(out_zip, folder, results, warnings)


def _check_github_user(user: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", user):
        raise InputError(f"a maintainer is a GitHub user name (letters, digits, single hyphens), got {user!r}")


def _check_target(out_zip: Path, formats: tuple[str, ...], kind: str) -> None:
    if out_zip.suffix != ".zip":
        raise InputError(f"the package path must end in .zip, got {out_zip}")
    if out_zip.is_dir():
        raise InputError(f"the package path {out_zip} is a folder; give a .zip file path")
    prepare_output_folder(out_zip.parent)
    unknown = set(formats) - set(WEIGHT_FORMATS)
    graph_only = kind in ("projection", "isotropic", "axial-upsampling")
    if graph_only and (unknown or not formats):
        raise InputError(f"a {kind} package holds tensorflow_saved_model_bundle and/or onnx weights (Keras "
                         f"cannot load its custom layers from keras_hdf5 without carekit), got {formats}")
    if not graph_only and (unknown or "keras_hdf5" not in formats):
        raise InputError(f"weight formats must include keras_hdf5 and be among {WEIGHT_FORMATS}, got {formats}")


def _default_description(spec: NetworkSpec) -> str:
    if spec.kind == "isotropic":
        return (f"Isotropic CARE restoration of anisotropic 3D stacks (Z/XY factor {spec.z_factor:g}): Z zoom, a 2D "
                "network on the XZ/YZ planes and their geometric mean, all in the graph (trained with carekit)")
    if spec.kind == "projection":
        return "CARE joint surface projection and denoising of 3D fluorescence stacks to 2D (trained with carekit)"
    kind = (f"ensemble of {spec.ensemble_members} probabilistic networks, " if spec.ensemble_members
            else "probabilistic, " if spec.probabilistic else "")
    return f"CARE restoration of {len(spec.axes)}D fluorescence images ({kind}trained with carekit)"


def _test_pair(model, image: np.ndarray, spec: NetworkSpec, geometry, zoom: ZoomPackaging | None, model_dir: Path):
    """The test input cut from the sample image and the model's output for it."""
    if zoom:
        crop = zoom.test_crop(image)
        return crop, zoom.test_output(model, crop)
    crop = (central_projection_crop(image, geometry.step, geometry.min_size) if spec.projection
            else central_test_crop(image, len(spec.axes), geometry.step, geometry.min_size))
    return crop, _test_output(model, crop, spec, model_dir)


def _weights_and_tensors(model, work: Path, formats, zoom: ZoomPackaging | None, test_pair, record: ModelRecord,
                         spec: NetworkSpec) -> tuple[dict, dict | None]:
    """Export the weights and write the test tensors into `work`: ({format: file or None}, {format: attached bare
    network} for a Z-zooming package, else None)."""
    crop, test_out = test_pair
    if zoom:
        zoom.write_test_tensors(work, crop, test_out, record.pixel_size)
        return zoom.export_weights(model, work, formats, crop)
    write_test_tensors(work, crop, test_out, spec.axes, record.pixel_size, "ZYX" if spec.projection else None)
    return _export_weights(model, work, formats, _network_input(crop, spec)), None


def _test_output(model, crop: np.ndarray, spec: NetworkSpec, model_dir: Path) -> np.ndarray:
    """The network's output for the test input (batch and channel axes added), refused when not finite."""
    test_out = np.asarray(model(_network_input(crop, spec, warn_as="sample image"), training=False))
    if not np.isfinite(test_out).all():
        raise InputError(f"{model_dir} gives NaN/Inf on the sample image: its weights are damaged (e.g. by diverged "
                         "training); retrain or resume it from good weights before packaging")
    return test_out


def _network_input(crop: np.ndarray, spec: NetworkSpec, warn_as: str | None = None) -> np.ndarray:
    """The test input as the network takes it: normalized, with batch and channel axes."""
    return normalize_percentile(crop, spec.pmin, spec.pmax, warn_as=warn_as)[None, ..., None]


def _export_weights(model, work: Path, formats: tuple[str, ...], probe: np.ndarray) -> dict[str, Path | None]:
    """`probe`: the network's test input, on which the ONNX export is checked against TensorFlow."""
    from ..train import export

    return {
        "keras_hdf5": export.save_keras_hdf5(model, work / "care_keras.h5") if "keras_hdf5" in formats else None,
        "tensorflow_saved_model_bundle": export.save_saved_model_zip(model, work / "care_tf_saved_model.zip")
        if "tensorflow_saved_model_bundle" in formats else None,
        "onnx": export.save_onnx(model, work / "care.onnx", probe) if "onnx" in formats else None,
    }


def _attachments(model_dir: Path, work: Path, evaluation: dict | None) -> list[Path]:
    """The carekit configuration, the measured metrics (evaluation.json, which re-packaging reuses) and, when
    present, the training-history plot, copied into `work`."""
    shutil.copy(model_dir / MODEL_CONFIG_FILE, work / MODEL_CONFIG_FILE)
    attachments = [work / MODEL_CONFIG_FILE]
    if evaluation:
        (work / "evaluation.json").write_text(json.dumps(evaluation, indent=2))
        attachments.append(work / "evaluation.json")
    if (model_dir / "history.png").exists():
        shutil.copy(model_dir / "history.png", work / "history.png")
        attachments.append(work / "history.png")
    return attachments


def _saved_and_tested(descr, package: Path, formats: tuple[str, ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Write the package zip and run test_model on each weight format; PackageValidationError if any fails.
    Returns the results and the warnings per format."""
    from bioimageio.spec import ValidationContext, save_bioimageio_package

    with ValidationContext(perform_io_checks=False):  # its re-load would look maintainers up on GitHub (see describe)
        save_bioimageio_package(descr, output_path=package)
    results, warnings = check_package(package, formats)
    failed = {fmt: report for fmt, report in results.items() if report != "passed"}
    if failed:
        raise PackageValidationError("bioimageio.core test_model failed; no package was saved:\n" +
                                     "\n".join(f"[{fmt}]\n{report}" for fmt, report in failed.items()))
    return results, warnings

"""Build BioImage Model Zoo packages (bioimage.io spec 0.5) from trained carekit models, validated before saving."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import MODEL_CONFIG_FILE, ModelRecord, PackageCarekitBlock
from ..data.patches import real_array
from ..normalize import normalize_percentile
from ..errors import CarekitError, InputError
from ..io import Image, check_image, list_tiffs, read_image, write_image
from ..models.spec import network_spec_from_record, receptive_halo
from ..safe_write import atomic_folder, copy_file, prepare_output_folder

WEIGHT_FORMATS = ("keras_hdf5", "tensorflow_saved_model_bundle", "onnx")
CARE_DOI = "10.1038/s41592-018-0216-7"
TEST_SIZE = {2: (256, 256), 3: (48, 128, 128)}
TENSOR_INPUT, TENSOR_OUTPUT = "input", "output"


class PackageValidationError(CarekitError):
    """bioimageio.core's test_model failed for at least one weight format; nothing was saved."""


@dataclass
class PackageResult:
    zip_path: Path
    folder: Path | None
    test_results: dict[str, str] = field(default_factory=dict)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def axis_geometry(unet_depth: int, kern_size: int) -> tuple[int, int, int]:
    """(step, halo, minimum size) per spatial axis: sizes must be multiples of 2**depth; the halo covers the
    receptive field and 2*halo is a multiple of the step (the spec requires it)."""
    step = 2**unet_depth
    halo = _round_up(receptive_halo(unet_depth, kern_size), step)
    return step, halo, 2 * halo + step


def _test_crop(image: np.ndarray, ndim: int, step: int, min_size: int) -> np.ndarray:
    """A central crop of the sample for the test tensors; axes shorter than the network's minimum size (e.g. a
    stack of few planes) are mirror-padded to it."""
    if image.ndim != ndim:
        raise InputError(f"the sample image must be {ndim}D like the model, got shape {image.shape}")
    if min(image.shape) < 2:
        raise InputError(f"the sample image {image.shape} needs at least 2 pixels along every axis")
    short = [max(0, min_size - n) for n in image.shape]
    image = np.pad(image, [(pad // 2, pad - pad // 2) for pad in short], mode="symmetric")
    size = [(min(n, max(wanted, min_size)) // step) * step for n, wanted in zip(image.shape, TEST_SIZE[ndim])]
    start = [(n - s) // 2 for n, s in zip(image.shape, size)]
    return np.ascontiguousarray(image[tuple(slice(a, a + s) for a, s in zip(start, size))], dtype=np.float32)


def _sample_image(record: ModelRecord, sample: str | Path | np.ndarray | None) -> np.ndarray:
    if isinstance(sample, np.ndarray):
        return sample
    if sample is not None:
        return read_image(sample).data
    source = record.data.get("source")
    if source == "pairs":
        return read_image(list_tiffs(record.data["low"])[0]).data
    if source in ("clean", "synthetic"):
        from ..workflows import training_pairs

        first_image_only = {**record.data, "max_images": 1} if source == "clean" else {**record.data, "n_images": 1}
        lows, _, _ = training_pairs(first_image_only, len(record.train.axes))
        return lows[0]
    images = record.data.get("images", {})
    if source == "selfsupervised" and images.get("source") == "noisy":
        from ..workflows import noisy_images

        return noisy_images(images, len(record.train.axes))[0]
    raise InputError("this model does not record loadable training data; give a sample image (--sample image.tif)")


def _checked_sample(sample) -> np.ndarray:
    """The sample as an array the test tensors can come from: real-valued and finite (NaN pixels would give an
    all-NaN test output that test_model passes)."""
    sample = real_array(sample, "sample image")
    problems = check_image(sample, "sample image")
    if problems:
        raise InputError("; ".join(problems) + " (give another --sample)")
    return sample


def _cover(raw: np.ndarray, restored: np.ndarray, path: Path) -> Path:
    """Input | restored side by side (2:1), each shown between its 1st and 99.8th percentile."""
    from matplotlib.figure import Figure

    if raw.ndim == 3:
        raw, restored = raw.max(axis=0), restored.max(axis=0)
    fig = Figure(figsize=(8, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, image, title in ((axes[0], raw, "input"), (axes[1], restored, "CARE")):
        lo, hi = np.percentile(image, [1, 99.8])
        ax.imshow(image, cmap="magma", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=14)
        ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.92, wspace=0.02)
    fig.savefig(path)
    return path


def _readme(record: ModelRecord, name: str, description: str, evaluation: dict | None, formats: tuple[str, ...]) -> str:
    train = record.train
    data = dict(record.data)
    lines = [
        f"# {name}", "", description, "",
        "A CARE network (content-aware image restoration, Weigert et al., Nature Methods 2018) trained with "
        f"[carekit](https://github.com/) {__version__} on csbdeep's U-Net.", "",
        "## Input and output", "",
        f"- input: one channel, axes {'/'.join(train.axes.lower())}, any size that is a multiple of "
        f"{2**train.unet_depth} per axis; normalized by the package (percentiles {train.norm_pmin} -> 0, "
        f"{train.norm_pmax} -> 1 of each image).",
        "- output: the restored image in those normalized units" +
        (f"; an ensemble of {len(record.members)} probabilistic networks: channels are the Laplace mean and scale of "
         "each member (carekit combines them into the mixture mean and the disagreement D in [0, 1])."
         if record.kind == "ensemble" else
         ", plus a second channel with the per-pixel Laplace scale (probabilistic CARE)." if train.probabilistic else "."),
        "", "## Training", "",
        f"- data: `{json.dumps(data)}`",
        f"- network: U-Net depth {train.unet_depth}, {train.unet_first} first filters, kernel {train.unet_kern_size}",
        f"- training: {record.epochs_done} epochs x {train.steps_per_epoch} steps, batch {train.batch_size}, "
        f"patches {train.patch_size}, learning rate {train.learning_rate}, loss {'Laplace' if train.probabilistic else 'MAE'}",
        f"- full configuration: `{MODEL_CONFIG_FILE}` (attached); training history: `history.png`", "",
        "## Validation", "",
    ]
    if evaluation:
        lines += ["Held-out semi-synthetic images, CARE normalization (ground truth 0.1/99.9 percentiles, prediction "
                  "fitted by least squares), data range 1:", "",
                  "| image | PSNR raw | PSNR CARE | SSIM raw | SSIM CARE |", "| --- | --- | --- | --- | --- |"]
        for row in evaluation.get("rows", []):
            lines.append(f"| {row['name']} | {row['raw']['psnr']:.2f} | {row['care']['psnr']:.2f} | "
                         f"{row['raw']['ssim']:.3f} | {row['care']['ssim']:.3f} |")
    else:
        lines.append("Validate on your own data: restore images with known high-SNR ground truth and compare with "
                     "`carekit evaluate` (PSNR/SSIM after CARE normalization).")
    lines += [
        "", "The package's test tensors reproduce to 1e-4 with every weight format "
        f"({', '.join(formats)}), checked with bioimageio.core test_model.", "",
        "## How to run", "",
        "- Python: `carekit predict --model this_package.zip image.tif --out restored/` "
        "(engines: onnx, tensorflow, keras).",
        "- Fiji/ImageJ: `run(\"CARE Restore\", \"model=[/path/to/this_package.zip] engine=python\");` with the carekit "
        "Fiji scripts installed, or deepImageJ (ONNX / TF SavedModel weights; deepImageJ runs TF SavedModels made "
        "with TensorFlow <= 2.10 only, so prefer the ONNX weights there).",
        "- Any bioimage.io consumer: bioimageio.core `predict`, deepImageJ, ...", "",
        "## Limitations", "",
        "CARE learns the image content and noise it was trained on: use it on similar structures, microscope and "
        "noise level, and check against ground truth before quantitative use.",
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _working_directory(path: Path):
    """bioimageio.core unzips TF weights into ./bioimageio_unzipped_tf_weights; keep that out of the user's folder."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def build_package(model_dir: str | Path, out_zip: str | Path, *, name: str | None = None, description: str | None = None,
                  authors: tuple[str, ...] = ("carekit user",), sample: str | Path | np.ndarray | None = None,
                  formats: tuple[str, ...] = WEIGHT_FORMATS, evaluation: dict | None = None,
                  unzipped_folder: bool = True, tags: tuple[str, ...] = ()) -> PackageResult:
    """Package a trained model as a bioimage.io spec 0.5 zip (and an unzipped folder next to it).

    Every weight format is checked with bioimageio.core's test_model; if any fails, nothing is written and
    PackageValidationError carries the failing report.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    model_dir, out_zip = Path(model_dir), Path(out_zip)
    if out_zip.suffix != ".zip":
        raise InputError(f"the package path must end in .zip, got {out_zip}")
    if out_zip.is_dir():
        raise InputError(f"the package path {out_zip} is a folder; give a .zip file path")
    prepare_output_folder(out_zip.parent)
    unknown = set(formats) - set(WEIGHT_FORMATS)
    if unknown or "keras_hdf5" not in formats:
        raise InputError(f"weight formats must include keras_hdf5 and be among {WEIGHT_FORMATS}, got {formats}")
    record = ModelRecord.load(model_dir)
    folder = out_zip.with_suffix("") if unzipped_folder else None
    if folder is not None and folder.exists() and not (folder / "rdf.yaml").exists():
        raise InputError(f"{folder} exists and is not a bioimage.io package folder; the unzipped package would "
                         "replace it: choose another package path")
    spec = network_spec_from_record(record)
    name = name or f"CARE {record.name}"
    if not 5 <= len(name) <= 128:
        raise InputError(f"a bioimage.io model name needs 5 to 128 characters, got {name!r}")
    kind = (f"ensemble of {spec.ensemble_members} probabilistic networks, " if spec.ensemble_members
            else "probabilistic, " if spec.probabilistic else "")
    description = description or f"CARE restoration of {len(spec.axes)}D fluorescence images ({kind}trained with carekit)"

    from ..models.keras_dir import load_keras_model
    from ..train import export

    model = load_keras_model(model_dir)
    step, halo, min_size = axis_geometry(record.train.unet_depth, record.train.unet_kern_size)
    crop = _test_crop(_checked_sample(_sample_image(record, sample)), len(spec.axes), step, min_size)
    normalized = normalize_percentile(crop, spec.pmin, spec.pmax, warn_as="sample image")
    test_out = np.asarray(model(normalized[None, ..., None], training=False))
    if not np.isfinite(test_out).all():
        raise InputError(f"{model_dir} gives NaN/Inf on the sample image: its weights are damaged (e.g. by diverged "
                         "training); retrain or resume it from good weights before packaging")

    with tempfile.TemporaryDirectory(prefix="carekit-package-") as tmp:
        work = Path(tmp) / "files"
        work.mkdir()
        files = {
            "keras_hdf5": export.save_keras_hdf5(model, work / "care_keras.h5"),
            "tensorflow_saved_model_bundle": export.save_saved_model_zip(model, work / "care_tf_saved_model.zip")
            if "tensorflow_saved_model_bundle" in formats else None,
            "onnx": export.save_onnx(model, work / "care.onnx") if "onnx" in formats else None,
        }
        np.save(work / "test_input.npy", crop[None, ..., None])
        np.save(work / "test_output.npy", test_out)
        write_image(work / "sample_input.tif", Image(crop, spec.axes, record.pixel_size))
        write_image(work / "sample_output.tif", Image(test_out[0, ..., 0], spec.axes, record.pixel_size))
        _cover(crop, test_out[0, ..., 0], work / "cover.png")
        (work / "README.md").write_text(_readme(record, name, description, evaluation, formats))
        shutil.copy(model_dir / MODEL_CONFIG_FILE, work / MODEL_CONFIG_FILE)
        attachments = [work / MODEL_CONFIG_FILE]
        if (model_dir / "history.png").exists():
            shutil.copy(model_dir / "history.png", work / "history.png")
            attachments.append(work / "history.png")

        descr = _describe(record, spec, name, description, authors, tags, files, work, step, halo, min_size, attachments)
        from bioimageio.spec import save_bioimageio_package

        package = Path(tmp) / out_zip.name
        save_bioimageio_package(descr, output_path=package)
        results = validate_package(package, formats, workdir=Path(tmp))
        failed = {fmt: report for fmt, report in results.items() if report != "passed"}
        if failed:
            raise PackageValidationError("bioimageio.core test_model failed; no package was saved:\n" +
                                         "\n".join(f"[{fmt}]\n{report}" for fmt, report in failed.items()))
        copy_file(package, out_zip)
    if folder is not None:
        with atomic_folder(folder) as unzipped, zipfile.ZipFile(out_zip) as zf:
            zf.extractall(unzipped)
    return PackageResult(out_zip, folder, results)


def _describe(record, spec, name, description, authors, tags, files, work, step, halo, min_size, attachments):
    import tensorflow as tf
    from bioimageio.spec.model import v0_5

    space_ids = [a.lower() for a in spec.axes]
    input_axes = [v0_5.BatchAxis()] + [
        v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.ParameterizedSize(min=min_size, step=step))
        for a in space_ids] + [v0_5.ChannelAxis(channel_names=[v0_5.Identifier("raw")])]
    output_axes = [v0_5.BatchAxis()] + [
        v0_5.SpaceOutputAxisWithHalo(id=v0_5.AxisId(a), halo=halo,
                                     size=v0_5.SizeReference(tensor_id=v0_5.TensorId(TENSOR_INPUT), axis_id=v0_5.AxisId(a)))
        for a in space_ids] + [v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in spec.output_channels])]
    scale_range = v0_5.ScaleRangeDescr(kwargs=v0_5.ScaleRangeKwargs(
        axes=[v0_5.AxisId(a) for a in space_ids], min_percentile=spec.pmin, max_percentile=spec.pmax, eps=spec.eps))
    inputs = [v0_5.InputTensorDescr(
        id=v0_5.TensorId(TENSOR_INPUT), axes=input_axes, description="raw fluorescence image (one channel)",
        test_tensor=v0_5.FileDescr(source=work / "test_input.npy"),
        sample_tensor=v0_5.FileDescr(source=work / "sample_input.tif"),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=[v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32")), scale_range])]
    outputs = [v0_5.OutputTensorDescr(
        id=v0_5.TensorId(TENSOR_OUTPUT), axes=output_axes,
        description="restored image in normalized units" + (
            f" (Laplace mean, scale of {spec.ensemble_members} ensemble members)" if spec.ensemble_members else " (channel 0: Laplace mean, 1: scale)"
            if spec.probabilistic else ""),
        test_tensor=v0_5.FileDescr(source=work / "test_output.npy"),
        sample_tensor=v0_5.FileDescr(source=work / "sample_output.tif"),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"))]
    tf_version = v0_5.Version(tf.__version__)
    weights = {"keras_hdf5": v0_5.KerasHdf5WeightsDescr(source=files["keras_hdf5"], tensorflow_version=tf_version)}
    if files["tensorflow_saved_model_bundle"]:
        weights["tensorflow_saved_model_bundle"] = v0_5.TensorflowSavedModelBundleWeightsDescr(
            source=files["tensorflow_saved_model_bundle"], tensorflow_version=tf_version, parent="keras_hdf5")
    if files["onnx"]:
        from ..train.export import ONNX_OPSET

        weights["onnx"] = v0_5.OnnxWeightsDescr(source=files["onnx"], opset_version=ONNX_OPSET, parent="keras_hdf5")
    ndim_tag = f"{len(spec.axes)}d"
    return v0_5.ModelDescr(
        name=name, description=description,
        authors=[v0_5.Author(name=a) for a in authors],
        cite=[v0_5.CiteEntry(text="Weigert et al. Content-aware image restoration: pushing the limits of fluorescence "
                                  "microscopy. Nature Methods 15, 1090-1097 (2018)", doi=v0_5.Doi(CARE_DOI))],
        license=v0_5.LicenseId("CC-BY-4.0"),
        documentation=v0_5.FileDescr(source=work / "README.md"),
        covers=[v0_5.FileDescr(source=work / "cover.png")],
        attachments=[v0_5.FileDescr(source=p) for p in attachments],
        tags=sorted({"care", "csbdeep", "denoising", "fluorescence-light-microscopy", ndim_tag, "tensorflow", "onnx",
                     *tags}),
        version="0.1.0",
        inputs=inputs, outputs=outputs,
        weights=v0_5.WeightsDescr(**weights),
        config={
            "bioimageio": {"architecture_type": "csbdeep-unet",
                           "architecture_description": "CARE U-Net (csbdeep), residual, channels last"},
            "deepimagej": {"pyramidal_model": False, "allow_tiling": True, "model_keys": None,
                           "prediction": {"preprocess": [{"spec": None}], "postprocess": [{"spec": None}]}},
            "carekit": PackageCarekitBlock(
                version=__version__, probabilistic=spec.probabilistic, axes=spec.axes, norm_pmin=spec.pmin,
                norm_pmax=spec.pmax, halo=halo, step=step, output_channels=list(spec.output_channels),
                ensemble_members=spec.ensemble_members).model_dump(),
        },
    )


def validate_package(package: str | Path, formats: tuple[str, ...] | None = None, workdir: Path | None = None) -> dict[str, str]:
    """Run bioimageio.core test_model per weight format: {'onnx': 'passed' | failure report, ...}."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from ..train.tf import import_tensorflow

    import_tensorflow()
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description

    package = Path(package).resolve()
    if formats is None:
        descr = load_model_description(package, perform_io_checks=False)
        formats = tuple(fmt for fmt in WEIGHT_FORMATS if getattr(descr.weights, fmt, None) is not None)
    results = {}
    with contextlib.ExitStack() as stack:
        folder = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="carekit-validate-")))
        stack.enter_context(_working_directory(folder))
        for fmt in formats:
            with contextlib.redirect_stdout(io.StringIO()):  # Keras prints a progress bar per test prediction
                summary = test_model(package, weight_format=fmt)
            results[fmt] = "passed" if summary.status == "passed" else _failure_report(summary)
    return results


def _failure_report(summary) -> str:
    lines = []
    for detail in summary.details:
        if detail.status != "passed":
            lines.append(f"- {detail.name}: " + "; ".join(str(e.msg) for e in detail.errors))
    return "\n".join(lines) or str(summary.status)

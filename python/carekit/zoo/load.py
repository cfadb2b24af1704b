"""Open bioimage.io packages (zip, folder or rdf.yaml) and run their weights with ONNX Runtime, TensorFlow or Keras."""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import check_image
from ..predict import NetworkSpec
from .safety import check_rdf, check_zip, safe_extract, sha256_file, weight_file

ENGINES = ("onnx", "tensorflow", "keras")
ENGINE_WEIGHTS = {"onnx": "onnx", "tensorflow": "tensorflow_saved_model_bundle", "keras": "keras_hdf5"}


def cache_dir() -> Path:
    return Path(os.environ.get("CAREKIT_CACHE", Path.home() / ".cache" / "carekit"))


def package_cache_dir() -> Path:
    return cache_dir() / "packages"


def unpack(source: str | Path) -> Path:
    """The folder holding rdf.yaml: a zip is extracted once into the cache (keyed by its content hash) and its
    rdf.yaml checked (size, YAML aliases) before anything else reads it."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"model package not found: {source}")
    if source.is_dir():
        if not (source / "rdf.yaml").exists():
            raise InputError(f"{source} is neither a carekit model folder (carekit.json) nor a bioimage.io package (rdf.yaml)")
        root = source
    elif not source.is_file():
        raise InputError(f"{source} is not a regular file; give a bioimage.io package (.zip), its folder or its rdf.yaml")
    elif source.name.endswith(".yaml"):
        root = source.parent
    elif not zipfile.is_zipfile(source):
        raise InputError(f"{source} is not a zip file; give a bioimage.io package (.zip), its folder or its rdf.yaml")
    else:
        root = package_cache_dir() / sha256_file(source)[:16]
        if not (root / "rdf.yaml").exists():
            safe_extract(source, root, required="rdf.yaml")
    check_rdf(root / "rdf.yaml")
    return root


def load_description(root: Path, source: str | Path):
    """The model description of an unpacked package (bioimageio.spec), as a clear error when it is not one."""
    from bioimageio.spec import InvalidDescr, load_model_description

    try:
        descr = load_model_description(root / "rdf.yaml", perform_io_checks=False)
    except ValueError as err:
        raise InputError(f"{source} is not a valid bioimage.io model: {str(err).splitlines()[0]}") from err
    if isinstance(descr, InvalidDescr):
        raise InputError(f"{source} is not a valid bioimage.io model: {descr.validation_summary.format()}")
    if getattr(descr, "weights", None) is None:
        raise InputError(f"{source} describes a {getattr(descr, 'type', 'resource')}, not a model")
    return descr


def check_weights(descr, root: Path, weight_format: str | None = None) -> dict[str, Path]:
    """The weight files that may run (`weight_format`, or every one when None): each inside the package, no
    symbolic link, and matching its recorded sha256."""
    formats = [weight_format] if weight_format else list(type(descr.weights).model_fields)
    entries = {fmt: getattr(descr.weights, fmt, None) for fmt in formats}
    return {fmt: weight_file(root, w.source, getattr(w, "sha256", None)) for fmt, w in entries.items() if w is not None}


class PackageModel:
    """A bioimage.io model package, run with one weight format. carekit packages get the fast tiled path;
    other single-input models go through bioimageio.core (see predict_with_bioimageio)."""

    def __init__(self, source: str | Path, engine: str = "onnx"):
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r}; choose one of {ENGINES}")
        self.root = unpack(source)
        self.descr = descr = load_description(self.root, source)
        self.engine = engine
        if getattr(descr.weights, ENGINE_WEIGHTS[engine], None) is None:
            available = [e for e, w in ENGINE_WEIGHTS.items() if getattr(descr.weights, w, None) is not None]
            raise InputError(f"{source} has no {ENGINE_WEIGHTS[engine]} weights for engine {engine!r}; "
                             f"available engines: {available}")
        self.weights_path = check_weights(descr, self.root, ENGINE_WEIGHTS[engine])[ENGINE_WEIGHTS[engine]]
        config = getattr(descr, "config", None)
        carekit = (getattr(config, "model_extra", None) or {}).get("carekit")
        self.spec = _spec_from_config(carekit, source) if carekit else None
        self._run = None

    @property
    def is_carekit(self) -> bool:
        return self.spec is not None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self._run is None:
            self._run = _load_runner(self.engine, self.weights_path)
        return self._run(np.ascontiguousarray(batch, dtype=np.float32))


def _spec_from_config(config: dict, source) -> NetworkSpec:
    try:
        spec = NetworkSpec(axes=str(config["axes"]), pmin=float(config["norm_pmin"]), pmax=float(config["norm_pmax"]),
                           halo=int(config["halo"]), divisor=int(config["step"]),
                           probabilistic=bool(config["probabilistic"]),
                           ensemble_members=int(config.get("ensemble_members", 0)))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"{source}: the carekit block of rdf.yaml is damaged ({type(err).__name__}: {err}); "
                         "export the package again") from err
    if spec.axes not in ("YX", "ZYX") or spec.divisor < 1 or spec.halo < 0:
        raise InputError(f"{source}: the carekit block of rdf.yaml is damaged (axes {spec.axes!r}, step "
                         f"{spec.divisor}, halo {spec.halo}); export the package again")
    return spec


def _load_runner(engine: str, path: Path):
    """The runner of one weight file; a file that its runtime cannot load is a clear error."""
    try:
        return _RUNNERS[engine](path)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        cause = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"cannot load the {engine} weights {path.name} ({cause}); the package is damaged") from err


def _onnx_runner(path: Path):
    import onnxruntime as ort

    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    try:
        session = ort.InferenceSession(str(path), providers=providers)
    except (ort_state.Fail, ort_state.InvalidGraph, ort_state.InvalidProtobuf, ort_state.NotImplemented) as err:
        raise ValueError(str(err)) from err
    input_name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {input_name: batch})[0]


def _tensorflow_runner(path: Path):
    from ..train.tf import import_tensorflow

    import_tensorflow()
    import keras

    folder = cache_dir() / "saved_models" / sha256_file(path)[:16]
    if not (folder / "saved_model.pb").exists():
        safe_extract(path, folder, required="saved_model.pb")
    layer = keras.layers.TFSMLayer(str(folder), call_endpoint="serve")
    return lambda batch: next(iter(layer(batch).values())).numpy()


def _keras_runner(path: Path):
    from ..train.tf import import_tensorflow

    import_tensorflow()
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "r") as fh:
        model = legacy_h5_format.load_model_from_hdf5(fh)
    return lambda batch: model(batch, training=False).numpy()


_RUNNERS = {"onnx": _onnx_runner, "tensorflow": _tensorflow_runner, "keras": _keras_runner}


def predict_with_bioimageio(source: str | Path, image: np.ndarray, axes: str, weight_format: str | None = None) -> np.ndarray:
    """Run any single-input bioimage.io model through bioimageio.core (its own pre/postprocessing and blockwise
    inference). `axes` names the image's axes (e.g. 'YX', 'ZYX', 'CYX'); returns the first output with the same
    spatial axes (and a leading channel axis if it has more than one channel). Non-finite pixels in the input or
    the output are refused."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from bioimageio.core import Tensor, create_prediction_pipeline, predict

    problems = check_image(np.asarray(image), "input image")
    if problems:
        raise InputError("; ".join(problems))
    descr = _open_foreign(source, weight_format)
    input_descr = descr.inputs[0]
    model_axes = [str(a.id) for a in input_descr.axes]
    tensor = Tensor.from_numpy(_model_input(image, axes, model_axes), dims=tuple(model_axes))
    from ..train.tf import import_tensorflow

    import_tensorflow()
    work = cache_dir() / "bioimageio"
    work.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(work):  # bioimageio.core unzips TensorFlow weights into the working directory
        pipeline = create_prediction_pipeline(descr, weight_format=weight_format)
        sample = predict(model=pipeline, inputs={input_descr.id: tensor})
    output = next(iter(sample.members.values()))
    spatial = [a.lower() for a in axes.upper() if a in "ZYX"]
    keep = [d for d in output.dims if str(d) in spatial or (str(d) == "channel" and output.tagged_shape[d] > 1)]
    squeezed = output.data.squeeze([str(d) for d in output.dims if d not in keep])
    result = np.asarray(squeezed.transpose(*[str(d) for d in keep]).values)
    bad = result.size - np.count_nonzero(np.isfinite(result))
    if bad:
        raise InputError(f"the model gave {bad} NaN/Inf output values ({100 * bad / result.size:.1f}%) for this "
                         "input; refusing the result (check that the input suits this model)")
    return result


def _open_foreign(source: str | Path, weight_format: str | None):
    """The description of a single-input package whose weights (and the zips bioimageio.core will unzip) passed
    the checks."""
    root = unpack(source)
    descr = load_description(root, source)
    for path in check_weights(descr, root, weight_format).values():
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                check_zip(zf, path, shutil.disk_usage(root).free)
    if len(descr.inputs) != 1:
        raise InputError(f"only single-input models are supported here, this one has {len(descr.inputs)} inputs")
    return descr


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

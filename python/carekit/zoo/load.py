"""Open bioimage.io packages (zip, folder or rdf.yaml) and run their weights with ONNX Runtime, TensorFlow or Keras."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..predict import NetworkSpec

ENGINES = ("onnx", "tensorflow", "keras")
ENGINE_WEIGHTS = {"onnx": "onnx", "tensorflow": "tensorflow_saved_model_bundle", "keras": "keras_hdf5"}


def package_cache_dir() -> Path:
    return Path(os.environ.get("CAREKIT_CACHE", Path.home() / ".cache" / "carekit")) / "packages"


def unpack(source: str | Path) -> Path:
    """The folder holding rdf.yaml: a zip is extracted once into the cache (keyed by its content hash)."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"model package not found: {source}")
    if source.is_dir():
        if not (source / "rdf.yaml").exists():
            raise InputError(f"{source} is neither a carekit model folder (carekit.json) nor a bioimage.io package (rdf.yaml)")
        return source
    if source.name.endswith(".yaml"):
        return source.parent
    if not zipfile.is_zipfile(source):
        raise InputError(f"{source} is not a zip file; give a bioimage.io package (.zip), its folder or its rdf.yaml")
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    target = package_cache_dir() / digest.hexdigest()[:16]
    if not (target / "rdf.yaml").exists():
        try:
            with zipfile.ZipFile(source) as zf:
                if "rdf.yaml" not in zf.namelist():
                    raise InputError(f"{source} holds no rdf.yaml: it is not a bioimage.io package")
                partial = target.with_name(target.name + ".partial")
                zf.extractall(partial)
                partial.rename(target)
        except zipfile.BadZipFile as err:
            raise InputError(f"{source} is a corrupt zip ({err}); download or export the package again") from err
    return target


class PackageModel:
    """A bioimage.io model package, run with one weight format. carekit packages get the fast tiled path;
    other single-input models go through bioimageio.core (see predict_with_bioimageio)."""

    def __init__(self, source: str | Path, engine: str = "onnx", precision: str = "fp32"):
        """`precision` bf16 (or auto where the hardware has bf16) runs the package's float32 Keras weights in
        bf16 mixed precision, whatever the engine: ONNX and SavedModel weights are float32 networks."""
        from bioimageio.spec import InvalidDescr, load_model_description

        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r}; choose one of {ENGINES}")
        self.root = unpack(source)
        descr = load_model_description(self.root / "rdf.yaml", perform_io_checks=False)
        if isinstance(descr, InvalidDescr):
            raise InputError(f"{source} is not a valid bioimage.io model: {descr.validation_summary.format()}")
        self.descr = descr
        if precision != "fp32":
            from ..train.precision import choose

            precision = choose(precision)
        self.precision = precision
        self.engine = engine if self.precision == "fp32" else "keras"
        weights = getattr(descr.weights, ENGINE_WEIGHTS[self.engine], None)
        if weights is None:
            available = [e for e, w in ENGINE_WEIGHTS.items() if getattr(descr.weights, w, None) is not None]
            raise InputError(f"{source} has no {ENGINE_WEIGHTS[self.engine]} weights for engine {self.engine!r} "
                             f"(precision {self.precision}); available engines: {available}")
        self.weights_path = self.root / str(weights.source.path if hasattr(weights.source, "path") else weights.source)
        if not self.weights_path.exists():
            raise InputError(f"weight file missing from the package: {self.weights_path.name}; the package is incomplete")
        carekit = (descr.config.model_extra or {}).get("carekit") if descr.config is not None else None
        self.spec = _spec_from_config(carekit) if carekit else None
        self._run = None

    @property
    def is_carekit(self) -> bool:
        return self.spec is not None

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self._run is None:
            self._run = (_keras_runner(self.weights_path, self.precision) if self.engine == "keras"
                         else _RUNNERS[self.engine](self.weights_path))
        return self._run(np.ascontiguousarray(batch, dtype=np.float32))


def _spec_from_config(config: dict) -> NetworkSpec:
    return NetworkSpec(axes=config["axes"], pmin=config["norm_pmin"], pmax=config["norm_pmax"], halo=config["halo"],
                       divisor=config["step"], probabilistic=config["probabilistic"],
                       ensemble_members=config.get("ensemble_members", 0))


def _onnx_runner(path: Path):
    import onnxruntime as ort

    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    session = ort.InferenceSession(str(path), providers=providers)
    input_name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {input_name: batch})[0]


def _tensorflow_runner(path: Path):
    from ..train.tf import import_tensorflow

    import_tensorflow()
    import keras

    folder = path.with_suffix("")
    if not (folder / "saved_model.pb").exists():
        with zipfile.ZipFile(path) as zf:
            zf.extractall(folder)
    layer = keras.layers.TFSMLayer(str(folder), call_endpoint="serve")
    return lambda batch: next(iter(layer(batch).values())).numpy()


def _keras_runner(path: Path, precision: str = "fp32"):
    from ..train.precision import with_precision
    from ..train.tf import import_tensorflow

    import_tensorflow()
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "r") as fh:
        model = with_precision(legacy_h5_format.load_model_from_hdf5(fh), precision)
    return lambda batch: model(batch, training=False).numpy()


_RUNNERS = {"onnx": _onnx_runner, "tensorflow": _tensorflow_runner, "keras": _keras_runner}


def predict_with_bioimageio(source: str | Path, image: np.ndarray, axes: str, weight_format: str | None = None) -> np.ndarray:
    """Run any single-input bioimage.io model through bioimageio.core (its own pre/postprocessing and blockwise
    inference). `axes` names the image's axes (e.g. 'YX', 'ZYX', 'CYX'); returns the first output with the same
    spatial axes (and a leading channel axis if it has more than one channel)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from bioimageio.core import Tensor, create_prediction_pipeline, predict
    from bioimageio.spec import load_model_description

    descr = load_model_description(unpack(source) / "rdf.yaml", perform_io_checks=False)
    if len(descr.inputs) != 1:
        raise InputError(f"only single-input models are supported here, this one has {len(descr.inputs)} inputs")
    input_descr = descr.inputs[0]
    model_axes = [str(a.id) for a in input_descr.axes]
    image_axes = [{"C": "channel"}.get(a, a.lower()) for a in axes.upper()]
    missing = [a for a in image_axes if a not in model_axes]
    if missing:
        raise InputError(f"the model's input axes are {model_axes}; the image axes {axes!r} do not fit ({missing})")
    data = np.asarray(image, dtype=np.float32)
    for axis in model_axes:
        if axis not in image_axes:
            data = data[..., None]
            image_axes.append(axis)
    data = np.transpose(data, [image_axes.index(a) for a in model_axes])
    tensor = Tensor.from_numpy(data, dims=tuple(model_axes))
    from ..train.tf import import_tensorflow

    import_tensorflow()
    pipeline = create_prediction_pipeline(descr, weight_format=weight_format)
    sample = predict(model=pipeline, inputs={input_descr.id: tensor})
    output = next(iter(sample.members.values()))
    spatial = [a.lower() for a in axes.upper() if a in "ZYX"]
    keep = [d for d in output.dims if str(d) in spatial or (str(d) == "channel" and output.tagged_shape[d] > 1)]
    squeezed = output.data.squeeze([str(d) for d in output.dims if d not in keep])
    return np.asarray(squeezed.transpose(*[str(d) for d in keep]).values)

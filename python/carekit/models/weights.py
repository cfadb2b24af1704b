"""Which weight format of a package runs, and the runtimes that run carekit's three formats (ONNX Runtime,
TensorFlow SavedModel, Keras HDF5): the only place outside train/ that imports them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import InputError
from .package_files import cache_dir
from .safety import safe_extract, sha256_file

ENGINES = ("onnx", "tensorflow", "keras")
ENGINE_WEIGHTS = {"onnx": "onnx", "tensorflow": "tensorflow_saved_model_bundle", "keras": "keras_hdf5"}
# Without an explicit engine, the first format in this order that the package has and whose runtime is installed
# runs (as bioimageio.core's create_model_adapter does with its own order): ONNX Runtime starts fastest and needs
# no TensorFlow; a SavedModel needs no model code; a Keras HDF5 full model comes last.
WEIGHT_PRIORITY = ("onnx", "tensorflow_saved_model_bundle", "keras_hdf5")
RUNTIME_MODULE = {"onnx": "onnxruntime", "tensorflow_saved_model_bundle": "tensorflow", "keras_hdf5": "tensorflow"}


def present_formats(descr) -> list[str]:
    return [fmt for fmt in type(descr.weights).model_fields if getattr(descr.weights, fmt, None) is not None]


def choose_weight_format(descr, engine: str | None, source, present: list[str] | None = None) -> str | None:
    """The weight format to run: the engine's when one is given (an error if the package lacks it), else the first
    of WEIGHT_PRIORITY present and runnable here; None when the package has none of those (bioimageio.core then
    picks among its other formats, e.g. PyTorch). `present`: the formats to choose among (default: the weights')."""
    present = present_formats(descr) if present is None else present
    if engine is not None:
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r}; choose one of {ENGINES}")
        if ENGINE_WEIGHTS[engine] not in present:
            available = [e for e, fmt in ENGINE_WEIGHTS.items() if fmt in present]
            raise InputError(f"{source} has no {ENGINE_WEIGHTS[engine]} weights for engine {engine!r}; "
                             f"available engines: {available}")
        return ENGINE_WEIGHTS[engine]
    ours = [fmt for fmt in WEIGHT_PRIORITY if fmt in present]
    runnable = [fmt for fmt in ours if importlib.util.find_spec(RUNTIME_MODULE[fmt]) is not None]
    if ours and not runnable:
        raise InputError(f"{source} has {ours} weights but neither onnxruntime nor tensorflow is installed; install "
                         "one of them")
    return runnable[0] if runnable else None


def load_runtime(weight_format: str, path: Path, precision: str = "fp32", threads: int | None = None,
                 lean_memory: bool = False):
    """A function running one weight file on a float32 batch (Keras HDF5 weights also in bf16/fp16 mixed
    `precision`), on at most `threads` cores when given (default: the runtime's own, all cores), ONNX Runtime
    without its memory arena with `lean_memory`; a file that its runtime cannot load is a clear error."""
    try:
        if weight_format == "keras_hdf5":
            return _keras_runtime(path, precision, threads)
        if weight_format == "onnx":
            return _onnx_runtime(path, threads, lean_memory)
        return _tensorflow_runtime(path, threads)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        cause = str(err).splitlines()[0] if str(err) else type(err).__name__
        engine = next(e for e, fmt in ENGINE_WEIGHTS.items() if fmt == weight_format)
        raise InputError(f"cannot load the {engine} weights {path.name} ({cause}); the package is damaged") from err


def _onnx_runtime(path: Path, threads: int | None = None, lean_memory: bool = False):
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    options = ort.SessionOptions()
    if threads is not None:  # a share of the machine (a dask worker): its cores
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # the arena keeps its peak (1.9 GB instead of 0.8 GB for a 1024² tile of a 32-filter U-Net) for ~25% speed
    options.enable_cpu_mem_arena = not lean_memory
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except (ort_state.Fail, ort_state.InvalidGraph, ort_state.InvalidProtobuf, ort_state.NotImplemented) as err:
        raise ValueError(str(err)) from err
    input_name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {input_name: batch})[0]


def cap_tensorflow_threads(threads: int | None) -> None:
    """At most `threads` cores for TensorFlow's ops in this process (e.g. a dask worker's share of the machine)."""
    from ..train.tf import import_tensorflow

    tf = import_tensorflow()
    if threads is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already ran in this process (e.g. an in-process cluster): its thread pools stay
        pass


def _tensorflow_runtime(path: Path, threads: int | None = None):
    cap_tensorflow_threads(threads)
    import keras

    folder = cache_dir() / "saved_models" / sha256_file(path)[:16]
    if not (folder / "saved_model.pb").exists():
        safe_extract(path, folder, required="saved_model.pb")
    layer = keras.layers.TFSMLayer(str(folder), call_endpoint="serve")
    return lambda batch: next(iter(layer(batch).values())).numpy()


def _keras_runtime(path: Path, precision: str = "fp32", threads: int | None = None):
    from ..train.precision import with_precision

    cap_tensorflow_threads(threads)
    model = with_precision(_load_hdf5_full_model(path), precision)
    return lambda batch: model(batch, training=False).numpy()


def _load_hdf5_full_model(path: Path):
    """A legacy HDF5 full model (architecture + weights). keras.models.load_model picks its HDF5 reader only by a
    .h5/.hdf5 file name, and an rdf may name the weight file anything: so this one function calls that reader
    directly, although it is private Keras API (keras.src)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "r") as fh:
        return legacy_h5_format.load_model_from_hdf5(fh)


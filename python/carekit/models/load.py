"""load_model: the runner for any model source, a carekit model folder or a bioimage.io package."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .carekit_package import CarekitPackage
from .foreign import ForeignPackage
from .keras_dir import KerasModelDir
from .package_files import folder_rdf, open_package
from .runner import ModelRunner
from .weights import ENGINES


def load_model(source: str | Path, engine: str | None = None, precision: str = "fp32",
               threads: int | None = None, lean_memory: bool = False) -> ModelRunner:
    """A runnable model: a carekit model folder (carekit.json; Keras) -> KerasModelDir; a bioimage.io package
    (.zip, folder or its bioimageio.yaml / *.bioimageio.yaml / rdf.yaml) made by carekit -> CarekitPackage; any
    other bioimage.io model -> ForeignPackage (bioimageio.core with the package's own pre/postprocessing).

    `engine` ('onnx', 'tensorflow' or 'keras') picks the weights of a package; by default the first of onnx,
    tensorflow_saved_model_bundle and keras_hdf5 that the package has and this machine can run
    (models.weights.WEIGHT_PRIORITY). Model folders always run with Keras. `precision` other than fp32 (see
    carekit.precision) runs Keras weights in mixed precision; bioimageio.core runs other packages as they are.
    `threads` caps the cores the ONNX Runtime or TensorFlow network uses (a dask worker's threads; default all);
    `lean_memory` makes ONNX Runtime give memory back after each call (no arena: ~2x less peak memory for a 1024²
    tile of a 32-filter U-Net, ~25% slower), for workers with a tight memory limit."""
    if engine is not None and engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    path = Path(source)
    if (path / "carekit.json").exists() and folder_rdf(path) is None:
        return KerasModelDir(path, precision=precision, threads=threads)
    package = open_package(path)
    if package.carekit_block() is None:
        return ForeignPackage(package, engine)
    return CarekitPackage(package, engine, precision, threads, lean_memory)

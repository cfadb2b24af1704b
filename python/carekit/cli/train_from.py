"""`carekit train --from MODEL_OR_ZIP`: which weights to start from, and the network settings that go with them."""

from __future__ import annotations

from pathlib import Path

from ..config import BEST_WEIGHTS, MODEL_CONFIG_FILE, ModelRecord, TrainConfig, validated
from ..errors import InputError
from ..train.care import NETWORK_FIELDS
from .train_report import modes_text


def resolve(source: str) -> tuple[Path, Path]:
    """(folder holding the source's carekit.json, its Keras weights) for a carekit model folder or package."""
    from ..models.package_files import open_package

    path = Path(source)
    if path.is_dir() and (path / MODEL_CONFIG_FILE).is_file():
        _check_kind(path, source)
        weights = path / BEST_WEIGHTS
        if not weights.is_file():
            raise InputError(f"{path} has no {BEST_WEIGHTS} to start from; was its training interrupted?")
        return path, weights
    package = open_package(path)
    if not (package.root / MODEL_CONFIG_FILE).is_file():
        raise InputError(f"{source} was not made by carekit (no {MODEL_CONFIG_FILE}); --from needs a carekit model "
                         "folder or package")
    _check_kind(package.root, source)
    weights = package.checked_weights("keras_hdf5").get("keras_hdf5")
    if weights is None:
        raise InputError(f"{source} has no Keras weights to start from; use its model folder, or a package "
                         "exported with keras_hdf5 weights")
    return package.root, weights


def _check_kind(source_dir: Path, source: str) -> None:
    record = ModelRecord.load(source_dir)
    if record.kind != "care" or record.z_factor > 1:
        raise InputError(f"{source} is a {record.kind!r} model{' that zooms Z' if record.kind == 'care' else ''}; "
                         "--from starts a CARE denoising/deconvolution model from a CARE model only")


def own_modes(source_dir: Path) -> str:
    """The source model's own prediction modes as the output names them (train_report.modes_text: the shipped
    generalist's are rescale search and the classical blend), which the model trained from it keeps only while the
    source's weights stay its best."""
    return modes_text(ModelRecord.load(source_dir))


def config_from(config: TrainConfig, source_dir: Path, given: set[str]) -> TrainConfig:
    """`config` with the source model's network settings except those in `given` (set on the command line)."""
    source = ModelRecord.load(source_dir).train
    inherited = {k: getattr(source, k) for k in NETWORK_FIELDS if k not in given and k != "axes"}
    if config.axes == TrainConfig().axes:
        inherited["axes"] = source.axes
    return validated(TrainConfig, **{**config.model_dump(), **inherited})


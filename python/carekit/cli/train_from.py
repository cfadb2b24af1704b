"""`carekit train --from MODEL_OR_ZIP`: which weights to start from, and the network settings that go with them."""

from __future__ import annotations

from pathlib import Path

from ..config import MODEL_CONFIG_FILE, ModelRecord, TrainConfig, validated
from ..errors import InputError
from ..train.care import NETWORK_FIELDS


def resolve(source: str) -> tuple[Path, Path]:
    """(folder holding the source's carekit.json, its Keras weights) for a carekit model folder or package."""
    from ..models.package_files import open_package

    path = Path(source)
    if path.is_dir() and (path / MODEL_CONFIG_FILE).is_file():
        weights = path / "weights_best.h5"
        if not weights.is_file():
            raise InputError(f"{path} has no weights_best.h5 to start from; was its training interrupted?")
        return path, weights
    package = open_package(path)
    if not (package.root / MODEL_CONFIG_FILE).is_file():
        raise InputError(f"{source} was not made by carekit (no {MODEL_CONFIG_FILE}); --from needs a carekit model "
                         "folder or package")
    return package.root, package.checked_weights("keras_hdf5")["keras_hdf5"]


def config_from(config: TrainConfig, source_dir: Path) -> TrainConfig:
    """`config` with the source model's network settings wherever the command line left the default."""
    source = ModelRecord.load(source_dir).train
    defaults = TrainConfig()
    inherited = {k: getattr(source, k) for k in NETWORK_FIELDS if getattr(config, k) == getattr(defaults, k)}
    return validated(TrainConfig, **{**config.model_dump(), **inherited})

"""Ensembles of probabilistic CARE networks: M members trained with different seeds (initialization, patch
order, augmentation), stored as sub-folders, combined into one Keras network for prediction and packaging."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import BEST_WEIGHTS, ModelRecord, TrainConfig
from ..errors import InputError
from .care import TrainResult, check_new_model_folder, load_care, prepare_training_data, train_care
from .domain_stats import validation_uncertainty
from .precision import choose_for_training, rebuild
from .sample import save_sample_input
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402


@dataclass
class EnsembleResult:
    model_dir: Path
    members: list[TrainResult]


def train_ensemble(sources: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig, model_dir: str | Path,
                   members: int = 5, data_info: dict | None = None, pixel_size: dict | None = None,
                   progress: bool = True) -> EnsembleResult:
    """Train `members` probabilistic CARE models (seeds seed, seed+1, ...) into model_dir/member_<i>."""
    if members < 2:
        raise InputError(f"an ensemble needs at least 2 members, got {members}")
    if config.loss != "mae":
        raise InputError(f"ensemble members are probabilistic (a Laplace likelihood); loss {config.loss!r} is for "
                         "plain models, leave it at 'mae'")
    model_dir = Path(model_dir)
    check_new_model_folder(model_dir, can_resume=False)
    config = config.model_copy(update={"probabilistic": True, "precision": choose_for_training(config)})
    names = [f"member_{i}" for i in range(members)]
    record = ModelRecord(carekit_version=__version__, name=model_dir.name, kind="ensemble", train=config,
                         data=data_info or {}, pixel_size=pixel_size or {}, members=names)
    results = []
    for index, name in enumerate(names):
        if progress:
            print(f"ensemble member {index + 1}/{members}", flush=True)
        member_config = config.model_copy(update={"seed": config.seed + index})
        results.append(train_care(sources, targets, member_config, model_dir / name, data_info=data_info,
                                  pixel_size=pixel_size, progress=progress))
    record.epochs_done = min(r.epochs_done for r in results)
    record.save(model_dir)
    member_domain = ModelRecord.load(model_dir / names[0]).domain
    record.domain = {**{k: v for k, v in member_domain.items() if k != "scale"},
                     **_validation_disagreement(sources, targets, config, model_dir, members)}
    record.save(model_dir)
    save_sample_input(model_dir, sources[0], config.axes, pixel_size)
    return EnsembleResult(model_dir, results)


def ensemble_keras_model(model_dir: str | Path, weights: str = BEST_WEIGHTS,
                         precision: str = "fp32") -> keras.Model:
    """The members combined into one network computing in `precision`, outputs float32 in every precision."""
    record = ModelRecord.load(model_dir)
    members = []
    for index, name in enumerate(record.members):
        member = rebuild(load_care(Path(model_dir) / name, weights).keras_model, precision)  # no Lambda layer
        member.name = f"member_{index}"
        members.append(member)
    inputs = keras.Input(shape=members[0].input_shape[1:], name="input")
    outputs = keras.layers.Concatenate(axis=-1, name="members")([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name="care_ensemble")


def _validation_disagreement(sources, targets, config: TrainConfig, model_dir: Path, members: int) -> dict:
    """{'disagreement': median D} of the trained ensemble on the validation patches (the first member's split)."""
    _, (x_val, _) = prepare_training_data(sources, targets, config)
    return validation_uncertainty(ensemble_keras_model(model_dir), x_val, config.batch_size, members)

"""Supervised (and probabilistic) CARE training with csbdeep: the one module that imports TensorFlow for training."""

from __future__ import annotations

import contextlib
import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import ModelRecord, TrainConfig
from ..data.patches import normalize_percentile, sample_patches, split_validation
from ..errors import InputError
from ..io import check_image
from . import history
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after import_tensorflow, which sets the backend and silences TF's import banner)

HISTORY_FILE = "history.csv"


@dataclass
class TrainResult:
    model_dir: Path
    history_csv: Path
    history_plot: Path
    epochs_done: int
    best_val_loss: float


def prepare_training_data(sources: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig):
    """Normalize each pair by its percentiles, cut patches, add the channel axis and split off validation data."""
    problems = [p for i, (s, t) in enumerate(zip(sources, targets))
                for p in check_image(np.asarray(s), f"source {i}") + check_image(np.asarray(t), f"target {i}")]
    if len(sources) != len(targets):
        problems.append(f"{len(sources)} sources but {len(targets)} targets")
    if not sources:
        problems.append("no training images")
    if problems:
        raise InputError("cannot train on these images:\n  " + "\n  ".join(problems))
    ndim = len(config.axes)
    for i, s in enumerate(sources):
        if np.asarray(s).ndim != ndim:
            raise InputError(f"image {i} has shape {np.shape(s)} but the model axes are {config.axes}; "
                             "pass 2D images for YX or 3D stacks for ZYX")
    norm_sources = [normalize_percentile(s, config.norm_pmin, config.norm_pmax) for s in sources]
    norm_targets = [normalize_percentile(t, config.norm_pmin, config.norm_pmax) for t in targets]
    x, y = sample_patches(norm_sources, norm_targets, config.patch_size, config.patches_per_image, rng=config.seed)
    (x_train, y_train), (x_val, y_val) = split_validation(x, y, config.validation_fraction, rng=config.seed)
    return (x_train[..., None], y_train[..., None]), (x_val[..., None], y_val[..., None])


def csbdeep_config(config: TrainConfig):
    from csbdeep.models import Config

    return Config(
        axes=config.axes, n_channel_in=1, n_channel_out=1, probabilistic=config.probabilistic,
        unet_n_depth=config.unet_depth, unet_n_first=config.unet_first, unet_kern_size=config.unet_kern_size,
        train_epochs=config.epochs, train_steps_per_epoch=config.steps_per_epoch, train_batch_size=config.batch_size,
        train_learning_rate=config.learning_rate, train_tensorboard=False,
        train_reduce_lr={"factor": 0.5, "patience": 10, "min_delta": 0},
    )


def load_care(model_dir: str | Path, weights: str = "weights_best.h5"):
    """The csbdeep CARE model of a carekit model directory, with the chosen weights loaded."""
    from csbdeep.models import CARE

    model_dir = Path(model_dir)
    ModelRecord.load(model_dir)
    if not (model_dir / weights).exists():
        raise InputError(f"{model_dir} has no {weights}; was training interrupted before the first epoch ended?")
    with contextlib.redirect_stdout(io.StringIO()):  # csbdeep prints which weights it loads
        model = CARE(config=None, name=model_dir.name, basedir=str(model_dir.parent))
    model.keras_model.load_weights(str(model_dir / weights))
    return model


def load_keras_model(model_dir: str | Path, weights: str = "weights_best.h5"):
    """The Keras network of a model folder: a CARE model, or an ensemble's members combined into one network
    whose outputs are [mean_0, scale_0, mean_1, scale_1, ...]."""
    record = ModelRecord.load(model_dir)
    if record.kind == "ensemble":
        from .ensemble import ensemble_keras_model

        return ensemble_keras_model(model_dir, weights)
    return load_care(model_dir, weights).keras_model


def train_care(sources: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig, model_dir: str | Path,
               data_info: dict | None = None, pixel_size: dict | None = None, resume: bool = False,
               extra_epochs: int | None = None, progress: bool = True) -> TrainResult:
    """Train (or with `resume`, continue training) a CARE model in `model_dir` from source/target image lists.

    Writes weights_best.h5 / weights_last.h5 (csbdeep), config.json (csbdeep), carekit.json (our config),
    history.csv and history.png (loss, MAE and learning rate per epoch).
    """
    from csbdeep.internals.train import DataWrapper
    from csbdeep.models import CARE

    model_dir = Path(model_dir)
    keras.utils.set_random_seed(config.seed)  # weight initialization, and csbdeep's batch order (numpy's RNG)
    if resume:
        record = ModelRecord.load(model_dir)
        config = record.train
        care = load_care(model_dir, weights="weights_last.h5")
        start_epoch = record.epochs_done
        learning_rate = history.last_learning_rate(model_dir / HISTORY_FILE) or config.learning_rate
    else:
        if model_dir.exists() and any(model_dir.iterdir()):
            raise InputError(f"{model_dir} already exists and is not empty; choose a new model folder or use resume")
        record = ModelRecord(carekit_version=__version__, name=model_dir.name, train=config,
                             data=data_info or {}, pixel_size=pixel_size or {})
        care = CARE(csbdeep_config(config), name=model_dir.name, basedir=str(model_dir.parent))
        start_epoch = 0
        learning_rate = config.learning_rate
    record.save(model_dir)
    n_epochs = extra_epochs if (resume and extra_epochs) else config.epochs
    end_epoch = start_epoch + n_epochs

    (x_train, y_train), validation = prepare_training_data(sources, targets, config)
    care.prepare_for_training(optimizer=keras.optimizers.Adam(learning_rate=learning_rate))
    epoch_logger = _EpochRecorder(model_dir, record, start_epoch)
    callbacks = list(care.callbacks) + [epoch_logger]
    if progress:
        callbacks.append(_ProgressBar(end_epoch, config.steps_per_epoch, start_epoch))
    batches = DataWrapper(x_train, y_train, config.batch_size, length=n_epochs * config.steps_per_epoch,
                          augmenter=_flip_augmenter(np.random.default_rng(config.seed + start_epoch)))
    fit_from_generator(care.keras_model, iter(batches), validation_data=validation, initial_epoch=start_epoch,
                       epochs=end_epoch, steps_per_epoch=config.steps_per_epoch, callbacks=callbacks)
    with contextlib.redirect_stdout(io.StringIO()):
        care._training_finished()  # saves weights_last.h5, reloads weights_best.h5
    plot = history.plot_history(model_dir / HISTORY_FILE, model_dir / "history.png")
    return TrainResult(model_dir, model_dir / HISTORY_FILE, plot, record.epochs_done, epoch_logger.best_val_loss)


def fit_from_generator(keras_model, batches, **fit_arguments):
    """keras fit on an endless batch generator, without Keras's warning that generators ignore shuffle=True."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        keras_model.fit(batches, verbose=0, **fit_arguments)


def _flip_augmenter(rng: np.random.Generator):
    """Random flips along the spatial axes (and transposes of YX for square patches): the data's symmetries."""

    def augment(x, y):
        for axis in range(x.ndim - 1):
            if rng.random() < 0.5:
                x, y = np.flip(x, axis), np.flip(y, axis)
        if x.shape[-2] == x.shape[-3] and rng.random() < 0.5:
            x, y = np.swapaxes(x, -2, -3), np.swapaxes(y, -2, -3)
        return x, y

    return augment


class _EpochRecorder(keras.callbacks.Callback):
    """Appends each epoch's metrics and learning rate to history.csv, updates carekit.json (for resume) and saves
    weights_last.h5 (and weights_best.h5 when `save_best` and the validation loss improved)."""

    def __init__(self, model_dir: Path, record: ModelRecord, start_epoch: int, save_best: bool = False):
        super().__init__()
        self.path = model_dir / HISTORY_FILE
        self.model_dir, self.record, self.save_best = model_dir, record, save_best
        self.record.epochs_done = start_epoch
        self.best_val_loss = history.best_value(self.path, "val_loss")

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        new_file = not self.path.exists()
        fields = list(row) if new_file else history.columns(self.path)
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        if self.save_best and row.get("val_loss", np.inf) < self.best_val_loss:
            self.model.save_weights(str(self.model_dir / "weights_best.h5"))
        self.best_val_loss = min(self.best_val_loss, row.get("val_loss", np.inf))
        self.record.epochs_done = epoch + 1
        self.record.save(self.model_dir)
        self.model.save_weights(str(self.model_dir / "weights_last.h5"))


class _ProgressBar(keras.callbacks.Callback):
    def __init__(self, end_epoch: int, steps_per_epoch: int, start_epoch: int):
        super().__init__()
        from ..progress import progress_bar

        self.steps = steps_per_epoch
        self.bar = progress_bar(end_epoch * steps_per_epoch, "training", unit="step", initial=start_epoch * steps_per_epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self.bar.set_description(f"epoch {epoch + 1}/{self.bar.total // self.steps}")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if logs and "val_loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", val_loss=f"{float(logs['val_loss']):.4f}")

    def on_train_end(self, logs=None):
        self.bar.close()

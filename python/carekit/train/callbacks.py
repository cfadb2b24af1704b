"""Keras callbacks of carekit training: the epoch recorder (history.csv, checkpoints that are never worse or
non-finite, carekit.json for resume) and the progress bar."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..config import BEST_WEIGHTS, LAST_WEIGHTS, ModelRecord
from ..errors import CarekitError
from . import history
from .start_choice import FINE_TUNED_WEIGHTS, START_WEIGHTS, describe_as_start
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after import_tensorflow, which sets the backend and silences TF's import banner)

HISTORY_FILE = "history.csv"


class TrainingDiverged(CarekitError):
    """The loss or the weights became NaN/Inf; training stopped and the last good weights files were kept."""


def weights_finite(keras_model) -> bool:
    return all(np.isfinite(w).all() for w in keras_model.get_weights())


def save_weights(keras_model, path: Path) -> None:
    """Write under a temporary name, then rename: a crash never leaves a partial weights file under `path`."""
    partial = path.with_name(f".{path.stem}.partial.h5")
    keras_model.save_weights(str(partial))
    os.replace(partial, path)


class EpochRecorder(keras.callbacks.Callback):
    """After each epoch with finite loss and weights: saves weights_best.h5 (when the validation loss beats the best
    in history.csv, so resuming never replaces the best weights by worse ones) and weights_last.h5, appends the
    epoch's metrics and learning rate to history.csv and updates carekit.json (for resume). An epoch whose loss or
    weights are NaN/Inf stops training without saving anything (see raise_if_diverged)."""

    def __init__(self, model_dir: Path, record: ModelRecord, start_epoch: int, own_domain: dict | None = None,
                 own_pixel_size: dict | None = None):
        """Fine-tuning: `own_domain` and `own_pixel_size` (by default the record's now), the statistics and pixel
        size of this model's training data, are what the record takes when an epoch first beats the starting
        weights."""
        super().__init__()
        self.path = model_dir / HISTORY_FILE
        self.model_dir, self.record = model_dir, record
        self.own_domain = record.domain if own_domain is None else own_domain
        self.own_pixel_size = record.pixel_size if own_pixel_size is None else own_pixel_size
        self.record.epochs_done = start_epoch
        start = record.start_validation_loss  # fine-tuning: the starting weights are a candidate, on resume too
        self.best_val_loss = min(history.best_value(self.path, "val_loss"), float("inf") if start is None else start)
        self.diverged_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "learning_rate": float(np.asarray(self.model.optimizer.learning_rate))}
        if not (np.isfinite([row.get("loss", 0.0), row.get("val_loss", 0.0)]).all() and weights_finite(self.model)):
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True
            return
        if row.get("val_loss", np.inf) < self.best_val_loss:
            beats_start = self.start_is_best
            save_weights(self.model, self.model_dir / BEST_WEIGHTS)
            self.best_val_loss = row["val_loss"]
            if beats_start:  # the first fine-tuned weights to be best: described by the user's training data
                self.record.rescale, self.record.classical_blend, self.record.domain = None, False, self.own_domain
                self.record.pixel_size = self.own_pixel_size
                self.record.start_chosen_on_images = False
                (self.model_dir / FINE_TUNED_WEIGHTS).unlink(missing_ok=True)  # superseded by this epoch's weights
        save_weights(self.model, self.model_dir / LAST_WEIGHTS)
        self._append(row)
        self.record.epochs_done = epoch + 1
        self.record.save(self.model_dir)

    def start_as_best(self, keras_model, validation, start: ModelRecord) -> float | None:
        """Fine-tuning from the model `start`: its weights are the first candidate, saved as weights_best.h5; training
        must beat their validation loss (carekit.json's start_validation_loss) to replace them. While they are best,
        the record describes them as `start` does: its own rescale mode and classical blend and, where it recorded
        them, its training statistics and pixel size (what prediction's warnings compare with). Returns that loss;
        None, and no candidate, where it is not finite (then the first finite epoch is best, as without a start). The
        starting weights are saved as weights_start.h5 either way (what start_choice.return_to_start returns to)."""
        save_weights(keras_model, self.model_dir / START_WEIGHTS)
        loss = float(keras_model.evaluate(*validation, verbose=0, return_dict=True)["loss"])
        if not np.isfinite(loss):
            return None
        self.best_val_loss = self.record.start_validation_loss = loss
        describe_as_start(self.record, start)
        self.record.save(self.model_dir)
        save_weights(keras_model, self.model_dir / BEST_WEIGHTS)
        return loss

    @property
    def start_is_best(self) -> bool:
        """Fine-tuning has not beaten the starting weights (yet), or they were chosen again on the user's images
        (start_choice.return_to_start): weights_best.h5 are theirs."""
        start = self.record.start_validation_loss
        return self.record.start_chosen_on_images or (start is not None and self.best_val_loss >= start)

    def _append(self, row: dict) -> None:
        fields = history.columns(self.path)
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields or list(row), extrasaction="ignore")
            if not fields:
                writer.writeheader()
            writer.writerow(row)

    def raise_if_diverged(self) -> None:
        if self.diverged_epoch is None:
            return
        kept = (f"{self.model_dir} keeps the weights of epoch {self.record.epochs_done}" if self.record.epochs_done
                else "no weights were saved")
        raise TrainingDiverged(f"training diverged: the loss or the weights became NaN/Inf in epoch "
                               f"{self.diverged_epoch}; {kept}. Lower the learning rate or check the training data")


class ProgressBar(keras.callbacks.Callback):
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

"""Supervised (and probabilistic) CARE training with csbdeep: the one module that imports TensorFlow for training."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import BEST_WEIGHTS, LAST_WEIGHTS, ModelRecord, TrainConfig
from ..data.patches import real_array, sample_patches, split_validation
from ..errors import InputError
from ..io import check_image
from ..normalize import normalize_percentile
from . import history
from .callbacks import HISTORY_FILE, EpochRecorder, ProgressBar
from .domain_stats import training_domain, validation_uncertainty
from .precision import apply_to_care, choose_for_training, optimizer_for
from .sample import save_sample_input
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after import_tensorflow, which sets the backend and silences TF's import banner)
# imported here, not inside a seeded run: its first import draws from numpy's global generator, which made the first
# training in a process differ from later ones with the same seed
from csbdeep.models import CARE, Config  # noqa: E402


@dataclass
class TrainResult:
    model_dir: Path
    history_csv: Path
    history_plot: Path
    epochs_done: int
    best_val_loss: float
    start_val_loss: float | None = None  # fine-tuning: the starting weights' validation loss, the loss to beat
    kept_start: bool = False  # fine-tuning: weights_best.h5 are still the starting weights (EpochRecorder.start_is_best)


def prepare_training_data(sources: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig):
    """Normalize each pair by its percentiles, cut patches, add the channel axis and split off validation data."""
    sources = [real_array(s, f"source {i}") for i, s in enumerate(sources)]
    targets = [real_array(t, f"target {i}") for i, t in enumerate(targets)]
    problems = [p for i, (s, t) in enumerate(zip(sources, targets))
                for p in check_image(s, f"source {i}") + check_image(t, f"target {i}")]
    if len(sources) != len(targets):
        problems.append(f"{len(sources)} sources but {len(targets)} targets")
    if not sources:
        problems.append("no training images")
    if problems:
        raise InputError("cannot train on these images:\n  " + "\n  ".join(problems))
    ndim = len(config.axes)
    for i, s in enumerate(sources):
        if s.ndim != ndim:
            raise InputError(f"image {i} has shape {np.shape(s)} but the model axes are {config.axes}; "
                             "pass 2D images for YX or 3D stacks for ZYX")
    norm_sources = [normalize_percentile(s, config.norm_pmin, config.norm_pmax) for s in sources]
    norm_targets = [normalize_percentile(t, config.norm_pmin, config.norm_pmax) for t in targets]
    x, y = sample_patches(norm_sources, norm_targets, config.patch_size, config.patches_per_image, rng=config.seed)
    (x_train, y_train), (x_val, y_val) = split_validation(x, y, config.validation_fraction, rng=config.seed)
    return (x_train[..., None], y_train[..., None]), (x_val[..., None], y_val[..., None])


def csbdeep_config(config: TrainConfig):
    return Config(
        axes=config.axes, n_channel_in=1, n_channel_out=1, probabilistic=config.probabilistic,
        train_loss="laplace" if config.probabilistic else config.loss,
        unet_n_depth=config.unet_depth, unet_n_first=config.unet_first, unet_kern_size=config.unet_kern_size,
        train_epochs=config.epochs, train_steps_per_epoch=config.steps_per_epoch, train_batch_size=config.batch_size,
        train_learning_rate=config.learning_rate, train_tensorboard=False,
        train_reduce_lr={"factor": 0.5, "patience": 10, "min_delta": 0},
    )


def build_care(config: TrainConfig, model_dir: str | Path):
    """A new csbdeep CARE model for `config` in `model_dir`, computing in config.precision (fp32 | bf16 | fp16)."""
    model_dir = Path(model_dir)
    care = CARE(csbdeep_config(config), name=model_dir.name, basedir=str(model_dir.parent))
    return apply_to_care(care, config.precision)


def load_care(model_dir: str | Path, weights: str = BEST_WEIGHTS, precision: str = "fp32"):
    """The csbdeep CARE model of a carekit model directory, with the chosen weights loaded, computing in
    `precision` (fp32 | bf16 | fp16, as chosen by train.precision.choose)."""
    model_dir = Path(model_dir)
    ModelRecord.load(model_dir)
    if not (model_dir / weights).exists():
        raise InputError(f"{model_dir} has no {weights}; was training interrupted before the first epoch ended?")
    try:  # csbdeep reads config.json and loads the newest weights file already here
        with contextlib.redirect_stdout(io.StringIO()):  # csbdeep prints which weights it loads
            model = CARE(config=None, name=model_dir.name, basedir=str(model_dir.parent))
        model.keras_model.load_weights(str(model_dir / weights))
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise InputError(f"cannot load the model in {model_dir} ({str(err).splitlines()[0]}); its config.json or "
                         "weights files are damaged") from err
    return apply_to_care(model, precision)


def train_care(sources: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig, model_dir: str | Path,
               data_info: dict | None = None, pixel_size: dict | None = None, resume: bool = False,
               extra_epochs: int | None = None, progress: bool = True, record_fields: dict | None = None,
               init_from: tuple[Path, Path] | None = None) -> TrainResult:
    """Train (or with `resume`, continue training for `extra_epochs`, default config.epochs) a CARE model in
    `model_dir` from source/target image lists (any real-valued arrays or nested lists).

    Writes weights_best.h5 / weights_last.h5, config.json (csbdeep), carekit.json (our config), history.csv and
    history.png (loss, MAE and learning rate per epoch). The data is checked before anything is written.
    `record_fields` sets further ModelRecord fields of a new model (e.g. kind and z_factor). `init_from` =
    (folder holding a carekit.json, Keras weights file): a new model starts from those weights (the same network).
    """
    if init_from is not None:
        data_info = {"initialized_from": str(init_from[0]), **(data_info or {})}  # the caller may name it better
    with seeded(config.seed):
        return _train_care(sources, targets, config, Path(model_dir), data_info, pixel_size, resume, extra_epochs,
                           progress, record_fields or {}, init_from)


@contextlib.contextmanager
def seeded(seed: int):
    """A reproducible run: Keras's weight initialization and numpy's global generator (csbdeep's batch order) start
    from `seed`. numpy's and Python's global generators are restored afterwards (the caller's, not ours);
    TensorFlow's global seed cannot be read back and stays set."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def _train_care(sources, targets, config: TrainConfig, model_dir: Path, data_info, pixel_size, resume: bool,
                extra_epochs: int | None, progress: bool, record_fields: dict, init_from=None) -> TrainResult:
    if resume and init_from is not None:
        raise InputError("resume continues a model from its own weights; it cannot also start from another model")
    if init_from is not None:
        check_same_network(ModelRecord.load(init_from[0]).train, config, init_from[0])
    if resume:
        record = ModelRecord.load(model_dir)
        record.train = config = record.train.model_copy(update={"precision": choose_for_training(record.train)})
    else:
        check_new_model_folder(model_dir)
        config = config.model_copy(update={"precision": choose_for_training(config)})
        record = ModelRecord(carekit_version=__version__, name=model_dir.name, train=config,
                             data=data_info or {}, pixel_size=pixel_size or {}, **record_fields)
    if resume and extra_epochs is not None and extra_epochs < 1:
        raise InputError(f"epochs must be >= 1, got {extra_epochs}")
    n_epochs = extra_epochs if resume and extra_epochs is not None else config.epochs
    (x_train, y_train), validation = prepare_training_data(sources, targets, config)
    fine_tuned = init_from is not None or record.start_validation_loss is not None
    # the statistics of this model's training data; a fine-tuned record holds its start's while their weights are best
    own_domain = training_domain(sources, config) if fine_tuned or not record.domain else record.domain
    if not record.domain:
        record.domain = own_domain
    with removed_if_unusable(model_dir, new=not resume):
        if resume:
            care = load_care(model_dir, weights=LAST_WEIGHTS, precision=config.precision)
            learning_rate = _resume_learning_rate(model_dir / HISTORY_FILE, config.learning_rate)
        else:
            care = build_care(config, model_dir)
            learning_rate = config.learning_rate
            if init_from is not None:
                _load_initial_weights(care.keras_model, Path(init_from[1]))
        record.save(model_dir)
        save_sample_input(model_dir, sources[0], config.axes, record.pixel_size)
        care.prepare_for_training(optimizer=optimizer_for(keras.optimizers.Adam(learning_rate=learning_rate),
                                                          config.precision))
        # resumed, a fine-tuned record may hold its start's pixel size: the training data's is the model's own
        recorder = EpochRecorder(model_dir, record, record.epochs_done, own_domain,
                                 dict(pixel_size or {}) if fine_tuned else None)
        if init_from is not None:
            recorder.start_as_best(care.keras_model, validation, ModelRecord.load(init_from[0]))
        _fit(care, recorder, (x_train, y_train), validation, config, n_epochs, progress)
        # the level of the weights prediction uses; a kept start's own, where it recorded one
        if config.probabilistic and not (recorder.start_is_best and "scale" in record.domain):
            care.keras_model.load_weights(str(model_dir / BEST_WEIGHTS))
            record.domain = {**record.domain, **validation_uncertainty(care.keras_model, validation[0],
                                                                      config.batch_size)}
            record.save(model_dir)
    plot = history.plot_history(model_dir / HISTORY_FILE, model_dir / "history.png")
    return TrainResult(model_dir, model_dir / HISTORY_FILE, plot, record.epochs_done, recorder.best_val_loss,
                       record.start_validation_loss, recorder.start_is_best)


def _fit(care, recorder: EpochRecorder, train_data, validation, config: TrainConfig, n_epochs: int,
         progress: bool) -> None:
    from csbdeep.internals.train import DataWrapper

    start_epoch = recorder.record.epochs_done
    # carekit's recorder saves the weights: csbdeep's checkpoints would restart "best so far" at infinity on resume
    # and would save non-finite weights
    callbacks = [c for c in care.callbacks if not isinstance(c, keras.callbacks.ModelCheckpoint)] + [recorder]
    if progress:
        callbacks.append(ProgressBar(start_epoch + n_epochs, config.steps_per_epoch, start_epoch))
    batches = DataWrapper(*train_data, config.batch_size, length=n_epochs * config.steps_per_epoch,
                          augmenter=_flip_augmenter(np.random.default_rng(config.seed + start_epoch)))
    fit_from_generator(care.keras_model, iter(batches), validation_data=validation, initial_epoch=start_epoch,
                       epochs=start_epoch + n_epochs, steps_per_epoch=config.steps_per_epoch, callbacks=callbacks)
    recorder.raise_if_diverged()


NETWORK_FIELDS = ("axes", "unet_depth", "unet_first", "unet_kern_size", "probabilistic", "norm_pmin", "norm_pmax")


def check_same_network(source: TrainConfig, config: TrainConfig, where) -> None:
    """Starting from another model's weights needs its network and input normalization: else one clear line."""
    differ = [f"{k} {getattr(source, k)} there, {getattr(config, k)} here" for k in NETWORK_FIELDS
              if getattr(source, k) != getattr(config, k)]
    if differ:
        raise InputError(f"cannot start from {where}: its network differs ({'; '.join(differ)}); train with its "
                         "settings (the CLI's --from takes them unless you give others)")


def _load_initial_weights(keras_model, weights: Path) -> None:
    try:
        keras_model.load_weights(str(weights))
    except (ValueError, KeyError, OSError) as err:
        raise InputError(f"cannot load the weights {weights} to start from ({str(err).splitlines()[0]})") from err


def mean_network_weights(config: TrainConfig, weights: str | Path) -> list[np.ndarray]:
    """The Keras weights file of a CARE network with `config`'s architecture, as the weights of the same network
    with one output: of a probabilistic one its mean branch (its scale layer, the last, is left out). Self-supervised
    fine-tuning and the projection model's 2D U-Net start from these."""
    with tempfile.TemporaryDirectory() as tmp:
        network = build_care(config.model_copy(update={"precision": "fp32"}), Path(tmp) / "source").keras_model
    _load_initial_weights(network, Path(weights))
    values = network.get_weights()
    return values[:-2] if config.probabilistic else values


def check_new_model_folder(model_dir: Path, can_resume: bool = True) -> None:
    """A new model goes into a folder that is new or empty (a file or a folder holding anything is refused)."""
    if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
        raise InputError(f"{model_dir} already exists and is not empty; choose a new model folder"
                         + (" or use resume" if can_resume else ""))


@contextlib.contextmanager
def removed_if_unusable(model_dir: Path, new: bool = True):
    """If a `new` training fails before its first epoch is saved, remove what it wrote to the (new or empty) model
    folder: such a stub holds no usable weights and would block both a new run and resume."""
    existed = model_dir.exists()
    try:
        yield
    except BaseException:
        if new and not (model_dir / LAST_WEIGHTS).exists():
            shutil.rmtree(model_dir, ignore_errors=True)
            if existed:
                model_dir.mkdir()
        raise


def _resume_learning_rate(history_csv: Path, configured: float) -> float:
    rate = history.last_learning_rate(history_csv)
    if rate is None:
        return configured
    if not (np.isfinite(rate) and rate > 0):
        warnings.warn(f"{history_csv} records the learning rate {rate} for the last epoch, not a positive number; "
                      f"continuing with the configured rate {configured}", stacklevel=3)
        return configured
    return rate


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

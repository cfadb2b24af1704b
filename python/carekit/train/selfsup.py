"""Self-supervised denoising on csbdeep's CARE U-Net, from scratch or as fine-tuning of a supervised model (transfer
learning, Wang et al.: lower learning rate, early stopping).

Methods: Noise2Void / Noise2Self blind-spot masking (masked loss), and Recorrupted-to-Recorrupted (R2R), which
trains the non-blind network itself and so continues a supervised CARE model consistently."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import BEST_WEIGHTS, LAST_WEIGHTS, ModelRecord, TrainConfig
from ..data.masking import SELF_SUPERVISED_METHODS as METHODS
from ..data.masking import blind_spot_batch
from ..data.patches import real_array, sample_patches, split_validation
from ..data.recorrupt import recorrupted_batch, variance_map
from ..errors import InputError
from ..io import check_image
from ..normalize import affine_coefficients, normalize_percentile
from . import history
from .callbacks import HISTORY_FILE, EpochRecorder, ProgressBar
from .domain_stats import training_domain
from .care import (TrainResult, _flip_augmenter, build_care, check_new_model_folder, fit_from_generator,
                   mean_network_weights, removed_if_unusable, seeded)
from .precision import choose_for_training, optimizer_for
from .sample import save_sample_input
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

ARCHITECTURE_FIELDS = ("axes", "unet_depth", "unet_first", "unet_kern_size", "norm_pmin", "norm_pmax")
R2R_ALPHA = 0.5


def masked_mae(y_true, y_pred):
    """Mean absolute error over the masked (blind-spot) pixels only: y_true = [noisy values, mask]."""
    target, mask = y_true[..., :1], y_true[..., 1:2]
    return tf.reduce_sum(mask * tf.abs(target - y_pred[..., :1])) / tf.maximum(tf.reduce_sum(mask), 1.0)


def noisy_patches(noisy: list[np.ndarray], config: TrainConfig, method: str = "n2v"):
    """Normalized training and validation patches (x, y): y is the per-pixel noise variance for R2R, else x."""
    noisy = [real_array(image, f"noisy image {i}") for i, image in enumerate(noisy)]
    problems = [p for i, image in enumerate(noisy) for p in check_image(image, f"noisy image {i}")]
    if not noisy:
        problems.append("no noisy images given")
    if problems:
        raise InputError("cannot train on these images:\n  " + "\n  ".join(problems))
    bad = [f"{i}: {im.shape}" for i, im in enumerate(noisy) if im.ndim != len(config.axes)]
    if bad:
        raise InputError(f"a {config.axes} model needs {len(config.axes)}D images; these are not: {', '.join(bad)}")
    normalized = [normalize_percentile(image, config.norm_pmin, config.norm_pmax) for image in noisy]
    targets = [_variance_map(i, image) for i, image in enumerate(normalized)] if method == "r2r" else normalized
    x, y = sample_patches(normalized, targets, config.patch_size, config.patches_per_image, rng=config.seed,
                          foreground_threshold=0.0)
    (x_train, y_train), (x_val, y_val) = split_validation(x, y, config.validation_fraction, rng=config.seed)
    return (x_train[..., None], y_train[..., None]), (x_val[..., None], y_val[..., None])


def _variance_map(index: int, image: np.ndarray) -> np.ndarray:
    try:
        return variance_map(image)
    except InputError as error:
        raise InputError(f"noisy image {index}: {error}; r2r needs its noise model, use n2v for such images") from None


def _make_inputs(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, method: str, fraction: float,
                 calibration: tuple[float, float] = (1.0, 0.0)):
    """(network input, loss target); the target values are mapped by (value - offset) / scale (see calibrate)."""
    inputs, targets = recorrupted_batch(x, y, rng, R2R_ALPHA) if method == "r2r" else \
        blind_spot_batch(x, rng, method, fraction)
    scale, offset = calibration
    targets[..., :1] = (targets[..., :1] - offset) / scale
    return inputs, targets


def calibrate(keras_model, noisy_patches: np.ndarray, max_patches: int = 256) -> tuple[float, float]:
    """(scale, offset) with noisy ~ scale * prediction + offset, by least squares over the patches.

    A supervised model predicts in its ground truth's intensity scale, not in the noisy input's; self-supervised
    targets are noisy values. Mapping the targets into the model's scale lets fine-tuning refine structure
    instead of first relearning intensities (which costs most of what pretraining gave). The noise sits in the
    regressand, so the fit is unbiased."""
    sample = noisy_patches[:max_patches]
    prediction = keras_model.predict(sample, batch_size=16, verbose=0)[..., :1]
    scale, offset = affine_coefficients(prediction, sample)
    if not scale > 0:
        raise InputError("the pretrained model's predictions do not follow the noisy images' intensities "
                         "(fitted scale <= 0); is it a model for this kind of image?")
    return scale, offset


def _batches(patches: np.ndarray, targets: np.ndarray, batch_size: int, method: str, fraction: float, seed: int,
             calibration: tuple[float, float]):
    rng = np.random.default_rng(seed)
    augment = _flip_augmenter(rng)
    while True:
        index = rng.integers(0, len(patches), batch_size)
        pairs = [augment(x, y) for x, y in zip(patches[index], targets[index])]
        x, y = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        yield _make_inputs(x, y, rng, method, fraction, calibration)


def train_selfsupervised(noisy: list[np.ndarray], config: TrainConfig, model_dir: str | Path, method: str = "n2v",
                         mask_fraction: float = 0.01, pretrained: str | Path | None = None, patience: int = 10,
                         data_info: dict | None = None, progress: bool = True,
                         pretrained_weights_file: str | Path | None = None, callbacks: tuple = ()) -> TrainResult:
    """Train a denoiser from noisy images only: blind-spot masking ('n2v', 'n2s'; masked MAE) or recorrupted
    pairs ('r2r'; MSE against the recorrupted target, noise model estimated from each image).

    With `pretrained` (a CARE model folder, or an unpacked package's folder with `pretrained_weights_file`), start
    from that model's weights and architecture (a probabilistic model's mean), e.g. with a 3x lower learning rate;
    training stops early when the validation loss has not improved for `patience` epochs, and keeps the best
    weights (the pretrained ones unless fine-tuning beats them). `callbacks`: more Keras callbacks (benchmarks)."""
    model_dir = Path(model_dir)
    config = _checked_config(config, model_dir, method, pretrained)
    config = config.model_copy(update={"precision": choose_for_training(config)})
    (x_train, y_train), (x_val, y_val) = noisy_patches(noisy, config, method)
    with seeded(config.seed), removed_if_unusable(model_dir):
        care = build_care(config, model_dir)
        calibration, start = (1.0, 0.0), None
        if pretrained is not None:
            start = ModelRecord.load(Path(pretrained))
            weights = Path(pretrained_weights_file or Path(pretrained) / BEST_WEIGHTS)
            care.keras_model.set_weights(mean_network_weights(start.train, weights))
            calibration = calibrate(care.keras_model, x_train)
        validation = _make_inputs(x_val, y_val, np.random.default_rng(config.seed + 1), method, mask_fraction,
                                  calibration)
        info = {"source": "selfsupervised", "method": method,
                "mask_fraction": mask_fraction if method != "r2r" else None,
                "r2r_alpha": R2R_ALPHA if method == "r2r" else None,
                "pretrained": str(Path(pretrained).resolve()) if pretrained else None,
                "target_calibration": {"scale": calibration[0], "offset": calibration[1]}, "images": data_info or {}}
        record = ModelRecord(carekit_version=__version__, name=model_dir.name, train=config, data=info,
                             domain=training_domain(noisy, config))  # the noisy images are the network's inputs
        record.save(model_dir)
        save_sample_input(model_dir, noisy[0], config.axes)
        care.keras_model.compile(optimizer=optimizer_for(keras.optimizers.Adam(learning_rate=config.learning_rate),
                                                         config.precision),
                                 loss="mse" if method == "r2r" else masked_mae)
        recorder = EpochRecorder(model_dir, record, 0)
        batches = _batches(x_train, y_train, config.batch_size, method, mask_fraction, config.seed, calibration)
        _fit(care.keras_model, recorder, batches, validation, config, start, patience, progress, callbacks)
    if not (model_dir / BEST_WEIGHTS).exists():
        shutil.copy(model_dir / LAST_WEIGHTS, model_dir / BEST_WEIGHTS)
    plot = history.plot_history(model_dir / HISTORY_FILE, model_dir / "history.png")
    return TrainResult(model_dir, model_dir / HISTORY_FILE, plot, record.epochs_done, recorder.best_val_loss,
                       record.start_validation_loss, recorder.start_is_best)


def _checked_config(config: TrainConfig, model_dir: Path, method: str, pretrained: str | Path | None) -> TrainConfig:
    check_new_model_folder(model_dir, can_resume=False)
    if pretrained is not None:
        base = ModelRecord.load(pretrained)
        if base.kind != "care" or base.z_factor > 1:
            raise InputError(f"{pretrained} is a {base.kind!r} model{' that zooms Z' if base.kind == 'care' else ''}; "
                             "self-supervised fine-tuning starts from a CARE denoising model only")
        config = config.model_copy(update={k: getattr(base.train, k) for k in ARCHITECTURE_FIELDS})
    if method not in METHODS:
        raise InputError(f"unknown self-supervised method {method!r}; choose one of {METHODS}")
    if config.probabilistic:
        raise InputError("self-supervised training is not probabilistic; leave probabilistic off")
    if config.loss != "mae":
        raise InputError(f"self-supervised methods set their own loss (r2r: MSE, n2v/n2s: masked MAE); loss "
                         f"{config.loss!r} is for supervised models, leave it at 'mae'")
    return config


def _fit(keras_model, recorder: EpochRecorder, batches, validation, config: TrainConfig, start: ModelRecord | None,
         patience: int, progress: bool, extra_callbacks: tuple) -> None:
    """`start`: the pretrained model's record when fine-tuning (its weights are the first candidate)."""
    baseline = None
    if start is not None:
        baseline = recorder.start_as_best(keras_model, validation, start)
    callbacks = [keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(2, patience // 2), verbose=0),
                 keras.callbacks.EarlyStopping(patience=patience, baseline=baseline, restore_best_weights=True),
                 recorder, *extra_callbacks]
    if progress:
        callbacks.append(ProgressBar(config.epochs, config.steps_per_epoch, 0))
    fit_from_generator(keras_model, batches, validation_data=validation, epochs=config.epochs,
                       steps_per_epoch=config.steps_per_epoch, callbacks=callbacks)
    recorder.raise_if_diverged()

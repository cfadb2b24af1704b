"""Joint surface projection + denoising (CARE's projection model): a small 3D encoder-decoder gives per-pixel
weights over Z (softmax along Z), the stack is summed over Z with them, and csbdeep's 2D CARE U-Net restores the
projection; trained end to end on (stack (Z, Y, X), 2D target (Y, X)) pairs. Pooling is lateral only (1, 2, 2), so
a trained network takes any number of planes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import __version__
from ..config import BEST_WEIGHTS, PROJECTION_MIN_PLANES as MIN_PLANES, ModelRecord, TrainConfig
from ..data.patches import real_array, split_validation
from ..errors import InputError
from ..normalize import normalize_percentile
from . import history
from .callbacks import HISTORY_FILE, EpochRecorder, ProgressBar
from .care import (TrainResult, check_new_model_folder, fit_from_generator, mean_network_weights, removed_if_unusable,
                   seeded)
from .sample import save_sample_input
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after import_tensorflow, which sets the backend and silences TF's import banner)

MAX_VALIDATION = 128  # validation patches per epoch: more cost as much time as training, for a barely steadier pick


@keras.saving.register_keras_serializable(package="carekit")
class WeightedZSum(keras.layers.Layer):
    """sum_z stack[z] * weights[z]: (batch, Z, Y, X, 1) twice -> (batch, Y, X, 1)."""

    def call(self, inputs):
        stack, weights = inputs
        return keras.ops.sum(stack * weights, axis=1)


def projection_network(config: TrainConfig, head_depth: int, head_filters: int, head: str = "unet") -> keras.Model:
    """Input (batch, Z, Y, X, 1) -> output (batch, Y, X, 1); Y and X must be multiples of 2**max(depths)."""
    from csbdeep.internals.nets import common_unet

    stack = keras.Input((None, None, None, 1), name="stack")
    logits = (_coarse_head if head == "coarse" else _unet_head)(stack, head_depth, head_filters)
    weights = keras.layers.Softmax(axis=1, name="z_weights")(logits)
    projected = WeightedZSum(name="projection")([stack, weights])
    unet = common_unet(2, config.unet_depth, config.unet_kern_size, config.unet_first, 1, residual=True,
                       prob_out=False)((None, None, 1))
    return keras.Model(stack, unet(projected), name="care_projection")


def _unet_head(stack, depth: int, filters: int):
    """CSBDeep's head: a 3D encoder-decoder at full lateral resolution (most of the training time)."""
    x = stack
    for level in range(depth):
        for _ in range(2):
            x = keras.layers.Conv3D(filters * 2**level, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling3D((1, 2, 2))(x)
    for level in reversed(range(depth)):
        x = keras.layers.UpSampling3D((1, 2, 2))(x)
        for _ in range(2):
            x = keras.layers.Conv3D(filters * 2**level, 3, padding="same", activation="relu")(x)
    return keras.layers.Conv3D(1, 1, name="z_logits")(x)


def _coarse_head(stack, depth: int, filters: int):
    """Per-plane local features at full resolution, averaged over blocks of 2**depth px, 3D convolutions there and
    logits upsampled bilinearly: the surface is smooth, so weights over Z need no full lateral resolution (training
    steps 4-5x faster than with the encoder-decoder). Logits start random, not zero: zero logits (the mean projection)
    also zero the gradients of the layers below and learned focus much slower (60 steps: +0.3 vs +2 dB over MIP)."""
    factor = 2**depth
    x = keras.layers.Conv3D(filters, (1, 3, 3), padding="same", activation="relu")(stack)
    x = keras.layers.AveragePooling3D((1, factor, factor))(x)
    for _ in range(3):
        x = keras.layers.Conv3D(2 * filters, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv3D(1, 1, name="z_logits")(x)
    tent = 1 - np.abs(np.arange(2 * factor) - (2 * factor - 1) / 2) / factor  # 1D linear interpolation weights
    bilinear = keras.initializers.Constant(np.outer(tent, tent)[None, :, :, None, None])
    return keras.layers.Conv3DTranspose(1, (1, 2 * factor, 2 * factor), strides=(1, factor, factor), padding="same",
                                        use_bias=False, kernel_initializer=bilinear, trainable=False)(x)


def init_unet_from(model: keras.Model, config: TrainConfig, weights: str | Path) -> None:
    """Start the projection network's 2D U-Net from a 2D CARE model's Keras weights (same depth, filters and kernel
    size; of a probabilistic model its mean output): a denoiser from the first step."""
    for probabilistic in (False, True):
        try:
            values = mean_network_weights(config.model_copy(update={"probabilistic": probabilistic}), weights)
            break
        except InputError as err:
            failure = err
    else:
        raise InputError(f"cannot start the projection U-Net from {weights}: its network differs (use the same "
                         f"--unet-depth, --unet-first and kernel size; {failure})")
    model.layers[-1].set_weights(values)


def _with_legacy_h5(model: keras.Model) -> keras.Model:
    from csbdeep.models.base_model import _keras3_monkey_patch_legacy_weights

    _keras3_monkey_patch_legacy_weights(model)  # weights_*.h5 as every carekit model folder has them
    return model


def load_projection_model(model_dir: str | Path, weights: str = BEST_WEIGHTS) -> keras.Model:
    model_dir = Path(model_dir)
    record = ModelRecord.load(model_dir)
    if not (model_dir / weights).exists():
        raise InputError(f"{model_dir} has no {weights}; was training interrupted before the first epoch ended?")
    model = projection_network(record.train, record.projection_head_depth, record.projection_head_filters,
                               record.projection_head)
    model.load_weights(str(model_dir / weights))
    return model


def prepare_projection_data(stacks: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig):
    """Normalize each stack and target by its percentiles, cut (Z, py, px) / (py, px) patches at the same places
    and split off validation data; arrays get a trailing channel axis."""
    stacks = [real_array(s, f"stack {i}") for i, s in enumerate(stacks)]
    targets = [real_array(t, f"target {i}") for i, t in enumerate(targets)]
    check_projection_pairs(stacks, targets, config.patch_size)
    rng = np.random.default_rng(config.seed)
    xs, ys = [], []
    for stack, target in zip(stacks, targets):
        stack = normalize_percentile(stack, config.norm_pmin, config.norm_pmax)
        target = normalize_percentile(target, config.norm_pmin, config.norm_pmax)
        py, px = config.patch_size
        for _ in range(config.patches_per_image):
            y0, x0 = rng.integers(0, target.shape[0] - py + 1), rng.integers(0, target.shape[1] - px + 1)
            xs.append(stack[:, y0:y0 + py, x0:x0 + px])
            ys.append(target[y0:y0 + py, x0:x0 + px])
    x, y = np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)
    (x_train, y_train), (x_val, y_val) = split_validation(x, y, config.validation_fraction, rng=config.seed)
    x_val, y_val = x_val[:MAX_VALIDATION], y_val[:MAX_VALIDATION]
    return (x_train[..., None], y_train[..., None]), (x_val[..., None], y_val[..., None])


def check_projection_pairs(stacks: list[np.ndarray], targets: list[np.ndarray], patch_size: tuple) -> None:
    if not stacks or len(stacks) != len(targets):
        raise InputError(f"projection training needs pairs of stacks and 2D targets, got {len(stacks)} stacks and "
                         f"{len(targets)} targets")
    for i, (s, t) in enumerate(zip(stacks, targets)):
        if s.ndim != 3 or t.ndim != 2:
            raise InputError(f"pair {i}: a projection model learns from a 3D stack (Z, Y, X) and a 2D target (Y, X), "
                             f"got shapes {s.shape} and {t.shape}")
        if s.shape[1:] != t.shape:
            raise InputError(f"pair {i}: the stack's planes {s.shape[1:]} and the target {t.shape} differ in size; "
                             "register them first")
        if s.shape[0] < MIN_PLANES:
            raise InputError(f"pair {i}: the stack has {s.shape[0]} planes; projection needs at least {MIN_PLANES}")
        if any(p > n for p, n in zip(patch_size, t.shape)):
            raise InputError(f"pair {i}: images of {t.shape} px are smaller than the patch size {patch_size}")
    if len({s.shape[0] for s in stacks}) > 1:
        raise InputError(f"training stacks must have the same number of planes, got "
                         f"{sorted({s.shape[0] for s in stacks})}; crop or pad them along Z")


def train_projection(stacks: list[np.ndarray], targets: list[np.ndarray], config: TrainConfig,
                     model_dir: str | Path, head_depth: int = 2, head_filters: int = 8, data_info: dict | None = None,
                     pixel_size: dict | None = None, progress: bool = True, callbacks: list | None = None,
                     head: str = "coarse", init_unet: str | Path | None = None) -> TrainResult:
    """Train a projection model (kind 'projection', axes YX of the output) in a new `model_dir`. Computes in fp32
    (mixed precision is not wired for this network). `callbacks`: extra Keras callbacks (e.g. a time budget).
    `init_unet`: Keras weights of a 2D CARE model with the same U-Net settings to start the 2D U-Net from."""
    if config.axes != "YX" or config.probabilistic:
        raise InputError("a projection model has 2D (YX) outputs and is not probabilistic; use axes YX and no "
                         "--probabilistic")
    model_dir = Path(model_dir)
    check_new_model_folder(model_dir, can_resume=False)
    config = config.model_copy(update={"precision": "fp32"})
    with seeded(config.seed):
        (x_train, y_train), validation = prepare_projection_data(stacks, targets, config)
        if init_unet is not None:
            data_info = {"unet_initialized_from": str(init_unet), **(data_info or {})}
        record = ModelRecord(carekit_version=__version__, name=model_dir.name, kind="projection", train=config,
                             data=data_info or {}, pixel_size=pixel_size or {}, projection_head_depth=head_depth,
                             projection_head_filters=head_filters, projection_head=head,
                             projection_planes=int(x_train.shape[1]))
        with removed_if_unusable(model_dir):
            model_dir.mkdir(parents=True, exist_ok=True)
            model = _with_legacy_h5(projection_network(config, head_depth, head_filters, head))
            if init_unet is not None:
                init_unet_from(model, config, init_unet)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate), loss=config.loss,
                          metrics=["mse"])
            record.save(model_dir)
            save_sample_input(model_dir, np.asarray(stacks[0], np.float32), "ZYX", record.pixel_size)
            recorder = EpochRecorder(model_dir, record, 0)
            callbacks = [recorder, keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=10, min_delta=0),
                         *(callbacks or [])]
            if progress:
                callbacks.append(ProgressBar(config.epochs, config.steps_per_epoch, 0))
            batches = _batches(x_train, y_train, config.batch_size, np.random.default_rng(config.seed))
            fit_from_generator(model, batches, validation_data=validation, epochs=config.epochs,
                               steps_per_epoch=config.steps_per_epoch, callbacks=callbacks)
            recorder.raise_if_diverged()
    plot = history.plot_history(model_dir / HISTORY_FILE, model_dir / "history.png")
    return TrainResult(model_dir, model_dir / HISTORY_FILE, plot, record.epochs_done, recorder.best_val_loss)


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator):
    """Endless random batches with random lateral flips and transposes (the data's symmetries)."""
    while True:
        pick = rng.integers(0, len(x), batch_size)
        bx, by = x[pick], y[pick]
        if rng.random() < 0.5:
            bx, by = bx[:, :, ::-1], by[:, ::-1]
        if rng.random() < 0.5:
            bx, by = bx[:, :, :, ::-1], by[:, :, ::-1]
        if bx.shape[2] == bx.shape[3] and rng.random() < 0.5:
            bx, by = np.swapaxes(bx, 2, 3), np.swapaxes(by, 1, 2)
        yield np.ascontiguousarray(bx), np.ascontiguousarray(by)

"""Mixed precision for Keras networks: the precision setting (../precision.py) applied to a model.

A network is rebuilt from its config with a dtype policy per layer instead of setting Keras's global dtype policy,
so nothing global changes. In a mixed-precision copy every layer up to the last ones with weights computes in
bf16 (or fp16 on older GPUs) while its variables stay float32; the parameter-free head after them (csbdeep's
residual addition of the input, the final activation, the Laplace scale offset, concatenations) stays float32.
So outputs and losses are float32 (csbdeep's losses mix the output with float32 targets), the input is added back
without rounding, and a probabilistic model's scale and an ensemble's outputs are float32.
"""

from __future__ import annotations

import numpy as np

from .. import precision as choice
from .tf import gpu_compute_capability, import_tensorflow

import_tensorflow()
import keras  # noqa: E402

KERAS_POLICY = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def choose(requested: str, volumetric_training: bool = False) -> str:
    """The precision a request (auto | fp32 | bf16) gives on this machine, for prediction or (volumetric_training)
    training a 3D network; a refused request is announced in one line on stderr (see carekit.precision)."""
    if requested == "fp32":
        return "fp32"
    precision, warning = choice.resolve(requested, gpu_compute_capability(), choice.cpu_has_bf16(),
                                        choice.emulation_allowed(), volumetric_training)
    choice.announce(warning)
    return precision


def choose_for_training(config) -> str:
    """The precision a TrainConfig trains in on this machine (3D networks: fp32 on a CPU, see carekit.precision)."""
    return choose(config.precision, volumetric_training=config.axes == "ZYX")


def is_float32(model: keras.Model) -> bool:
    return all(layer.dtype_policy.name == "float32" and (not isinstance(layer, keras.Model) or is_float32(layer))
               for layer in model.layers)


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """The same network with the same (float32) weights computing in `precision` (fp32 | bf16 | fp16)."""
    if precision == "fp32" and is_float32(model):
        return model
    return rebuild(model, precision)


def rebuild(model: keras.Model, precision: str) -> keras.Model:
    """A copy of a functional model, built from its config with per-layer dtype policies for `precision`, with
    csbdeep's Lambda layer (scale + eps) replaced by an equivalent Rescaling layer, so that no Python code has to
    be deserialized and the copy can be saved as HDF5 and reloaded."""
    copy = keras.Model.from_config(_rewrite(model, model.get_config(), KERAS_POLICY[precision]))
    copy.set_weights(model.get_weights())
    return copy


def _rewrite(model: keras.Model, config: dict, policy: str) -> dict:
    entries = config["layers"]
    children = {entry["name"]: [] for entry in entries}
    for entry in entries:
        for parent in _parents(entry.get("inbound_nodes", [])):
            children[parent].append(entry["name"])
    weighted_below = {}
    for entry in reversed(entries):
        name = entry["name"]
        weighted_below[name] = bool(model.get_layer(name).weights) or any(weighted_below[c] for c in children[name])
    for entry in entries:
        layer = model.get_layer(entry["name"])
        if entry["class_name"] == "InputLayer":
            continue
        if isinstance(layer, keras.Model):
            _rewrite(layer, entry["config"], policy)
            continue
        if isinstance(layer, keras.layers.Lambda):
            offset = float(np.asarray(layer(np.zeros((1, 1), np.float32)))[0, 0])
            entry.update(module="keras.layers", class_name="Rescaling", registered_name=None,
                         config={"name": entry["name"], "scale": 1.0, "offset": offset})
            for node in entry["inbound_nodes"]:
                node["kwargs"] = {}
        entry["config"]["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "registered_name": None,
                                    "config": {"name": policy if weighted_below[entry["name"]] else "float32"}}
    return config


def _parents(value) -> list[str]:
    """Names of the layers whose outputs a serialized call (a layer's inbound nodes) consumes."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        return [name for item in value.values() for name in _parents(item)]
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in _parents(item)]
    return []


def optimizer_for(optimizer: keras.optimizers.Optimizer, precision: str) -> keras.optimizers.Optimizer:
    """fp16 needs loss scaling against gradient underflow; bf16 has float32's exponent range and does not."""
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == "fp16" else optimizer


def apply_to_care(care, precision: str):
    """Switch a csbdeep CARE model to `precision` (before compiling it): its keras_model becomes the rebuilt network
    with csbdeep's legacy-HDF5 save_weights, so checkpoints stay weights_best.h5 / weights_last.h5 of float32
    weights that load into the float32 network (the layer names and weights are the same)."""
    if precision == "fp32":
        return care
    from csbdeep.models.base_model import _keras3_monkey_patch_legacy_weights

    care.keras_model = with_precision(care.keras_model, precision)
    _keras3_monkey_patch_legacy_weights(care.keras_model)
    return care

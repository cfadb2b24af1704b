"""Convert a trained CARE Keras model into the weight formats of a bioimage.io package (TensorFlow layer).

All formats hold float32 weights and networks (whatever precision trained the model) and take and give
channels-last float32 tensors (batch, [z,] y, x, channel); the output has one channel (restored) or two
(Laplace mean and scale of probabilistic CARE).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import CarekitError
from .precision import is_float32, rebuild, with_precision
from .tf import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

ONNX_OPSET = 17
ONNX_ATTEMPTS = 3
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def serializable_model(model: keras.Model) -> keras.Model:
    """The same network computing in float32, with csbdeep's Lambda layer (scale + eps of probabilistic CARE)
    replaced by an equivalent Rescaling layer, so the full model can be saved and reloaded as HDF5 without Python
    code. Exports go through it: packages hold float32 networks whatever precision trained them."""
    if is_float32(model) and not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers):
        return model
    return rebuild(model, "fp32")


def save_keras_hdf5(model: keras.Model, path: Path) -> Path:
    serializable_model(model).save(str(path))
    return path


def save_saved_model_zip(model: keras.Model, zip_path: Path, recipe=None) -> Path:
    """TF2 SavedModel whose 'serve' endpoint returns {'output': tensor} (what bioimageio.core and deepImageJ call),
    zipped as the bioimage.io spec asks. `recipe` (a train.isotropic_export.Recipe), when given, wraps the network
    in the graph of a Z-zooming model."""
    model = with_precision(model, "fp32")
    n_spatial = recipe.n_spatial if recipe else len(model.input_shape) - 2
    archive = keras.export.ExportArchive()
    archive.track(model)

    @tf.function(input_signature=[tf.TensorSpec((None,) * (n_spatial + 1) + (1,), tf.float32, name=INPUT_NAME)])
    def serve(x):
        return {OUTPUT_NAME: recipe(model, x) if recipe else model(x, training=False)}

    archive.add_endpoint("serve", serve)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "saved_model"
        archive.write_out(str(folder), verbose=False)
        shutil.make_archive(str(zip_path.with_suffix("")), "zip", root_dir=folder)
    return zip_path


def save_onnx(model: keras.Model, path: Path, probe: np.ndarray, opset: int = ONNX_OPSET, recipe=None) -> Path:
    """ONNX weights of the network (or of `recipe` around it), checked on `probe` (a float32 input the graph takes,
    batch and channel axes included) against TensorFlow before they are written. tf2onnx's graph optimizers are not
    deterministic: now and then a conversion gives a wrong graph (measured: a projection network whose ONNX output
    kept a size-1 axis, in 4 of 136 conversions), so a disagreeing conversion is redone, up to ONNX_ATTEMPTS times."""
    import tf2onnx

    model = with_precision(model, "fp32")
    n_spatial = recipe.n_spatial if recipe else len(model.input_shape) - 2

    @tf.function(input_signature=[tf.TensorSpec((None,) * (n_spatial + 1) + (1,), tf.float32, name=INPUT_NAME)])
    def forward(x):
        return tf.identity(recipe(model, x) if recipe else model(x, training=False), name=OUTPUT_NAME)

    probe = np.asarray(probe, np.float32)
    with tf.device("/CPU:0"):  # as ONNX Runtime here: a GPU's TF32 convolutions differ by ~1e-3
        expected = np.asarray(forward(tf.constant(probe)))
    disagreements = []
    for _ in range(ONNX_ATTEMPTS):
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=forward.input_signature, opset=opset)
        onnx_bytes = proto.SerializeToString()
        disagreements.append(onnx_disagreement(onnx_bytes, probe, expected))
        if disagreements[-1] is None:
            path.write_bytes(onnx_bytes)
            return path
    raise CarekitError(f"tf2onnx converted {path.name} {ONNX_ATTEMPTS} times and each ONNX graph disagreed with "
                       f"TensorFlow on the test input ({'; '.join(disagreements)}); package the model folder without "
                       "ONNX weights (`carekit package --model FOLDER --formats tensorflow_saved_model_bundle "
                       "keras_hdf5`) and report the model to the carekit developers")


def onnx_disagreement(onnx_bytes: bytes, probe: np.ndarray, expected: np.ndarray) -> str | None:
    """None when the ONNX graph gives `expected` for `probe` (within bioimageio.core test_model's default tolerance,
    1e-3 absolute and relative), else what differs."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: probe})[0]
    if got.shape != expected.shape:
        return f"output shape {got.shape} instead of {expected.shape}"
    if not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
        return f"max |difference| {float(np.max(np.abs(got - expected))):.3g}"
    return None

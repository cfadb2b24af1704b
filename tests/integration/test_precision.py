"""The precision setting (auto | fp32 | bf16): chosen for the hardware or refused in one line, honoured by training,
fine-tuning, ensembles and prediction, recorded in carekit.json; packages stay float32 and pass bioimage.io tests.

Most CPUs (this CI's too) lack bf16 instructions: bf16 runs here are emulated (CAREKIT_ALLOW_EMULATED_BF16=1). The
emulated network is the same mixed-precision network, so its accuracy is checked on any CPU; where the CPU has
bf16 units the shipped model is also checked natively.
"""

import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from carekit.cli import main
from carekit.config import ModelRecord, TrainConfig, validated
from carekit.errors import CarekitError, InputError
from carekit.fiji import locate
from carekit.io import Image, read_image, write_image
from carekit.precision import EMULATION_ENV, cpu_flags, cpu_has_bf16, resolve
from carekit.models import load_model
from carekit.models.keras_dir import KerasModelDir, load_keras_model
from carekit.predict import restore
from carekit.train.care import train_care
from carekit.train.ensemble import train_ensemble
from carekit.train.precision import choose, with_precision
from carekit.train.selfsup import train_selfsupervised
from carekit.train.tf import gpu_compute_capability
from carekit.zoo.package import build_package
from tests.conftest import synthetic_pairs

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"
TINY = dict(patch_size=(32, 32), patches_per_image=16, epochs=1, steps_per_epoch=3, batch_size=8, unet_first=8,
            learning_rate=1e-3)
# |bf16 - fp32| in normalized units (outputs span about 0..3 here); measured on held-out HeLa frames with the shipped
# model: max 0.047, mean 0.0017, PSNR within 0.04 dB (benchmarks/results/precision.md)
MAX_DIFF, MEAN_DIFF = 0.1, 0.005
HAS_BF16_HARDWARE = cpu_has_bf16() or gpu_compute_capability() is not None


@pytest.fixture(scope="module")
def emulated():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMULATION_ENV, "1")
        yield


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory, emulated) -> Path:
    lows, highs = synthetic_pairs(4, shape=(96, 96))
    model_dir = tmp_path_factory.mktemp("precision") / "bf16"
    train_care(lows, highs, TrainConfig(**TINY, precision="bf16"), model_dir, data_info={"source": "test"},
               progress=False)
    return model_dir


@pytest.fixture(scope="module")
def bf16_package(bf16_model, tmp_path_factory):
    sample = synthetic_pairs(1, shape=(128, 128), seed=11)[0][0]
    return build_package(bf16_model, tmp_path_factory.mktemp("precision") / "bf16.zip", name="bf16 trained model",
                         sample=sample)


@pytest.mark.parametrize("requested, gpu, cpu_bf16, emulation, expected, warns", [
    ("fp32", (9, 0), True, False, "fp32", False),
    ("auto", None, False, False, "fp32", False),
    ("auto", None, True, False, "bf16", False),
    ("bf16", None, True, False, "bf16", False),
    ("bf16", None, False, False, "fp32", True),
    ("bf16", None, False, True, "bf16", True),
    ("auto", None, False, True, "fp32", False),  # emulation only when bf16 is asked for
    ("auto", (8, 0), False, False, "bf16", False),
    ("bf16", (7, 5), False, False, "fp16", False),
    ("fp16", None, True, False, "bf16", False),  # a model recorded as fp16 (GPU) resumed on a bf16 CPU
])
@pytest.mark.parametrize("volumetric", [False, True])
def test_precision_choice_per_hardware(requested, gpu, cpu_bf16, emulation, expected, warns, volumetric):
    precision, warning = resolve(requested, gpu, cpu_bf16, emulation, volumetric_training=volumetric)
    if volumetric and gpu is None:  # 3D training on a CPU: fp32, said in one line when 16 bits were asked for
        expected, warns = "fp32", requested not in ("auto", "fp32")
    assert precision == expected
    assert (warning is not None) == warns
    if warning:
        assert "\n" not in warning and "bf16" in warning


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="unknown precision 'fp8'"):
        resolve("fp8", None, True)
    with pytest.raises(InputError, match="precision"):
        validated(TrainConfig, precision="fp8")
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--model", str(SHIPPED), "x.tif", "--out", "out", "--precision", "fp8"])
    assert exit_info.value.code == 2


def test_cpu_flags_name_bf16_units(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) >= {"avx2", "avx512_bf16"}
    assert cpu_has_bf16(cpu_flags(info))
    assert not cpu_has_bf16(frozenset({"avx2", "avx512f"}))
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.skipif(HAS_BF16_HARDWARE, reason="this machine has bf16 hardware")
def test_bf16_without_bf16_hardware_gives_one_line_and_fp32(monkeypatch, capfd, tmp_path):
    monkeypatch.delenv(EMULATION_ENV, raising=False)
    assert choose("auto") == "fp32"
    assert capfd.readouterr().err == ""
    image = synthetic_pairs(1, shape=(96, 96), seed=5)[0][0]
    write_image(tmp_path / "in.tif", Image(image, "YX", {}))
    assert main(["predict", "--model", str(SHIPPED), str(tmp_path / "in.tif"), "--out", str(tmp_path / "bf16"),
                 "--precision", "bf16", "--quiet"]) == 0
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "bf16" in lines[0] and "fp32" in lines[0], lines
    fp32 = restore(SHIPPED, image, progress=False).image
    np.testing.assert_array_equal(read_image(tmp_path / "bf16" / "in.tif").data, fp32)


def test_bf16_training_is_recorded_and_checkpoints_are_float32(bf16_model):
    assert ModelRecord.load(bf16_model).train.precision == "bf16"
    for name in ("weights_best.h5", "weights_last.h5"):
        assert set(_h5_dtypes(bf16_model / name)) == {np.dtype("float32")}, name


def test_bf16_trained_model_packages_validates_and_exports_float32(bf16_package):
    assert bf16_package.test_results == {"keras_hdf5": "passed", "tensorflow_saved_model_bundle": "passed",
                                         "onnx": "passed"}
    folder = bf16_package.folder
    assert set(_h5_dtypes(folder / "care_keras.h5")) == {np.dtype("float32")}
    with h5py.File(folder / "care_keras.h5") as fh:
        model_config = fh.attrs["model_config"]
    assert "mixed_" not in (model_config.decode() if isinstance(model_config, bytes) else model_config)
    assert json.loads((folder / "carekit.json").read_text())["train"]["precision"] == "bf16"
    _assert_onnx_float32(folder / "care.onnx")
    _assert_saved_model_float32(folder / "care_tf_saved_model.zip")


def test_bf16_prediction_runs_in_bf16_close_to_fp32(bf16_model, bf16_package, emulated):
    image = synthetic_pairs(1, shape=(128, 160), seed=6)[0][0]
    runner = KerasModelDir(bf16_model, precision="bf16")
    convolutions = [layer for layer in runner.model.layers if layer.weights]
    assert {layer.compute_dtype for layer in convolutions} == {"bfloat16"}
    assert {w.dtype for w in runner.model.weights} == {"float32"}
    fp32 = restore(bf16_model, image, progress=False).image
    bf16 = restore(runner, image, progress=False).image
    assert bf16.dtype == np.float32
    _assert_close(bf16, fp32)
    from_package = restore(load_model(bf16_package.zip_path, precision="bf16"), image, progress=False).image
    np.testing.assert_allclose(from_package, bf16, atol=1e-5)


@pytest.mark.parametrize("native", [False, pytest.param(True, marks=pytest.mark.skipif(
    not HAS_BF16_HARDWARE, reason="no bf16 CPU instructions or GPU here"))], ids=["emulated", "native"])
def test_shipped_model_bf16_prediction_within_tolerance(native, monkeypatch):
    monkeypatch.setenv(EMULATION_ENV, "0" if native else "1")
    image = synthetic_pairs(1, shape=(384, 384), seed=3)[0][0]
    fp32 = restore(load_model(SHIPPED, engine="keras"), image, progress=False).image
    runner = load_model(SHIPPED, precision="bf16")
    assert runner.precision in ("bf16", "fp16")
    _assert_close(restore(runner, image, progress=False).image, fp32)


@pytest.mark.skipif(locate.imagej_jar() is None or locate.jython_jar() is None,
                    reason="needs apt packages imagej and jython (bash run.sh installs them)")
def test_fiji_plugin_precision_option_reaches_the_worker(bf16_package, tmp_path, emulated):
    from carekit.fiji.run import run_in_fiji

    python = tmp_path / "python-emulated-bf16"  # the worker's Python, allowed to emulate bf16
    python.write_text(f'#!/bin/sh\n{EMULATION_ENV}=1 exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    image = synthetic_pairs(1, shape=(96, 96), seed=12)[0][0]
    in_fiji = np.asarray(run_in_fiji(bf16_package.zip_path, image, precision="bf16", python=str(python)))
    expected = restore(load_model(bf16_package.zip_path, precision="bf16"), image, progress=False).image
    np.testing.assert_allclose(in_fiji, expected, atol=1e-4)
    _assert_close(in_fiji, restore(bf16_package.zip_path, image, progress=False).image)
    with pytest.raises(CarekitError, match="precision must be auto, fp32 or bf16"):
        run_in_fiji(bf16_package.zip_path, image, precision="fp8")


def test_bf16_ensemble_gives_float32_scale_and_disagreement(tmp_path, emulated):
    lows, highs = synthetic_pairs(4, shape=(96, 96))
    train_ensemble(lows, highs, TrainConfig(**TINY, precision="bf16"), tmp_path / "ensemble", members=2,
                   progress=False)
    assert ModelRecord.load(tmp_path / "ensemble").train.precision == "bf16"
    assert ModelRecord.load(tmp_path / "ensemble" / "member_1").train.precision == "bf16"
    image = synthetic_pairs(1, shape=(96, 96), seed=7)[0][0]
    fp32 = restore(KerasModelDir(tmp_path / "ensemble"), image, progress=False)
    bf16 = restore(KerasModelDir(tmp_path / "ensemble", precision="bf16"), image, progress=False)
    assert bf16.disagreement.dtype == np.float32 and 0 <= bf16.disagreement.min() <= bf16.disagreement.max() <= 1
    _assert_close(bf16.image, fp32.image)
    assert np.abs(bf16.disagreement - fp32.disagreement).mean() < 0.01
    # the combined float32 network (as packaged) rebuilt in bf16: nested members computed like the folder's
    batch = image[None, :64, :64, None] / image.max()
    nested = with_precision(load_keras_model(tmp_path / "ensemble"), "bf16")(batch).numpy()
    direct = load_keras_model(tmp_path / "ensemble", precision="bf16")(batch).numpy()
    assert nested.dtype == np.float32 and (nested[..., 1::2] > 0).all()
    np.testing.assert_allclose(nested, direct, atol=1e-5)


def test_finetuning_records_the_precision_auto_chose(bf16_model, tmp_path, monkeypatch):
    monkeypatch.delenv(EMULATION_ENV, raising=False)
    noisy = synthetic_pairs(3, shape=(96, 96), seed=9)[0]
    config = TrainConfig(**{**TINY, "learning_rate": 1e-4})
    train_selfsupervised(noisy, config, tmp_path / "finetuned", method="n2v", pretrained=bf16_model, progress=False)
    expected = "fp32" if not HAS_BF16_HARDWARE else choose("auto")
    assert ModelRecord.load(tmp_path / "finetuned").train.precision == expected


def _assert_close(reduced: np.ndarray, fp32: np.ndarray) -> None:
    difference = np.abs(reduced.astype(np.float64) - fp32)
    assert difference.max() <= MAX_DIFF and difference.mean() <= MEAN_DIFF, (difference.max(), difference.mean())
    assert difference.max() > 0  # really computed in reduced precision


def _h5_dtypes(path: Path) -> list:
    dtypes = []
    with h5py.File(path) as fh:
        fh.visititems(lambda name, item: dtypes.append(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert dtypes
    return dtypes


def _assert_onnx_float32(path: Path) -> None:
    import onnx

    model = onnx.load(str(path))
    float32 = onnx.TensorProto.FLOAT
    weights = {t.data_type for t in model.graph.initializer}  # weights, plus int32/int64 shape constants
    assert float32 in weights and weights <= {float32, onnx.TensorProto.INT32, onnx.TensorProto.INT64}
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        assert value.type.tensor_type.elem_type == float32, value.name
    casts = [a.i for node in model.graph.node if node.op_type == "Cast" for a in node.attribute if a.name == "to"]
    assert not set(casts) & {onnx.TensorProto.BFLOAT16, onnx.TensorProto.FLOAT16}


def _assert_saved_model_float32(path: Path) -> None:
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with zipfile.ZipFile(path) as zf:
        proto.ParseFromString(zf.read("saved_model.pb"))
    graph = proto.meta_graphs[0].graph_def
    nodes = list(graph.node) + [n for function in graph.library.function for n in function.node_def]
    dtypes = {value.type for node in nodes for value in node.attr.values() if value.type}
    assert types_pb2.DT_FLOAT in dtypes
    assert not dtypes & {types_pb2.DT_BFLOAT16, types_pb2.DT_HALF}

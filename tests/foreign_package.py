"""A bioimage.io package that carekit did not make, written by hand as other tools do (spec 0.5, `bioimageio.yaml`,
a FIXED 64x64 input, output halo 8, zero_mean_unit_variance preprocessing, sigmoid postprocessing, two outputs; a
tiny ONNX network built with onnx.helper, no training): shared by tests/integration and tests/fiji."""

import hashlib
import json

import numpy as np

SIZE, HALO = 64, 8
KERNELS = np.random.default_rng(0).normal(size=(2, 1, 3, 3)).astype(np.float32)
OUTPUTS = ("foreground", "boundary")  # foreground = conv_0, boundary = -conv_1, both through the sigmoid


def onnx_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = [1, 1, SIZE, SIZE]
    nodes = [helper.make_node("Conv", ["raw", "w"], ["feat"], pads=[1, 1, 1, 1]),
             helper.make_node("Split", ["feat", "split"], ["a", "b"], axis=1),
             helper.make_node("Identity", ["a"], ["foreground"]),
             helper.make_node("Neg", ["b"], ["boundary"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("raw", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name in OUTPUTS],
        [numpy_helper.from_array(KERNELS, "w"), numpy_helper.from_array(np.array([1, 1], np.int64), "split")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def tensor_axes(size):
    return [{"type": "batch"}, {"type": "channel", "channel_names": ["c"]},
            {"type": "space", "id": "y", "size": size}, {"type": "space", "id": "x", "size": size}]


def package_rdf(folder, **changes) -> dict:
    sha = hashlib.sha256((folder / "weights.onnx").read_bytes()).hexdigest()
    axes = tensor_axes(None)[:2] + [{"type": "space", "id": a, "size": {"tensor_id": "raw", "axis_id": a},
                                      "halo": HALO} for a in ("y", "x")]
    outputs = [{"id": name, "axes": axes, "test_tensor": {"source": f"test_{name}.npy"},
                "postprocessing": [{"id": "sigmoid"}]} for name in OUTPUTS]
    rdf = {"format_version": "0.5.4", "type": "model", "name": "tiny fixed-size net",
           "description": "a package written by hand", "authors": [{"name": "Test"}], "license": "MIT",
           "cite": [{"text": "none", "doi": "10.5281/zenodo.5764892"}], "documentation": "README.md",
           "inputs": [{"id": "raw", "axes": tensor_axes(SIZE), "test_tensor": {"source": "test_input.npy"},
                       "preprocessing": [{"id": "zero_mean_unit_variance", "kwargs": {"axes": ["y", "x"]}}]}],
           "outputs": outputs,
           "weights": {"onnx": {"source": "weights.onnx", "sha256": sha, "opset_version": 17}}}
    rdf.update(changes)
    return rdf


def write_package(folder, name="bioimageio.yaml", **changes):
    (folder / name).write_text(json.dumps(package_rdf(folder, **changes), indent=1))  # JSON is YAML
    return folder / name


def reference_outputs(image):
    """What the package computes, without tiling: per-image zero mean / unit variance, the 3x3 convolution with
    symmetric edge padding (bioimageio.core's default), sigmoid."""
    norm = (image - image.mean()) / (image.std() + 1e-6)
    padded = np.pad(norm, 1, mode="symmetric")
    conv = [sum(k[i, j] * padded[i:i + image.shape[0], j:j + image.shape[1]] for i in range(3) for j in range(3))
            for k in KERNELS[:, 0]]
    return {"foreground": 1 / (1 + np.exp(-conv[0])), "boundary": 1 / (1 + np.exp(conv[1]))}


def write_foreign_package(folder):
    """The package's files in `folder`; returns its bioimageio.yaml."""
    onnx_model(folder / "weights.onnx")
    test_input = np.random.default_rng(1).normal(size=(1, 1, SIZE, SIZE)).astype(np.float32)
    np.save(folder / "test_input.npy", test_input)
    for name, out in reference_outputs(test_input[0, 0]).items():
        np.save(folder / f"test_{name}.npy", out[None, None])
    (folder / "README.md").write_text("# tiny fixed-size net\n")
    return write_package(folder)

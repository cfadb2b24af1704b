"""The CARE Restore plugin's Jython helpers run under CPython: the logic is the real code, laid out as the
installer lays it out; only the ImageJ/Java API they call is replaced by small stand-ins. tests/fiji/ runs the
same files in real ImageJ + Jython."""

import ast
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import carekit
from carekit.fiji import contract, convert, locate, worker
from carekit.fiji.install import scripts_dir
from carekit.fiji.run import plugin_options
from tests.unit.imagej_stand_ins import IJ, Calibration, CompositeImage, FloatBuffer, FloatProcessor, ImagePlus, \
    ImageStack


def test_every_fiji_script_parses_under_cpython():
    files = sorted(scripts_dir().rglob("*.py"))
    assert len(files) >= 7
    for path in files:
        compile(path.read_text(), str(path), "exec")


def test_helpers_import_the_installed_copy_of_the_one_contract(helpers, lib):
    assert (lib / "carekit_fiji" / "contract.py").read_bytes() == Path(contract.__file__).read_bytes()
    assert not (scripts_dir() / "lib" / "carekit_fiji" / "contract.py").exists()
    assert helpers.options.contract is helpers.contract is helpers.engines.contract
    assert helpers.contract.OPTION_DEFAULTS == contract.OPTION_DEFAULTS


def test_defaults_fill_what_the_macro_leaves_out(helpers):
    assert helpers.options.from_macro_string("model=[/m.zip] headless") == {
        "model": "/m.zip", "input": "", "output": "", "engine": "python", "backend": "onnx", "tile": 0,
        "uncertainty": True, "python": "", "timeout": 600.0, "precision": "fp32", "rescale": "model",
        "classical_check": True, "hot_pixels": "keep", "classical_blend": None, "tta": False}


def test_bracket_quote_and_plain_values(helpers):
    values = helpers.options.from_macro_string(
        " model=[/data/a b [x]/m.zip] input='/in [put.tif' output=/out.tif tile=64 uncertainty=false "
        "timeout=2.5 engine=DeepImageJ backend=KERAS python=[] precision=BF16 rescale=AUTO classical_check=false "
        "hot_pixels=Replace classical_blend=TRUE tta=yes")
    assert values == {"model": "/data/a b [x]/m.zip", "input": "/in [put.tif", "output": "/out.tif",
                      "engine": "deepimagej", "backend": "keras", "tile": 64, "uncertainty": False,
                      "python": "", "timeout": 2.5, "precision": "bf16", "rescale": "auto",
                      "classical_check": False, "hot_pixels": "replace", "classical_blend": True, "tta": True}


@pytest.mark.parametrize("macro, message", [
    ("model=[/m.zip] colour=red", "unknown option 'colour'; known options: backend, classical_blend, "
                                  "classical_check, engine, hot_pixels, input, model, output, precision, python, "
                                  "rescale, tile, timeout, tta, uncertainty"),
    ("model=[/a/m.zip", "the value of model= has no closing ]: a path whose [ ] do not pair up"),
    ("model='/a/m.zip", "the value of model= has no closing quote"),
    ("model=[/run]2/m.zip] tile=4", "model=[/run] is followed by '2/m.zip]': a path whose [ ] do not pair up cannot "
                                    "be written in [brackets]: put it in single quotes instead"),
    ("input=[/in.tif]", "no model given: pass model=[/path/to/package.zip]"),
    ("model=[/m.zip] engine=gpu", "engine must be 'python' or 'deepimagej', got 'gpu'"),
    ("model=[/m.zip] backend=torch", "backend must be onnx, tensorflow or keras, got 'torch'"),
    ("model=[/m.zip] tile=big", "tile and timeout must be numbers"),
    ("model=[/m.zip] rescale=twice", "rescale must be model (the model's own), 1 (off), auto, search or a "
                                     "downsampling factor from 1 to 8 such as 3, got 'twice'"),
    ("model=[/m.zip] rescale=0.5", "rescale must be model (the model's own), 1 (off), auto, search or a "
                                   "downsampling factor from 1 to 8"),
    ("model=[/m.zip] hot_pixels=remove", "hot_pixels must be one of keep, replace, got 'remove'"),
    ("model=[file:m.zip]", "'file:m.zip' is not a valid file: URI (URI is not hierarchical)"),
    ("model=[/m.zip] output tta", "output needs a value: output=[...]"),
    ("model=[/m.zip] tta=false tta", "tta is given twice"),
    ("model=[/m.zip] tta=ture", "tta must be true or false, got 'ture'"),
    ("model=[/m.zip] uncertainty=", "uncertainty must be true or false, got ''"),
])
def test_bad_macro_options_raise_one_clear_error(helpers, macro, message):
    with pytest.raises(helpers.options.OptionError) as raised:
        helpers.options.from_macro_string(macro)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_bare_flag_word_turns_its_option_on_as_a_ticked_imagej_checkbox(helpers):
    """An ImageJ macro writes a ticked checkbox as its bare name: `tta` asks for test-time augmentation, and an
    older plugin's `classical_blend` checkbox asks for the blend (not the model's own choice)."""
    values = helpers.options.from_macro_string("model=[/m.zip]  tta classical_blend headless")
    assert values["tta"] is True and values["classical_blend"] is True
    assert values["uncertainty"] is True and values["classical_check"] is True  # defaults, as before
    words = helpers.options.from_macro_string("model=[/m.zip] uncertainty=false classical_check=false")
    assert words["uncertainty"] is False and words["classical_check"] is False
    assert helpers.options.from_macro_string("model=[/m.zip]")["tta"] is False


def test_what_run_in_fiji_writes_the_plugin_reads_back(helpers, tmp_path):
    model, image = tmp_path / "it's [run]2]" / "tiny.zip", tmp_path / "a [b]" / "in put.tif"
    written = plugin_options(model, engine="deepimagej", backend="keras", tile=32, uncertainty=False,
                             python="/opt/py thon/bin/python", timeout=12.5, input_path=image,
                             output_path=tmp_path / "out'.tif", rescale=2.5, classical_check=False,
                             hot_pixels="replace", classical_blend=True, tta=True)
    assert "file:" in written  # the model path has unpaired brackets and a quote
    assert helpers.options.from_macro_string(written) == {
        "model": str(model), "input": str(image), "output": str(tmp_path / "out'.tif"), "engine": "deepimagej",
        "backend": "keras", "tile": 32, "uncertainty": False, "python": "/opt/py thon/bin/python", "timeout": 12.5,
        "precision": "fp32", "rescale": "2.5", "classical_check": False, "hot_pixels": "replace",
        "classical_blend": True, "tta": True}
    defaults = helpers.options.normalize({"model": str(model)})
    assert helpers.options.from_macro_string(plugin_options(model)) == defaults
    assert helpers.options.from_macro_string(plugin_options(model, rescale=None))["rescale"] == "1"  # off, said


@pytest.mark.parametrize("dims, shape, axes", [
    ((1, 1, 1), [7, 5], "YX"),
    ((3, 1, 1), [3, 7, 5], "TYX"),
    ((1, 4, 2), [4, 2, 7, 5], "ZCYX"),
    ((2, 3, 2), [2, 3, 2, 7, 5], "TZCYX"),
])
def test_layout_drops_singleton_axes_in_imagej_order(helpers, dims, shape, axes):
    frames, slices, channels = dims
    assert contract.squeezed_layout(frames, slices, channels, 7, 5) == (shape, axes)
    assert contract.hyperstack_dims(shape, axes) == (channels, slices, frames)
    stack = ImageStack(5, 7)
    for _ in range(frames * slices * channels):
        stack.addSlice(None, FloatProcessor(5, 7, np.zeros(35, np.float32)))
    imp = ImagePlus("image", stack)
    imp.setDimensions(channels, slices, frames)
    assert helpers.images.layout(imp) == (shape, axes)


@pytest.mark.parametrize("shape, axes, names", [
    ((6, 5), "YX", None),
    ((3, 6, 5), "ZYX", None),
    ((3, 2, 6, 5), "TCYX", ["mean", "scale"]),
    ((4, 3, 2, 6, 5), "TZCYX", None),
])
def test_worker_results_become_hyperstacks_that_both_sides_read_alike(helpers, shape, axes, names):
    """A result buffer in TZCYX order -> ImagePlus (plugin) -> numpy (carekit.fiji.convert) and -> buffer."""
    array = np.random.default_rng(0).random(shape).astype(np.float32)
    imp = helpers.images.read_image(FloatBuffer(array), list(shape), axes, "restored", Calibration(0.25), names)
    data, read_axes, pixel_size = convert.from_imageplus(imp)
    assert read_axes == axes and pixel_size["X"] == 0.25
    np.testing.assert_array_equal(data, array)
    assert isinstance(imp, CompositeImage) == ("C" in axes)
    assert convert.channel_names(imp) == (names or [])
    written = FloatBuffer()
    helpers.images.write_planes(imp, written)
    np.testing.assert_array_equal(np.array(written.values), array.ravel())


def test_task_script_inputs_and_worker_signature_agree(helpers):
    parameters = list(inspect.signature(worker.restore_task).parameters)
    assert parameters == ["task"] + list(contract.TASK_INPUTS)
    opts = helpers.options.from_macro_string("model=[/m.zip] tile=16")
    inputs = contract.task_inputs({"appose_type": "ndarray"}, {"appose_type": "ndarray"}, "TYX", opts)
    assert sorted(inputs) == sorted(contract.TASK_INPUTS)
    inspect.signature(worker.restore_task).bind(object(), **inputs)
    call = ast.parse(contract.TASK_SCRIPT).body[-1].value
    assert call.func.id == "restore_task" and [arg.id for arg in call.args] == parameters
    assert contract.output_values(35, True) == 70 and contract.output_values(35, False) == 35


def test_plugin_choices_are_the_ones_carekit_runs():
    from carekit.models.weights import ENGINES
    from carekit.precision import CHOICES

    from carekit.data.hot_pixel_images import CHOICES as HOT_PIXELS, KEEP

    assert contract.BACKENDS == ENGINES and contract.PRECISIONS == CHOICES
    assert contract.HOT_PIXELS == HOT_PIXELS and contract.OPTION_DEFAULTS["hot_pixels"] == KEEP


def test_rescale_option_reaches_restore_as_it_takes_it():
    from carekit.predict.rescale import AUTO, MODEL

    assert (contract.RESCALE_AUTO, contract.RESCALE_MODEL) == (AUTO, MODEL)
    assert [contract.rescale_value(v) for v in ("1", "", " Auto ", "3", "1.0", "Model")] == [None, None, AUTO, 3.0,
                                                                                             None, MODEL]
    with pytest.raises(ValueError):
        contract.rescale_value("twice")


@pytest.mark.parametrize("changed, refused", [
    ({}, None), ({"rescale": "1"}, None), ({"rescale": None}, None), ({"hot_pixels": " KEEP"}, None),
    ({"rescale": "auto"}, "rescale=auto needs engine=python"), ({"rescale": 2.0}, "rescale=2.0 needs engine=python"),
    ({"hot_pixels": "replace"}, "hot_pixels=replace needs engine=python"),
    ({"classical_blend": True}, "classical_blend=true needs engine=python"), ({"classical_blend": None}, None),
    ({"tta": True}, "tta=true needs engine=python")])
def test_deepimagej_refuses_what_it_cannot_do_on_both_sides(helpers, changed, refused):
    """One refusal for the plugin (its options) and run_in_fiji (restore()'s values), before ImageJ starts."""
    from carekit.errors import InputError
    from carekit.fiji.run import run_in_fiji

    options = {"rescale": "model", "hot_pixels": "keep", "classical_blend": False, "tta": False, **changed}
    refusal = contract.engine_refusal("deepimagej", options)
    assert (refusal is None) if refused is None else refusal.startswith(refused)
    assert contract.engine_refusal("python", {**options, "rescale": "auto", "tta": True}) is None
    if refused is None:
        return
    with pytest.raises(helpers.engines.EngineError, match=refused.split()[0]):
        helpers.engines.restore_deepimagej(None, {**options, "rescale": str(options["rescale"])})
    with pytest.raises(InputError, match=refused.split()[0]):  # no model, no ImageJ: refused first
        run_in_fiji("/no/such/model.zip", np.zeros((8, 8), np.float32), engine="DeepImageJ", **options)
    with pytest.raises(InputError, match="rescale='twice': could not convert"):
        run_in_fiji("/no/such/model.zip", np.zeros((8, 8), np.float32), engine="deepimagej", rescale="twice")


def test_worker_command_starts_the_worker_which_exits_when_stdin_closes():
    env = dict(os.environ, PYTHONPATH=str(Path(carekit.__file__).parents[1]))
    result = subprocess.run([sys.executable, "-c", contract.WORKER_COMMAND], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr


def test_find_python_prefers_option_then_environment_then_installed_record(helpers, tmp_path, monkeypatch):
    find = helpers.engines.find_python
    monkeypatch.delenv("CAREKIT_PYTHON", raising=False)
    monkeypatch.setitem(IJ.directories, "plugins", str(tmp_path) + "/")
    assert find("") == "python3"
    (tmp_path / "CARE").mkdir()
    (tmp_path / "CARE" / contract.PROPERTIES_FILE).write_text(contract.properties_text("/env/bin/python"))
    assert find("") == "/env/bin/python"
    monkeypatch.setenv("CAREKIT_PYTHON", "/other/python")
    assert find("") == "/other/python"
    assert find("/given/python") == "/given/python"


def test_failures_reach_the_macro_as_one_error_line(helpers, tmp_path):
    restore = helpers.restore
    with pytest.raises(restore.KNOWN_ERRORS, match="model package not found: /no/model.zip"):
        restore.run({"model": "/no/model.zip"})
    with pytest.raises(restore.KNOWN_ERRORS, match="no image is open"):
        restore.input_image("")
    said = restore.report(helpers.options.OptionError("input image not found: /x.tif"))
    assert said == contract.ERROR_PREFIX + " input image not found: /x.tif"
    assert IJ.logged[-1] == "CARE Restore: input image not found: /x.tif"


def test_worker_tracebacks_shrink_to_their_last_line(helpers):
    cause = helpers.appose_client.cause
    traceback = ('Traceback (most recent call last):\n  File "w.py", line 3, in <module>\n    load()\n'
                 "carekit.errors.InputError: /m.zip is not a zip file\n")
    assert cause(traceback) == "InputError: /m.zip is not a zip file"
    assert cause("starting\nKilled\n") == "Killed"
    assert cause("") == ""


def test_jython_parses_every_script_and_reads_options_as_cpython_does(helpers, lib, tmp_path):
    jar, home = locate.jython_jar(), locate.java_home()
    if jar is None or home is None:
        pytest.skip("needs Java and the apt package jython")
    files = [str(path) for path in sorted(scripts_dir().rglob("*.py"))] + [str(lib / "carekit_fiji" / "contract.py")]
    macro = plugin_options(tmp_path / "run]2" / "m.zip", tile=8, python="/py", input_path=tmp_path / "[in].tif")
    script = ("import sys, json\nsys.path.insert(0, sys.argv[1])\n"
              "for name in sys.argv[3:]:\n    compile(open(name).read(), name, 'exec')\n"
              "from carekit_fiji import options\nprint(json.dumps(options.from_macro_string(sys.argv[2])))\n")
    result = subprocess.run([str(home / "bin" / "java"), "-jar", str(jar), "-c", script, str(lib), macro] + files,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == helpers.options.from_macro_string(macro)

"""Out-of-range warnings reach ImageJ's Log (issue #16 part 3): the worker returns them with the result and the
plugin logs one line each; an input like the training data logs none; rescale=auto restores the out-of-scale input
as Python does, without the warning, and logs the factor it chose, as rescale=search does. The comparison with
classical denoising logs its warning too (the shipped generalist on a confocal plane it loses on), and nothing where
the model wins; the classical blend logs how it mixed, as Python mixes."""

import numpy as np
import pytest
from scipy import ndimage

from carekit.config import SynthConfig
from carekit.fiji.run import plugin_options
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from carekit.synth import structures
from carekit.synth.pairs import make_pairs
from tests.fiji.test_imagej import _run_imagej, imagej_home  # noqa: F401  (the module's ImageJ fixture)

pytestmark = pytest.mark.imagej


def _plugin_log(home, macro, options: str) -> str:
    """ImageJ's Log (ImageJ in `home`) after a macro, written to `macro`, ran CARE Restore with `options` and printed
    its result."""
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    macro.write_text(f'result = runMacro("{plugin}", "{options}");\nprint("plugin said: " + result);\n')
    return _run_imagej(home, str(macro))


def test_out_of_range_input_logs_a_warning_in_imagej(imagej_home, tiny_package, tmp_path):  # noqa: F811
    clean = structures.synthetic_ground_truth("mixed", (128, 128), 1, seed=7)
    images = {"similar": clean[0], "zoomed": ndimage.zoom(clean[0], 4, order=1)[64:192, 64:192]}
    logs = {}
    for name, image in images.items():
        low = make_pairs([image], SynthConfig(photons=[5.0], seed=7))[0][0]
        write_image(tmp_path / f"{name}.tif", Image(low, "YX"))
        options = plugin_options(tiny_package, input_path=tmp_path / f"{name}.tif",
                                 output_path=tmp_path / f"{name}_out.tif", classical_check=False)
        logs[name] = _plugin_log(imagej_home, tmp_path / f"{name}.ijm", options)
        assert f"plugin said: {name}_out.tif" in logs[name], logs[name]
    assert "warning" not in logs["similar"].lower(), logs["similar"]
    warned = [line for line in logs["zoomed"].splitlines() if line.startswith("CARE Restore: warning: ")]
    assert len(warned) == 1 and "object scale" in warned[0] and "--rescale auto" in warned[0], logs["zoomed"]

    for engine, expected in (("python", "plugin said: rescaled.tif"),
                             ("deepimagej", "plugin said: ERROR: rescale=auto needs engine=python")):
        options = plugin_options(tiny_package, engine=engine, input_path=tmp_path / "zoomed.tif",
                                 output_path=tmp_path / "rescaled.tif", rescale="auto", uncertainty=False,
                                 classical_check=False)
        log = _plugin_log(imagej_home, tmp_path / f"rescale_{engine}.ijm", options)
        assert expected in log and "object scale" not in log, log  # judged at the scale the network sees
        assert ("CARE Restore: rescale auto: downsampled" in log) == (engine == "python"), log
    in_python = restore(tiny_package, read_image(tmp_path / "zoomed.tif"), rescale="auto", progress=False)
    assert np.allclose(read_image(tmp_path / "rescaled.tif").data, in_python.image, atol=1e-5)

    options = plugin_options(tiny_package, input_path=tmp_path / "zoomed.tif", output_path=tmp_path / "searched.tif",
                             rescale="search", uncertainty=False, classical_check=False)
    log = _plugin_log(imagej_home, tmp_path / "rescale_search.ijm", options)
    searched = restore(tiny_package, read_image(tmp_path / "zoomed.tif"), rescale="search", progress=False,
                       engine="onnx")
    note = "downsampled" if searched.factor > 1 else "restored at full size"
    assert "plugin said: searched.tif" in log and f"CARE Restore: rescale search: {note}" in log, log
    assert np.allclose(read_image(tmp_path / "searched.tif").data, searched.image, atol=1e-5)


def test_classical_denoising_estimated_better_is_logged_in_imagej(imagej_home, tmp_path):  # noqa: F811
    from tests.integration.test_classical_check import _held_out
    from tests.integration.test_generalist_package import PACKAGE

    logs = {}
    for name, (dataset, photons) in {"confocal": ("nuclei3d", 10.0), "widefield": ("bbbc007", 3.0)}.items():
        write_image(tmp_path / f"{name}.tif", Image(_held_out(dataset, photons), "YX"))
        options = plugin_options(PACKAGE, input_path=tmp_path / f"{name}.tif", output_path=tmp_path / f"{name}_o.tif",
                                 uncertainty=False, rescale=None if name == "confocal" else "model",
                                 classical_blend=False)  # the check runs where the blend does not
        logs[name] = _plugin_log(imagej_home, tmp_path / f"{name}.ijm", options)
        assert f"plugin said: {name}_o.tif" in logs[name], logs[name]
    warned = [line for line in logs["confocal"].splitlines() if line.startswith("CARE Restore: warning: ")]
    assert len(warned) == 1 and "the model is behind" in warned[0] and "out of its depth" in warned[0], logs
    assert "warning" not in logs["widefield"].lower(), logs["widefield"]
    assert "CARE Restore: rescale search (the model's default): " in logs["widefield"], logs["widefield"]


def test_hot_pixels_are_logged_and_replaced_in_imagej(imagej_home, tiny_package, tmp_path):  # noqa: F811
    from tests.integration.test_hot_pixels_restore import _with_hot_pixels

    image, mask = _with_hot_pixels()
    write_image(tmp_path / "hot.tif", Image(image, "YX"))
    logs = {}
    for engine, hot_pixels in (("python", "keep"), ("python", "replace"), ("deepimagej", "replace")):
        name = f"{engine}_{hot_pixels}"
        options = plugin_options(tiny_package, engine=engine, input_path=tmp_path / "hot.tif",
                                 output_path=tmp_path / f"{name}.tif", uncertainty=False, classical_check=False,
                                 hot_pixels=hot_pixels)
        logs[name] = _plugin_log(imagej_home, tmp_path / f"{name}.ijm", options)
    warned = [line for line in logs["python_keep"].splitlines() if "isolated hot" in line]
    assert len(warned) == 1 and warned[0].startswith("CARE Restore: warning: ") and "hot_pixels=replace" in warned[0]
    assert f"CARE Restore: replaced {mask.sum()} hot pixels" in logs["python_replace"], logs["python_replace"]
    assert "isolated hot" not in logs["python_replace"]
    in_python = restore(tiny_package, image, hot_pixels="replace", progress=False, engine="onnx")
    assert np.allclose(read_image(tmp_path / "python_replace.tif").data, in_python.image, atol=1e-5)
    assert "plugin said: ERROR: hot_pixels=replace needs engine=python" in logs["deepimagej_replace"]


def test_the_classical_blend_runs_and_is_logged_in_imagej(imagej_home, tmp_path):  # noqa: F811
    from carekit.predict.classical_blend import SHARES, blend_note
    from tests.integration.test_classical_check import _held_out
    from tests.integration.test_generalist_package import PACKAGE

    image = _held_out("nuclei3d", 10.0)  # a confocal plane the generalist loses on: it gets less than all the share
    write_image(tmp_path / "confocal.tif", Image(image, "YX"))
    logs = {}
    for engine in ("python", "deepimagej"):
        options = plugin_options(PACKAGE, engine=engine, input_path=tmp_path / "confocal.tif",
                                 output_path=tmp_path / f"{engine}.tif", uncertainty=False, rescale=None,
                                 classical_blend=True)
        logs[engine] = _plugin_log(imagej_home, tmp_path / f"{engine}.ijm", options)
    in_python = restore(PACKAGE, image, rescale=None, classical_blend=True, progress=False, engine="onnx")
    (blend,) = in_python.classical_blend
    assert blend.share in SHARES[1:-1], blend  # mixed: neither the model nor the classical denoiser alone
    assert f"CARE Restore: {blend_note(in_python.classical_blend)}" in logs["python"], logs["python"]
    assert "the model is behind" not in logs["python"]  # blended, the classical check does not run
    assert np.allclose(read_image(tmp_path / "python.tif").data, in_python.image, atol=1e-4)
    assert "plugin said: ERROR: classical_blend=true needs engine=python" in logs["deepimagej"], logs["deepimagej"]

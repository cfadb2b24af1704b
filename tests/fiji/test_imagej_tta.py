"""Test-time augmentation in real ImageJ: tta=true in a macro restores as restore(..., tta=True) does in Python,
and deepImageJ, which runs the model once, refuses it in one line."""

import numpy as np
import pytest

from carekit.fiji.run import plugin_options
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from tests.conftest import synthetic_pairs
from tests.fiji.test_imagej import imagej_home  # noqa: F401  (the module's ImageJ fixture)
from tests.fiji.test_imagej_domain_warnings import _plugin_log

pytestmark = pytest.mark.imagej


def test_tta_in_a_macro_restores_as_python_does(imagej_home, tiny_package, tmp_path):  # noqa: F811
    low = synthetic_pairs(1, shape=(96, 80), seed=8)[0][0].astype(np.float32)
    write_image(tmp_path / "in.tif", Image(low, "YX"))
    logs = {}
    for engine in ("python", "deepimagej"):
        options = plugin_options(tiny_package, engine=engine, input_path=tmp_path / "in.tif",
                                 output_path=tmp_path / f"{engine}.tif", uncertainty=False, classical_check=False,
                                 tta=True)
        logs[engine] = _plugin_log(imagej_home, tmp_path / f"{engine}.ijm", options)
    expected = restore(tiny_package, low, progress=False, engine="onnx", tta=True).image
    plain = restore(tiny_package, low, progress=False, engine="onnx").image
    assert "plugin said: python.tif" in logs["python"], logs["python"]
    assert "CARE Restore: test-time augmented: averaged over 8 turns and flips" in logs["python"], logs["python"]
    np.testing.assert_allclose(read_image(tmp_path / "python.tif").data, expected, atol=1e-4)
    assert np.abs(expected - plain).max() > 1e-3
    assert "plugin said: ERROR: tta=true needs engine=python" in logs["deepimagej"], logs["deepimagej"]

"""Figures: drawn on matplotlib Figure objects (the caller's backend stays as it was), with the expected size in
pixels and content in every panel."""

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from carekit.evaluate.report import comparison_figure
from carekit.train.history import plot_history
from carekit.zoo.docs import cover as _cover
from tests.conftest import synthetic_pairs

BLUE = np.array(to_rgb("C0"))  # the first line of every plot


@pytest.fixture
def svg_backend():
    """A notebook-like state: a non-Agg backend chosen by the user, put back afterwards."""
    original = matplotlib.get_backend()
    matplotlib.use("svg")
    yield
    matplotlib.use(original)


def _rgb(path, size):
    image = imread(path)[..., :3]
    assert image.shape[:2] == size[::-1], f"{path.name}: {image.shape[1]}x{image.shape[0]} pixels, expected {size}"
    return image


def _has_color(region, color, tolerance=0.08):
    return int(np.sum(np.all(np.abs(region - color) < tolerance, axis=-1)))


def _image_panel_ok(region):
    """Mostly painted (not the white background) and structured (not one flat colour)."""
    gray = region.mean(axis=-1)
    return np.mean(gray < 0.95) > 0.9 and gray.std() > 0.05


def test_plot_history_keeps_the_backend_and_draws_three_panels(tmp_path, svg_backend):
    epochs = np.arange(6)
    rows = ["epoch,loss,val_loss,mae,val_mae,learning_rate"] + [
        f"{e},{1 / (e + 1)},{1.2 / (e + 1)},{0.5 / (e + 1)},{0.6 / (e + 1)},{4e-4 * 0.5 ** e}" for e in epochs]
    (tmp_path / "history.csv").write_text("\n".join(rows) + "\n")
    png = plot_history(tmp_path / "history.csv", tmp_path / "history.png")
    assert matplotlib.get_backend() == "svg"
    image = _rgb(png, (1200, 340))
    for index in range(3):  # loss | MAE | learning rate: each has its line
        panel = image[:, index * 400 + 40:(index + 1) * 400 - 10]
        assert _has_color(panel, BLUE) > 50, f"panel {index} has no plotted line"
    for index in range(2):  # loss and MAE also show the validation curve
        assert _has_color(image[:, index * 400 + 40:(index + 1) * 400 - 10], np.array(to_rgb("C1"))) > 50


def test_comparison_figure_keeps_the_backend_and_fills_every_panel(tmp_path, svg_backend):
    lows, highs = synthetic_pairs(1, shape=(64, 64), photons=10)
    png = comparison_figure(lows[0], {"CARE": highs[0] * 0.9}, highs[0], tmp_path / "comparison.png", title="t")
    assert matplotlib.get_backend() == "svg"
    image = _rgb(png, (780, 560))
    for index in range(3):  # input | CARE | ground truth, 260 pixels wide each, images about 230 pixels high
        centre = 130 + 260 * index
        assert _image_panel_ok(image[150:250, centre - 50:centre + 50]), f"image panel {index} is blank"
    profile = image[400:, :]
    assert _has_color(profile, BLUE) > 50  # the CARE line profile
    assert _has_color(profile, np.zeros(3), tolerance=0.15) > 50  # the ground truth's


def test_package_cover_keeps_the_backend_and_shows_both_images(tmp_path, svg_backend):
    lows, highs = synthetic_pairs(1, shape=(64, 64), photons=10)
    png = _cover(lows[0], highs[0], tmp_path / "cover.png")
    assert matplotlib.get_backend() == "svg"
    image = _rgb(png, (800, 400))
    for index in range(2):  # input | CARE, side by side
        centre = 200 + 400 * index
        assert _image_panel_ok(image[120:320, centre - 100:centre + 100]), f"cover panel {index} is blank"
    assert not np.allclose(image[120:320, 100:300], image[120:320, 500:700])

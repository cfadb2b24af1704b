import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY_TRAIN = dict(patch_size=(32, 32), patches_per_image=32, epochs=2, steps_per_epoch=50, batch_size=16,
                  unet_first=16, learning_rate=1e-3)


def pytest_configure(config):
    """Give the session its own carekit cache (unzipped packages, the local ImageJ), so tests neither read nor
    write the user's ~/.cache/carekit; the built-in data stays where `carekit data install` put it. Set here,
    before any test module imports carekit, and in os.environ so subprocesses (CLI, ImageJ, workers) inherit it."""
    from carekit.data import builtin

    saved = {name: os.environ.get(name) for name in ("CAREKIT_CACHE", "CAREKIT_DATA")}
    config._carekit_saved_env = saved
    os.environ["CAREKIT_DATA"] = str(builtin.data_dir())
    config._carekit_cache = tempfile.TemporaryDirectory(prefix="carekit-test-cache-", ignore_cleanup_errors=True)
    os.environ["CAREKIT_CACHE"] = config._carekit_cache.name


def pytest_unconfigure(config):
    for name, value in getattr(config, "_carekit_saved_env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    cache = getattr(config, "_carekit_cache", None)
    if cache is not None:
        cache.cleanup()


def missing_imagej() -> str | None:
    """Why the ImageJ tests cannot run here, or None when ImageJ 1.x, Jython and Java are installed."""
    from carekit.fiji import locate

    missing = [name for name, found in (("imagej", locate.imagej_jar()), ("jython", locate.jython_jar()),
                                        ("a JDK", locate.java_home())) if found is None]
    return f"needs {', '.join(missing)} (bash run.sh installs them)" if missing else None


def require(problem: str | None) -> None:
    """Skip a test whose system requirement is missing, but fail it in CI (CI=true), where a missing ImageJ must
    not turn every ImageJ test into a silent skip."""
    if problem is None:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{problem}; CI must provide it (CI is set)", pytrace=False)
    pytest.skip(problem)


def pytest_runtest_setup(item):
    if item.get_closest_marker("imagej") is not None:
        require(missing_imagej())


def synthetic_pairs(n_images: int, shape=(128, 128), photons=5.0, seed=1):
    from carekit.config import SynthConfig
    from carekit.synth import pairs, structures

    clean = structures.synthetic_ground_truth("mixed", shape, n_images, seed=seed)
    return pairs.make_pairs(clean, SynthConfig(photons=[photons], seed=seed))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny 2D CARE model trained for 2 epochs on synthetic tubules/granules (shared by integration tests)."""
    from carekit.config import TrainConfig
    from carekit.train.care import train_care

    lows, highs = synthetic_pairs(8)
    model_dir = tmp_path_factory.mktemp("models") / "tiny"
    train_care(lows, highs, TrainConfig(**TINY_TRAIN), model_dir, data_info={"source": "test"}, progress=False)
    return model_dir


@pytest.fixture(scope="session")
def tiny_model_3d(tmp_path_factory) -> Path:
    """A tiny 3D CARE model (two training steps: its weights are barely trained, which is all tiling tests need)."""
    from carekit.config import TrainConfig
    from carekit.train.care import train_care

    volumes = [np.random.default_rng(i).random((16, 48, 48)).astype(np.float32) for i in range(2)]
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=8, epochs=1, steps_per_epoch=2,
                         batch_size=4, unet_first=8)
    model_dir = tmp_path_factory.mktemp("models3d") / "tiny3d"
    train_care(volumes, volumes, config, model_dir, progress=False)
    return model_dir


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_package(tiny_model, tmp_path_factory) -> Path:
    """The tiny model packaged for bioimage.io (every weight format passed test_model while building)."""
    from carekit.zoo.package import build_package

    sample = synthetic_pairs(1, shape=(200, 200), seed=11)[0][0]
    out = tmp_path_factory.mktemp("packages") / "tiny.zip"
    build_package(tiny_model, out, name="tiny test model", sample=sample)
    return out


@pytest.fixture(scope="session")
def prob_package(tmp_path_factory) -> Path:
    """A tiny probabilistic CARE model (Laplace mean and scale outputs), packaged."""
    from carekit.config import TrainConfig
    from carekit.train.care import train_care
    from carekit.zoo.package import build_package

    lows, highs = synthetic_pairs(4, shape=(96, 96))
    root = tmp_path_factory.mktemp("probabilistic")
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 5, "probabilistic": True})
    train_care(lows, highs, config, root / "model", progress=False)
    build_package(root / "model", root / "prob.zip", name="probabilistic test", sample=lows[0])
    return root / "prob.zip"


@pytest.fixture(scope="session")
def foreign_package(tmp_path_factory) -> Path:
    """The hand-written bioimage.io package of tests/foreign_package.py (its bioimageio.yaml)."""
    from tests.foreign_package import write_foreign_package

    return write_foreign_package(tmp_path_factory.mktemp("foreign"))


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """carekit's cache (unpacked packages, bioimageio.core's working files) in the test's own folder."""
    monkeypatch.setenv("CAREKIT_CACHE", str(tmp_path / "cache"))


def png_panels(path: str | Path, n_panels: int, top: float = 0.0, bottom: float = 1.0):
    """A saved figure's pixels (height, width, channels) and, for each of `n_panels` equal-width columns of its
    rows between the fractions `top` and `bottom`, the fraction of non-white pixels and the range of their
    brightness (5th to 95th percentile): a blank panel has almost no non-white pixels, a constant image no range."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    rgb = pixels[..., :3]
    height, width = rgb.shape[:2]
    band = rgb[int(top * height):int(bottom * height)]
    stats = []
    for column in np.array_split(np.arange(width), n_panels):
        panel = band[:, column]
        ink = panel.min(axis=-1) < 0.9
        brightness = panel.mean(axis=-1)[ink]
        spread = np.subtract(*np.percentile(brightness, [95, 5])) if brightness.size else 0.0
        stats.append((float(ink.mean()), float(spread)))
    return pixels, stats

"""The out-of-range checks on the distributed path equal the in-memory ones (issue #12): the input check of
isotropic and axial-upsampling models (same warnings, word for word, on a stack far outside the training data;
none on one like it), and the predicted-uncertainty check, from histograms the chunk tasks return."""

import dataclasses
import re
import shutil
import warnings

import numpy as np
import pytest

from carekit.config import ModelRecord, SynthConfig, TrainConfig
from carekit.domain import uncertainty_warning
from carekit.io import Image
from carekit.models import load_model
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.predict.domain_check import OutOfRangeWarning
from carekit.predict.large_checks import summarize, warn_summed

from .conftest import HELA_MODEL, nuclei_like, write_ngff

TINY = dict(patches_per_image=8, epochs=1, steps_per_epoch=2, batch_size=4, unet_first=8)


def _caught(run) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]


def _both(client, model, stack, pixel_size, chunks, out) -> tuple[list[str], list[str]]:
    """(in-memory warnings, dask warnings) for one (Z, Y, X) stack."""
    source = open_source(write_ngff(out.with_suffix(".in.ome.zarr"), stack, "ZYX", pixel_size, chunks))
    in_memory = _caught(lambda: restore(model, Image(stack, "ZYX", pixel_size), progress=False))
    dask = _caught(lambda: restore_large(client, model, source, out, progress=False))
    return in_memory, dask


def _noise(shape, seed=3) -> np.ndarray:
    """Camera noise on a flat background: no objects, noise far above any training image's."""
    return np.random.default_rng(seed).poisson(20, shape).astype(np.uint16)


@pytest.mark.slow  # ~1 min: trains a tiny isotropic model
def test_isotropic_input_check_equals_in_memory(tmp_path, client):
    from carekit.train.isotropic import train_isotropic

    pixel_size = {"Z": 1.0, "Y": 0.25, "X": 0.25}  # factor 4
    training = nuclei_like((6, 64, 64), seed=7)
    train_isotropic(Image(training, "ZYX", pixel_size), tmp_path / "iso", TrainConfig(patch_size=(16, 16), **TINY),
                    progress=False)
    quiet = _both(client, tmp_path / "iso", training, pixel_size, (2, 32, 48), tmp_path / "quiet.ome.zarr")
    assert quiet == ([], [])
    far = _both(client, tmp_path / "iso", _noise((5, 70, 90)), pixel_size, (2, 32, 48), tmp_path / "far.ome.zarr")
    assert len(far[0]) == 1 and "unlike the model's training data" in far[0][0], far
    assert far[1] == far[0]


@pytest.mark.slow  # ~1 min: trains a tiny 3D model with axial subsampling
def test_axial_upsampling_input_check_equals_in_memory(tmp_path, client):
    from carekit import workflows
    from carekit.synth.pairs import make_pairs
    from carekit.synth.structures import synthetic_ground_truth

    data = workflows.data_from_structures("granules", (16, 32, 32), 2, SynthConfig(axial_subsample=2, photons=[20.0]))
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=4, epochs=1, steps_per_epoch=2,
                         batch_size=2, unet_first=4, unet_depth=1)
    workflows.train(data, tmp_path / "up", config, progress=False)
    assert load_model(tmp_path / "up").spec.domain
    pixel_size = {"Z": 1.0, "Y": 0.5, "X": 0.5}
    clean = synthetic_ground_truth("granules", (16, 48, 48), 1, seed=11)
    like = make_pairs(clean, SynthConfig(axial_subsample=2, photons=[20.0], seed=11))[0][0]  # as in training
    quiet = _both(client, tmp_path / "up", like, pixel_size, (4, 32, 32), tmp_path / "quiet.ome.zarr")
    assert quiet == ([], [])
    far = _both(client, tmp_path / "up", _noise((6, 60, 70)), pixel_size, (3, 32, 32), tmp_path / "far.ome.zarr")
    assert len(far[0]) == 1 and "unlike the model's training data" in far[0][0], far
    assert far[1] == far[0]


def _quoted_median(message: str) -> float:
    return float(re.search(r"median ([0-9.e+-]+)\)", message).group(1))


@pytest.mark.slow  # ~1 min: trains a tiny probabilistic model
def test_predicted_scale_check_equals_in_memory(tmp_path, client):
    from carekit.train.care import train_care

    images = [nuclei_like((96, 96), seed=s) for s in range(2)]
    train_care(images, images, TrainConfig(patch_size=(32, 32), probabilistic=True, **TINY), tmp_path / "p",
               progress=False)
    image = nuclei_like((2, 80, 90), seed=5)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 48, 48)))
    median = float(np.median(restore(tmp_path / "p", image, "TYX", progress=False, check_domain=False).scale))
    for name, level in (("quiet", median), ("far", median / 3)):  # as if recorded on validation data
        model = shutil.copytree(tmp_path / "p", tmp_path / name)  # a new path: workers cache models by path
        record = ModelRecord.load(model)
        record.domain["scale"] = level
        record.save(model)
        in_memory = _caught(lambda: restore(model, image, "TYX", progress=False))
        dask = _caught(lambda: restore_large(client, model, source, tmp_path / f"{name}.ome.zarr", progress=False))
        if name == "quiet":
            assert in_memory == dask == []
            continue
        assert len(in_memory) == len(dask) == 1 and "predicted scale" in dask[0], (in_memory, dask)
        assert _quoted_median(dask[0]) == pytest.approx(_quoted_median(in_memory[0]), rel=0.02)
        unquoted = [re.sub(r"median [0-9.e+-]+\)", "median)", m) for m in (in_memory[0], dask[0])]
        assert unquoted[0] == unquoted[1] and "3.0x" in dask[0]


@pytest.mark.parametrize("kind", ["scale", "disagreement"])
def test_summed_histograms_decide_as_the_median_of_all_values(kind):
    spec = load_model(HELA_MODEL).spec
    level = 0.05
    spec = dataclasses.replace(spec, probabilistic=kind == "scale", ensemble_members=2 * (kind == "disagreement"),
                               domain={kind: level})
    rng = np.random.default_rng(0)
    for target in (0.5, 1.9, 1.999, 2.001, 2.1, 4.0, 1e-6, 1e6):  # median / level; 2 is the threshold
        values = rng.lognormal(0, 0.5, 10_001)
        values *= target * level / np.median(values)  # the median exactly target x level
        chunks = np.array_split(values, 7)
        counts = sum(summarize(spec, [c]) for c in chunks)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summed = warn_summed(spec, counts)
        expected = uncertainty_warning(spec.domain, kind, values)
        assert (summed is None) == (expected is None) == (target <= 2) and len(caught) == (expected is not None)
        if expected is not None and target < 1e5:  # inside the bins: the median within its 4.4% bin
            assert _quoted_median(summed) == pytest.approx(np.median(values), rel=0.02)


def test_a_rescaled_images_uncertainty_is_judged_as_in_memory(tmp_path, client, prob_package):
    # rescaled (the generalist's default, search), both judge the network's own scale, before upsampling
    model = shutil.copytree(prob_package.parent / "model", tmp_path / "far")
    record = ModelRecord.load(model)
    record.domain["scale"] = record.domain["scale"] / 50  # as if validation had predicted far less
    record.save(model)
    image = nuclei_like((2, 160, 176), seed=5)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 64, 64)))
    # 1.5: the chunks' cores (64 px) do not fall on downsampled pixel edges: each pixel is counted once all the same
    in_memory, dask = ([m for m in messages if "predicted scale" in m] for messages in (
        _caught(lambda: restore(model, image, "TYX", progress=False, rescale=1.5)),
        _caught(lambda: restore_large(client, model, source, tmp_path / "out.ome.zarr", progress=False,
                                      rescale=1.5))))
    assert len(in_memory) == len(dask) == 1 and "on the image downsampled for it" in dask[0], (in_memory, dask)
    assert _quoted_median(dask[0]) == pytest.approx(_quoted_median(in_memory[0]), rel=0.05)

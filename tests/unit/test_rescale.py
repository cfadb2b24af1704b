"""predict.rescale's pure parts and carekit.resample: parsing, resampling, the factor 'auto' chooses from the
object scale, and the one 'search' chooses from the noisy image."""

import dataclasses
import typing

import numpy as np
import pytest
from scipy import ndimage

from carekit.config import RescaleMode
from carekit.domain import image_statistics
from carekit.errors import InputError
from carekit.models.spec import NetworkSpec
from carekit.fiji import contract
from carekit.predict.domain_check import OutOfRangeWarning, PredictionWarning, warn_input
from carekit.predict.recorrupted_error import CHOOSING_SEED, SEARCH_SEEDS
from carekit.predict.rescale import (AUTO, AUTO_MAX, MAX_FACTOR, MODEL, SEARCH, SEARCH_FACTORS, chosen_factor_note,
                                    effective_rescale, parse_rescale, rescale_factor, search_factor)
from carekit.resample import downscale, resize, shrunk_shape
from carekit.synth.noise import poisson_gaussian


def _blobs(shape=(512, 512), sigma=3.0, seed=0) -> np.ndarray:
    return ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), sigma).astype(np.float32)


def _spec(image: np.ndarray, axes: str = "YX") -> NetworkSpec:
    """A 2D spec whose training median object scale is that of `image`."""
    median = image_statistics(image)["scale_px"]
    return NetworkSpec(axes=axes, pmin=1.0, pmax=99.8, halo=8, divisor=4, probabilistic=False,
                       domain={"scale_px": [median / 2, median, median * 2]})


def test_model_means_the_models_own_mode_and_the_note_says_so():
    own = dataclasses.replace(_spec(_blobs((64, 64))), rescale=SEARCH)
    none = _spec(_blobs((64, 64)))
    assert [effective_rescale(v, own) for v in (MODEL, None, "1", AUTO, 2)] == [SEARCH, None, None, AUTO, 2.0]
    assert [effective_rescale(v, none) for v in (MODEL, None, SEARCH)] == [None, None, SEARCH]
    assert chosen_factor_note(MODEL, 2.0, own) == "rescale search (the model's default): downsampled 2x in YX for " \
                                                  "the model"
    assert chosen_factor_note(SEARCH, 1.0, own) == "rescale search: restored at full size"
    assert chosen_factor_note(MODEL, 1.0, none) is None and chosen_factor_note(3, 3.0, own) is None


def test_parse_rescale_takes_auto_or_a_factor_as_the_fiji_option_does():
    values = ("auto", " AUTO ", "Search", "3", "2.5", "1", "1.0", "", "  ", "model")
    assert [parse_rescale(v) for v in values] == [AUTO, AUTO, SEARCH, 3.0, 2.5, None, None, None, None, MODEL]
    assert [contract.rescale_value(v) for v in values] == [parse_rescale(v) for v in values]
    assert parse_rescale(None) is None and parse_rescale(4) == 4.0 and contract.RESCALE_MAX == MAX_FACTOR
    assert (contract.RESCALE_AUTO, contract.RESCALE_SEARCH, contract.RESCALE_MODEL) == (AUTO, SEARCH, MODEL)
    assert typing.get_args(RescaleMode) == (AUTO, SEARCH)  # what a model may record as its own
    with pytest.raises(InputError, match="upsampling"):
        parse_rescale("0.5")
    with pytest.raises(InputError, match="'model', 'auto', 'search' or a factor"):
        parse_rescale("big")
    with pytest.raises(InputError, match="give 1-8"):
        parse_rescale("9")
    for bad in ("0.5", "big", "9", "nan", "0"):
        with pytest.raises(ValueError):
            contract.rescale_value(bad)


def test_downscale_then_upscale_keeps_shape_and_smooth_content():
    image = _blobs((3, 200, 301), sigma=12)
    small = downscale(image, 3)
    assert small.shape == (3, 67, 100) and small.dtype == np.float32
    back = resize(small, image.shape, order=3)
    assert back.shape == image.shape
    assert np.abs(back - image).max() < 0.05 * np.ptp(image)
    assert downscale(np.full((90, 90), 7.0), 2.5) == pytest.approx(7.0)
    step = np.where(np.arange(64) < 32, 0.01, 1.0).astype(np.float32)[None].repeat(64, 0)
    assert resize(step[::4, ::4], step.shape, order=3).min() < 0  # cubic overshoots at an edge ...
    linear = resize(step[::4, ::4], step.shape, order=1)
    assert 0.01 <= linear.min() and linear.max() <= 1.0  # ... linear stays within the values (scale, disagreement)


def test_auto_brings_larger_objects_to_the_training_scale_and_leaves_others():
    base = _blobs()
    spec = _spec(base)
    assert rescale_factor(AUTO, spec, base) == 1.0
    assert rescale_factor(None, spec, base) == 1.0 and rescale_factor("1", spec, base) == 1.0
    assert rescale_factor(2, spec, base) == 2.0
    magnified = ndimage.zoom(base[:170, :170], 3, order=3)
    assert rescale_factor(AUTO, spec, magnified) == pytest.approx(3, rel=0.25)
    six_times = ndimage.zoom(base[:86, :86], 6, order=3)
    assert rescale_factor(AUTO, spec, six_times) == AUTO_MAX
    tiny_objects = NetworkSpec(axes="YX", pmin=1.0, pmax=99.8, halo=8, divisor=4, probabilistic=False,
                               domain={"scale_px": [0.5, 1.0, 2.0]})  # any input is many times larger
    assert rescale_factor(AUTO, tiny_objects, six_times[:40]) == pytest.approx(40 / 16)  # planes keep 16 px
    assert rescale_factor(AUTO, tiny_objects, six_times[:18]) == 1.0  # 18 / 16: no worthwhile rescaling
    no_record = NetworkSpec(axes="YX", pmin=1.0, pmax=99.8, halo=8, divisor=4, probabilistic=False)
    assert rescale_factor(AUTO, no_record, magnified) == 1.0
    with pytest.raises(InputError, match="2D models"):
        rescale_factor(AUTO, _spec(base, axes="ZYX"), base[None])
    assert rescale_factor(1, _spec(base, axes="ZYX"), base[None]) == 1.0  # off is never refused
    with pytest.raises(InputError, match=r"shrink planes of \(40, 300\) px to 13 px"):
        rescale_factor(3, spec, base[:40, :300])


def _noisy(clean: np.ndarray, photons: float, seed: int) -> np.ndarray:
    """Poisson photons with Gaussian read noise (sigma 2) on an offset of 100, as a camera counts."""
    return poisson_gaussian(clean * photons, rng=seed)


@pytest.mark.parametrize("photons, seed", [(3, 0), (10, 1), (30, 2)])
def test_search_picks_the_setting_with_the_smallest_error_against_the_truth(photons, seed):
    # stand-in restorations whose best setting moves with the noise: a Gaussian filter of sigma = the factor
    clean = _blobs((256, 256), sigma=4, seed=seed)
    clean = 1 + 20 * (clean - clean.min()) / np.ptp(clean)
    noisy = _noisy(clean, photons, seed)

    def smooth(plane, factor):
        return ndimage.gaussian_filter(plane, factor)

    chosen, estimated = search_factor(smooth, noisy)
    assert set(estimated) == set(SEARCH_FACTORS)
    # the truth at the recorrupted input's noise, 1 + 0.5^2 times the image's (Poisson plus read noise variance)
    extra = 0.5 * np.sqrt(clean * photons + 4) * np.random.default_rng(seed + 10).standard_normal(clean.shape)
    noisier = _noisy(clean, photons, seed + 20) + extra
    true = {f: float(np.mean((smooth(noisier, f) - 100 - clean * photons) ** 2)) for f in SEARCH_FACTORS}
    assert max(true.values()) > 1.5 * min(true.values())  # the settings differ: a wrong pick would show
    assert true[chosen] <= 1.05 * min(true.values()), (chosen, true)


def test_search_restores_at_full_size_where_the_noise_cannot_be_estimated():
    for unknown in (_noisy(_blobs((40, 40)), 3, 0), np.full((256, 256), 7.0, np.float32)):  # too small; flat
        with pytest.warns(PredictionWarning, match="restored at full size; give a factor or 'auto'"):
            assert search_factor(lambda plane, factor: plane, unknown) == (1.0, {})
    with pytest.raises(ValueError, match="resolve_factor"):
        rescale_factor(SEARCH, _spec(_blobs()), _blobs())


def test_search_tries_only_factors_that_leave_planes_of_min_side():
    tried = []
    search_factor(lambda plane, factor: tried.append(factor) or plane, _noisy(_blobs((40, 600)), 3, 0))
    assert sorted(set(tried)) == [1.0, 1.5, 2.0]  # 40 px / 3 < 16


def test_search_draws_pairs_the_classical_check_does_not_compare_on():
    assert not {CHOOSING_SEED, CHOOSING_SEED + 1} & set(SEARCH_SEEDS)


def test_pixel_size_warning_names_a_rescale_factor_only_where_it_can_be_used():
    base = _blobs()
    trained = _spec(base)
    trained = NetworkSpec(**{**trained.__dict__, "domain": {**trained.domain, "pixel_size": {"X": 0.645}}})
    finer = {"X": 0.26, "Y": 0.26}
    with pytest.warns(OutOfRangeWarning, match=r"with rescale=2\.48"):
        warn_input(trained, base, finer)
    stack = NetworkSpec(**{**trained.__dict__, "axes": "ZYX"})
    with pytest.warns(OutOfRangeWarning) as caught:  # a 3D model
        warn_input(stack, base[None], finer)
    assert all("pixel size 0.26" in str(w.message) and "rescale=" not in str(w.message) for w in caught)


@pytest.mark.parametrize("full, factor", [(176, 1.5), (4096, 3.0), (1001, 2.0), (130, 2.6)])
def test_the_cores_of_a_grid_share_no_downsampled_pixel(full, factor):
    from carekit.predict.rescale_large import small_core

    small = shrunk_shape((full, full), factor)[0]
    counted = np.zeros(small, int)
    for start in range(0, full, 64):  # cores of 64 px; each read region starts at 0 here
        rows, _ = small_core((0, 0), ((small, small), (full, full)), (slice(start, min(start + 64, full)),) * 2,
                             (small, small))
        counted[rows] += 1
    assert (counted == 1).all()

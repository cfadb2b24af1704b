"""Statistics behind the out-of-range warnings (carekit.domain): measured on known images."""

import numpy as np
import pytest
from scipy import ndimage

from carekit.config import PackageCarekitBlock
from carekit.domain import (FULL_SIZE_NOISE, autocorrelation_width, domain_warnings, image_statistics, noise_level,
                            reference_statistics, uncertainty_warning)
from carekit.models.spec import network_spec_from_block


def _blobs(shape=(256, 256), radius=4.0, seed=0):
    rng = np.random.default_rng(seed)
    image = np.zeros(shape)
    image[tuple(rng.integers(0, n, 60) for n in shape)] = 1
    return ndimage.gaussian_filter(image, radius) * radius**2


def test_autocorrelation_width_follows_object_size_and_ignores_white_noise():
    small, large = _blobs(radius=3), _blobs(radius=6)
    assert autocorrelation_width(large) / autocorrelation_width(small) == pytest.approx(2.0, rel=0.15)
    noisy = small + np.random.default_rng(1).normal(0, 0.3 * small.std(), small.shape)
    assert autocorrelation_width(noisy) == pytest.approx(autocorrelation_width(small), rel=0.1)


def test_noise_level_of_gaussian_noise_on_a_smooth_image():
    smooth = _blobs(radius=8)
    noise = np.random.default_rng(2).normal(0, 0.05, smooth.shape)
    assert noise_level(smooth + noise) == pytest.approx(0.05, rel=0.1)


def test_reference_range_and_warnings():
    rng = np.random.default_rng(3)
    train = [_blobs(radius=4, seed=s) + rng.normal(0, 0.02, (256, 256)) for s in range(6)]
    reference = reference_statistics(train)
    assert set(reference) == {"scale_px", "noise", "foreground"}
    assert all(low <= mid <= high for low, mid, high in reference.values())
    similar = _blobs(radius=4, seed=10) + rng.normal(0, 0.02, (256, 256))
    assert domain_warnings(reference, image_statistics(similar)) == []
    zoomed = ndimage.zoom(similar, 4, order=1)[:256, :256]
    messages = domain_warnings(reference, image_statistics(zoomed))
    assert any(m.startswith("object scale") for m in messages), messages
    pixel = domain_warnings({**reference, "pixel_size": {"X": 0.65, "Y": 0.65}}, image_statistics(similar),
                            {"X": 0.16, "Y": 0.16})
    assert len(pixel) == 1 and "pixel size 0.16 vs 0.65" in pixel[0] and "rescale=" not in pixel[0]
    trained = {**reference, "pixel_size": {"X": 0.65}}
    hinted = domain_warnings(trained, image_statistics(similar), {"X": 0.16}, rescale_limit=8)
    assert hinted[0].endswith("with rescale=4.06")  # the caller can rescale: the factor to the training scale
    assert "rescale=" not in domain_warnings(trained, image_statistics(similar), {"X": 0.065}, rescale_limit=8)[0]
    assert "rescale=" not in domain_warnings(trained, image_statistics(similar), {"X": 2.0}, rescale_limit=8)[0]
    assert domain_warnings({**reference, "pixel_size": {"X": 0.65}}, image_statistics(similar), {"X": 0.6}) == []
    assert domain_warnings({}, image_statistics(zoomed), {"X": 1.0}) == []  # nothing recorded: nothing to say


def test_less_noise_than_in_training_is_warned_earlier_and_judged_at_full_size():
    reference = {"noise": [0.09, 0.15, 0.19]}
    assert domain_warnings(reference, {"noise": 0.07}) == []  # above 0.09 / 1.5
    (message,) = domain_warnings(reference, {"noise": 0.055})
    assert "0.055 is below the training range" in message and "more light than in training" in message
    assert message.endswith("real detail)")
    assert domain_warnings(reference, {"noise": 0.055}, more_light_hint="; X")[0].endswith("real detail; X)")
    # downsampled for the model (rescale): the input's own noise decides, not the lower noise the model sees
    assert domain_warnings(reference, {"noise": 0.03, FULL_SIZE_NOISE: 0.15}) == []
    (message,) = domain_warnings(reference, {"noise": 0.03, FULL_SIZE_NOISE: 0.05})
    assert "at full size 0.05 is below" in message
    assert "0.5 is outside the training range" in domain_warnings(reference, {"noise": 0.5})[0]  # above: 2x


def test_input_statistics_add_the_full_size_noise_when_downsampled():
    from carekit.models.spec import NetworkSpec
    from carekit.predict.domain_check import input_statistics

    image = _blobs(radius=8, seed=3) + np.random.default_rng(4).normal(0, 0.05, (256, 256))
    spec = NetworkSpec(axes="YX", pmin=1.0, pmax=99.8, halo=8, divisor=4, probabilistic=False,
                       domain={"noise": [0.01, 0.02, 0.03]})
    full, halved = input_statistics(spec, image), input_statistics(spec, image, 2.0)
    assert FULL_SIZE_NOISE not in full and halved[FULL_SIZE_NOISE] == pytest.approx(full["noise"], rel=0.02)
    assert halved["noise"] < 0.7 * full["noise"]  # averaging 2 x 2 pixels halves white noise's deviation
    # the full-size noise comes from the crop the model's statistics come from (2048 px at factor 2), not the
    # central 1024 px: here these hold background only, whose own percentiles would blow its noise up
    bright = np.zeros((2304, 2304))
    bright[::96, ::96] = 1
    bright = ndimage.gaussian_filter(bright, 6) * 1000 / ndimage.gaussian_filter(bright, 6).max()
    bright[640:1664, 640:1664] = 0
    noisy = bright + np.random.default_rng(5).normal(0, 5, bright.shape)
    stats = input_statistics(spec, noisy, 2.0)
    assert stats[FULL_SIZE_NOISE] < 0.05 and input_statistics(spec, noisy[640:1664, 640:1664])["noise"] > 0.1


@pytest.mark.parametrize("kind, blend_named", [("care", True), ("isotropic", False)])
def test_the_more_light_warning_names_the_blend_only_where_it_runs(kind, blend_named):
    from carekit.models.spec import NetworkSpec
    from carekit.predict.domain_check import OutOfRangeWarning, warn_input

    image = _blobs(radius=8, seed=3) + np.random.default_rng(4).normal(0, 0.001, (256, 256))
    spec = NetworkSpec(axes="YX", pmin=1.0, pmax=99.8, halo=8, divisor=4, probabilistic=False, kind=kind,
                       domain={"noise": [0.1, 0.15, 0.2]})
    with pytest.warns(OutOfRangeWarning, match="more light than in training"):
        (message,) = warn_input(spec, image, None)
    assert ("classical_blend=True" in message) == blend_named
    if blend_named:  # a run that blends already is told so, not asked to
        with pytest.warns(OutOfRangeWarning, match="more light than in training"):
            (message,) = warn_input(spec, image, None, blending=True)
        assert "the classical blend, on for this run, mixes" in message and "--classical-blend" not in message


def test_uncertainty_warning_against_the_validation_level():
    scale = np.full((32, 32), 0.05)
    assert uncertainty_warning({"scale": 0.04}, "scale", scale) is None
    assert "3.0x its level" in uncertainty_warning({"scale": 0.04}, "scale", scale * 2.4)
    assert uncertainty_warning({}, "scale", scale * 10) is None


def test_old_package_blocks_load_without_statistics():
    block = dict(version="0.1.0", axes="YX", probabilistic=False, norm_pmin=1.0, norm_pmax=99.8, halo=22, step=4,
                 output_channels=["restored"])
    assert network_spec_from_block(PackageCarekitBlock.read(block, "old.zip")).domain == {}
    recorded = {"scale_px": [8.0, 10.0, 12.0], "pixel_size": {"X": 0.645}}
    assert network_spec_from_block(PackageCarekitBlock.read({**block, "domain": recorded}, "new.zip")).domain == recorded

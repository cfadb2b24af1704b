"""Test-time augmentation (models.augmentation): every transform is undone exactly, so a network that commutes
with rotations and flips gives what it gives alone, and one that does not is averaged over them."""

import numpy as np
import pytest
from scipy import ndimage

from carekit.errors import InputError
from carekit.models.augmentation import (FLIPS, TURNS_AND_FLIPS, AugmentedRunner, averaged, transforms_for,
                                         with_tta)
from carekit.models.runner import ModelRunner, PipelineRunner
from carekit.models.spec import NetworkSpec


def _blur_with_scale(batch):
    """A stand-in network that commutes with rotations and flips: (mean, scale) channels from a Gaussian blur."""
    mean = ndimage.gaussian_filter(batch[..., 0], sigma=[0] + [1.5] * (batch.ndim - 2))
    return np.stack([mean, np.abs(batch[..., 0] - mean)], axis=-1)


class _Recording(ModelRunner):
    def __init__(self, forward, kind="care"):
        self.spec, self._forward, self.seen = NetworkSpec("YX", 1.0, 99.8, 8, 4, True, kind=kind), forward, []

    def forward(self, batch):
        self.seen.append(batch.copy())
        return self._forward(batch)


@pytest.mark.parametrize("shape", [(2, 12, 20, 1), (1, 3, 12, 20, 1)])  # 2D and 3D batches, tiles not square
def test_a_network_that_commutes_with_the_transforms_gives_what_it_gives_alone(rng, shape):
    batch = rng.normal(size=shape).astype(np.float32)
    runner = _Recording(_blur_with_scale)
    out = AugmentedRunner(runner).forward(batch)
    np.testing.assert_allclose(out, _blur_with_scale(batch), atol=1e-5)
    assert len(runner.seen) == 8 and out.shape == shape[:-1] + (2,)
    assert {item.shape for item in runner.seen} == {shape, shape[:-3] + (shape[-2], shape[-3], 1)}  # turned


def test_each_transform_is_undone_so_a_position_bound_network_is_averaged_over_them(rng):
    """forward adds a ramp along X of what it sees: averaged over the 8 turns and flips, the ramp is the mean of
    its 8 images (a constant where the tile is square), and the input passes through unchanged."""
    size = 6
    ramp = np.arange(size, dtype=np.float32)[None, None, :, None]
    batch = rng.normal(size=(1, size, size, 1)).astype(np.float32)
    out = averaged(lambda seen: seen + ramp, batch, TURNS_AND_FLIPS)
    np.testing.assert_allclose(out, batch + ramp.mean(), atol=1e-5)
    flips_only = averaged(lambda seen: seen + ramp, batch, FLIPS)  # flips keep a ramp along X along X
    np.testing.assert_allclose(flips_only, batch + ramp.mean(), atol=1e-5)
    rows = np.arange(size, dtype=np.float32)[None, :, None, None]
    np.testing.assert_allclose(averaged(lambda seen: seen + rows, batch, FLIPS), batch + rows.mean(), atol=1e-5)


def test_isotropic_models_are_flipped_only_and_packages_made_elsewhere_refused():
    assert transforms_for("isotropic") == FLIPS and len(FLIPS) == 4
    assert transforms_for("care") == transforms_for("projection") == TURNS_AND_FLIPS and len(TURNS_AND_FLIPS) == 8
    assert all(turns in (0, 2) for turns, _ in AugmentedRunner(_Recording(_blur_with_scale, "isotropic")).transforms)
    plain = _Recording(_blur_with_scale)
    assert with_tta(plain, False) is plain
    wrapped = with_tta(plain, True)
    assert with_tta(wrapped, True) is wrapped and wrapped.spec is plain.spec  # never wrapped twice
    with pytest.raises(InputError, match="carekit's own models only"):
        AugmentedRunner(object.__new__(type("Foreign", (PipelineRunner,), {
            **{name: None for name in PipelineRunner.__abstractmethods__}})))


def test_ensembles_are_refused_their_disagreement_would_shrink():
    ensemble = _Recording(_blur_with_scale)
    ensemble.spec = NetworkSpec("YX", 1.0, 99.8, 8, 4, True, ensemble_members=2)
    with pytest.raises(InputError, match="not for ensembles"):
        with_tta(ensemble, True)


@pytest.mark.parametrize("kind, image, axes, options", [
    ("care", (70, 90), "YX", {}),
    ("care", (2, 120, 100), "TYX", {"rescale": 2.0}),  # restored downsampled, then upsampled back
    ("isotropic", (6, 40, 48), "ZYX", {"z_factor": 2.0}),  # flipped in its XZ and YZ planes
    ("care 3D", (2, 12, 40, 48), "TZYX", {}),  # stacks turned and flipped in YX
])
def test_restore_runs_every_path_with_tta_as_without_for_a_network_that_commutes(rng, kind, image, axes, options):
    """restore()'s plane, rescaled, isotropic and 3D paths with tta: the stand-in network commutes with every
    transform, so the result is the plain one, and the network saw every transformed tile."""
    from carekit.predict import restore

    runner = _Recording(_blur_with_scale, kind)
    if kind == "isotropic":
        runner.spec = NetworkSpec("YX", 1.0, 99.8, 8, 4, True, kind="isotropic", z_factor=2.0)
    if kind == "care 3D":
        runner.spec, kind = NetworkSpec("ZYX", 1.0, 99.8, 4, 4, True), "care"
    noisy = rng.gamma(4.0, 25.0, size=image).astype(np.float32)
    plain = restore(runner, noisy, axes, progress=False, check_domain=False, **options)
    calls = len(runner.seen)
    augmented = restore(runner, noisy, axes, progress=False, check_domain=False, tta=True, **options)
    assert len(runner.seen) - calls == calls * len(transforms_for(kind))
    np.testing.assert_allclose(augmented.image, plain.image, atol=2e-4)
    np.testing.assert_allclose(augmented.scale, plain.scale, atol=2e-4)

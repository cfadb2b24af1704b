"""Curved-surface stacks (synth.surface) and the projection baselines (evaluate.projection_baselines), no TF."""

import numpy as np
import pytest

from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.evaluate.projection_baselines import run_projection_baselines
from carekit.synth.surface import SurfaceSettings, random_surface, surface_pair


def _clean(seed=0, shape=(64, 64)):
    rng = np.random.default_rng(seed)
    spots = np.zeros(shape, np.float32)
    spots[tuple(rng.integers(0, s, 40) for s in shape)] = 1
    from scipy import ndimage
    return ndimage.gaussian_filter(spots, 2) * 100


def test_surface_is_smooth_and_inside_the_stack():
    surface = random_surface((64, 64), 16, 0.3, 24.0, np.random.default_rng(1))
    assert surface.min() >= 1 and surface.max() <= 14
    assert 0.3 * 16 / 2 * 0.9 <= surface.max() - surface.min() <= 0.3 * 16 + 1e-6
    assert np.abs(np.diff(surface, axis=0)).max() < 0.5  # smooth: well under a plane per pixel


def test_pair_shapes_photons_and_target():
    stack, target = surface_pair(_clean(), 10.0, SurfaceSettings(n_planes=8), rng=2)
    assert stack.shape == (8, 64, 64) and target.shape == (64, 64) and stack.dtype == np.float32
    assert np.percentile(target, 99.9) == pytest.approx(1.0, abs=1e-3)
    # camera counts: offset 100 plus at most ~peak photons (plus haze and read noise)
    assert 95 < np.median(stack) < 110 and stack.max() < 100 + 10 * 2 + 30


def test_more_photons_give_a_better_mip():
    psnr = {}
    for photons in (3.0, 100.0):
        stack, target = surface_pair(_clean(), photons, SurfaceSettings(n_planes=8), rng=3)
        psnr[photons] = score(target, stack.max(0)).psnr
    assert psnr[100.0] > psnr[3.0] + 3


def test_baselines_shapes_and_denoising_helps():
    stack, target = surface_pair(_clean(), 3.0, SurfaceSettings(n_planes=8), rng=4)
    results = run_projection_baselines(stack, target)
    assert set(results) == {"MIP", "mean projection", "denoised MIP", "best-focus plane"}
    assert all(r.shape == (64, 64) for r in results.values())
    scores = {k: score(target, v).psnr for k, v in results.items()}
    assert scores["denoised MIP"] > scores["MIP"] + 1


def test_refusals():
    with pytest.raises(InputError, match="2D images"):
        surface_pair(np.zeros((4, 8, 8)), 3.0)
    with pytest.raises(InputError, match="at least 4 planes"):
        surface_pair(_clean(), 3.0, SurfaceSettings(n_planes=2))
    with pytest.raises(InputError, match="at least 2 planes"):
        run_projection_baselines(np.zeros((1, 8, 8)))

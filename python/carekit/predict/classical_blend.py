"""The model's restoration mixed with the best classical denoiser's, in the shares estimated best from the noisy image
alone (restore(..., classical_blend=True), `carekit predict --classical-blend`).

A model and a classical denoiser err differently: the model in detail it invents or misses, the classical denoiser in
detail it blurs. So a weighted mean of the two has a smaller error than the better of them wherever neither is far
ahead (benchmarks/results/classical_blend.md). Shares and denoiser are chosen as the classical check chooses, with
the estimate of predict.recorrupted_error on the central crop of the middle plane: the best classical setting on one
recorrupted pair (predict.classical_settings, the classical check's choice), then the model's share among SHARES with
the smallest estimated error summed over two more pairs (BLEND_SEEDS). The classical restoration is fitted (affine,
least squares) to the model's before mixing, so the mix stays in the model's units. The same denoiser and shares
then mix every YX plane of the image (each plane denoised on its own).

A mix is used only where it is estimated to lower the squared error by at least MIN_GAIN of the input's noise
variance. Below that, the gains in PSNR were small (up to ~0.4 dB, mostly ~0.2) and the classical denoiser's residual
noise in dark backgrounds cost SSIM, up to 0.27 (the shipped generalist at 3 photons; benchmarks/results/
classical_blend.md, where the level was chosen after those numbers were seen).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..data.recorrupt import variance_map
from ..errors import InputError
from ..normalize import affine_fit
from .classical_check import WorseThanClassicalWarning
from .classical_settings import classical_errors, denoised
from .plane_restore import restored_plane
from .recorrupted_error import CHOOSING_SEED, fitted_error, recorrupted_pair, spike_weights

BLEND_SEEDS = (5, 6)  # pairs of their own: not the classical check's comparison pair nor rescale search's
SHARES = tuple(round(share, 1) for share in np.linspace(0.0, 1.0, 11))  # the model's share of the output
MIN_GAIN = 0.002  # of the input's noise variance: a smaller estimated gain keeps the model alone


@dataclass(frozen=True)
class ClassicalBlend:
    """The model's share of the output and the classical denoiser that makes up the rest; `errors`: the estimated
    squared error at each of SHARES minus the model's alone, over the input's noise variance. `unjudged`: why the
    image could not be judged (then the model's restoration is kept as it is)."""

    classical: str = ""
    share: float = 1.0
    errors: tuple[float, ...] = ()
    unjudged: str | None = None

    @property
    def gain(self) -> float:
        """How much lower the mix's estimated squared error is than the model's alone, over the noise variance."""
        return -self.errors[SHARES.index(self.share)] if self.errors else 0.0

    @property
    def best_gain(self) -> float:
        """The largest estimated gain of any share (the mix not used where it is below MIN_GAIN)."""
        return -min(self.errors) if self.errors else 0.0

    def summary(self) -> str:
        if self.unjudged:
            return f"not blended with classical denoising: {self.unjudged}"
        if self.share == 1.0 and self.best_gain > 0:
            return (f"not blended: mixing in {self.classical} was estimated to lower the squared error by only "
                    f"{self.best_gain:.2%} of the noise variance (less than {MIN_GAIN:.1%}, too little for its "
                    "residual noise)")
        if self.share == 1.0:
            return f"not blended: the model alone was estimated best (the best classical denoiser: {self.classical})"
        lower = (f"estimated from the noisy image alone to lower the squared error by {self.gain:.2%} of its noise "
                 "variance")
        if self.share == 0.0:
            return f"replaced by {self.classical}: the classical denoiser alone was {lower}"
        return f"blended {self.share:.1f} model + {1 - self.share:.1f} {self.classical} ({lower})"


def choose_blend(runner, crop: np.ndarray, factor: float = 1.0) -> ClassicalBlend:
    """The classical denoiser and the model's share that mix best on a 2D `crop` of a noisy image, the model (a 2D
    CARE model's runner) restoring at the rescale `factor` (the model alone where no share gains MIN_GAIN); an
    unjudged blend where the crop is too small or flat to estimate its noise."""
    crop = np.asarray(crop, np.float32)
    try:
        variance = variance_map(crop)
    except InputError as error:
        return ClassicalBlend(unjudged=str(error))
    weights = spike_weights(crop, variance)
    errors = classical_errors(crop, variance, weights, CHOOSING_SEED)
    best = min(errors, key=errors.get)
    totals = np.zeros(len(SHARES))
    for seed in BLEND_SEEDS:
        noisier, target = recorrupted_pair(crop, variance, seed)
        model, classical = restored_plane(runner, noisier, factor), denoised(noisier, best)
        totals += [fitted_error(mix(model, classical, share), target, weights) for share in SHARES]
    relative = (totals - totals[-1]) / len(BLEND_SEEDS) / float(np.average(variance, weights=weights))
    share = SHARES[int(np.argmin(totals))] if -relative.min() >= MIN_GAIN else 1.0
    return ClassicalBlend(best, share, tuple(float(e) for e in relative))


def mix(model: np.ndarray, classical: np.ndarray, share: float) -> np.ndarray:
    """`share` of the model's restoration plus the rest of the classical one fitted (affine) to it."""
    if share == 1.0:
        return model
    return (share * model + (1 - share) * affine_fit(classical, model)).astype(np.float32)


def blended(restored: np.ndarray, noisy: np.ndarray, axes: str, blend: ClassicalBlend) -> np.ndarray:
    """The restoration `restored` of `noisy` (both with `axes`) mixed YX plane by YX plane with `blend`'s classical
    denoiser's restoration of each plane of `noisy` (restored itself where the blend keeps the model alone)."""
    if blend.unjudged or blend.share == 1.0:
        return restored
    y, x = axes.index("Y"), axes.index("X")
    model_planes = np.moveaxis(restored, [y, x], [-2, -1])
    noisy_planes = np.moveaxis(np.asarray(noisy, np.float32), [y, x], [-2, -1])
    out = np.empty(model_planes.shape, np.float32)
    for index in np.ndindex(model_planes.shape[:-2]):
        out[index] = mix(model_planes[index], denoised(noisy_planes[index], blend.classical), blend.share)
    return np.moveaxis(out, [-2, -1], [y, x])


def warn_if_classical_alone(blend: ClassicalBlend) -> str | None:
    """Warn (WorseThanClassicalWarning) when the blend gives the model no share: the output is the classical
    denoiser's; the message is returned too."""
    if blend.unjudged or blend.share > 0.0:
        return None
    message = (f"the output is {blend.classical}'s restoration alone: mixing in any share of the model was estimated "
               "to make it worse, so the model is likely out of its depth on this image; fine-tune it on your data "
               "(`carekit train --from`, `carekit finetune`)")
    warnings.warn(message, WorseThanClassicalWarning, stacklevel=3)
    return message

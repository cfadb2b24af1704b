"""The model's restoration mixed with the best classical denoiser's, in the shares estimated best from the noisy image
alone (restore(..., classical_blend=True), `carekit predict --classical-blend`).

A model and a classical denoiser err differently: the model in detail it invents or misses, the classical denoiser in
detail it blurs. So a weighted mean of the two has a smaller error than the better of them wherever neither is far
ahead (benchmarks/results/classical_blend.md). Shares and denoiser are chosen as the classical check chooses, with
the estimate of predict.recorrupted_error on the central crop of the middle plane of each channel: the best
classical setting on one recorrupted pair (predict.classical_settings, the classical check's choice), then the
model's share among SHARES with the smallest estimated error summed over two more pairs (BLEND_SEEDS). The classical
restoration is put into the units the model restores in (the plane normalized as the model's input is: its own
units, which do not depend on how good the model is) before mixing. The same denoiser and shares then mix every YX
plane of the channel (each plane denoised on its own; a plane it cannot denoise keeps the model's restoration).

A share is used only where it is estimated to lower the squared error by at least MIN_GAIN of the input's noise
variance and by STANDARD_ERRORS standard errors (the best such share). Below MIN_GAIN the gains in PSNR were small
(up to ~0.4 dB, mostly ~0.2) and the classical denoiser's residual noise in dark backgrounds cost SSIM, up to 0.27
(the shipped generalist at 3 photons, in a first version that mixed everywhere; benchmarks/results/
classical_blend.md, where the level was chosen after those numbers were seen).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..data.hot_pixel_images import channel_samples
from ..data.recorrupt import variance_map
from ..errors import InputError
from ..normalize import normalize_range
from ..progress import progress_bar
from .classical_check import WorseThanClassicalWarning
from .domain_check import PredictionWarning
from .classical_settings import classical_errors, denoised, in_input_units
from .plane_restore import restored_plane
from .recorrupted_error import (CHOOSING_SEED, STANDARD_ERRORS, block_standard_error, fitted_residual,
                                recorrupted_pair, spike_weights)

BLEND_SEEDS = (5, 6)  # pairs of their own: not the classical check's comparison pair nor rescale search's
SHARES = tuple(round(share, 1) for share in np.linspace(0.0, 1.0, 11))  # the model's share of the output
MIN_GAIN = 0.002  # of the input's noise variance: a smaller estimated gain keeps the model alone
MAX_PLANE_PIXELS = 8192 * 8192  # the largest YX plane blended whole


@dataclass(frozen=True)
class ClassicalBlend:
    """The model's share of the output and the classical denoiser that makes up the rest. `errors`: the estimated
    squared error at each of SHARES minus the model's alone, over the input's noise variance, and `standard_errors`
    their standard errors. `unjudged`: why the image could not be judged (the model's restoration is then kept)."""

    classical: str = ""
    share: float = 1.0
    errors: tuple[float, ...] = ()
    standard_errors: tuple[float, ...] = ()
    unjudged: str | None = None

    @property
    def gain(self) -> float:
        """How much lower the mix's estimated squared error is than the model's alone, over the noise variance."""
        return -self.errors[SHARES.index(self.share)] if self.errors else 0.0

    @property
    def best_gain(self) -> float:
        """The largest estimated gain of any share (not used below MIN_GAIN or within chance)."""
        return -min(self.errors) if self.errors else 0.0

    @property
    def model_is_behind(self) -> bool:
        """The classical denoiser alone is estimated better than the model alone, by MIN_GAIN and beyond chance."""
        return bool(self.errors) and _decided(self.errors[0], self.standard_errors[0])

    def summary(self) -> str:
        if self.unjudged:
            return f"not blended with classical denoising: {self.unjudged}"
        if self.share == 1.0 and self.best_gain > 0:
            spread = self.standard_errors[int(np.argmin(self.errors))]
            return (f"not blended: mixing in {self.classical} was estimated to lower the squared error by only "
                    f"{self.best_gain:.2%} of the noise variance (standard error {spread:.2%}; a mix needs "
                    f"{MIN_GAIN:.1%} and {STANDARD_ERRORS:g} standard errors)")
        if self.share == 1.0:
            return f"not blended: the model alone was estimated best (the best classical denoiser: {self.classical})"
        lower = (f"estimated from the noisy image alone to lower the squared error by {self.gain:.2%} of its noise "
                 "variance")
        if self.share == 0.0:
            return f"replaced by {self.classical}: the classical denoiser alone was {lower}"
        return f"blended {self.share:.1f} model + {1 - self.share:.1f} {self.classical} ({lower})"


def _decided(error: float, standard_error: float) -> bool:
    """Whether a share's estimated error below the model's alone (`error`, negative) counts: by MIN_GAIN, and by
    STANDARD_ERRORS standard errors."""
    return -error >= MIN_GAIN and -error > STANDARD_ERRORS * standard_error


def in_model_units(name: str, classical: np.ndarray, noisy: np.ndarray, spec) -> np.ndarray:
    """The classical candidate `name`'s restoration `classical` of the 2D plane `noisy` in the units the model
    restores that plane in: the plane's percentiles `spec.pmin` / `spec.pmax` mapped to 0 / 1, as its input is."""
    lo, hi = np.percentile(np.asarray(noisy, np.float32), [spec.pmin, spec.pmax])
    return normalize_range(in_input_units(name, classical, noisy), lo, hi, spec.eps)


def mix(model: np.ndarray, classical: np.ndarray, share: float) -> np.ndarray:
    """`share` of the model's restoration plus the rest of the classical one (both in the model's units)."""
    if share == 1.0:
        return model
    return (share * model + (1 - share) * classical).astype(np.float32)


def choose_blend(runner, crop: np.ndarray, factor: float = 1.0) -> ClassicalBlend:
    """The classical denoiser and the model's share that mix best on a 2D `crop` of a noisy image, the model (a 2D
    CARE model's runner) restoring at the rescale `factor` (the model alone where no share gains MIN_GAIN beyond
    chance); an unjudged blend where the crop cannot be judged (too small or flat to estimate its noise)."""
    crop = np.asarray(crop, np.float32)
    try:
        variance = variance_map(crop)
        weights = spike_weights(crop, variance)
        errors = classical_errors(crop, variance, weights, CHOOSING_SEED)
        best = min(errors, key=errors.get)
        differences = _differences(runner, crop, variance, factor, best)
    except InputError as error:
        return ClassicalBlend(unjudged=str(error))
    noise = float(np.average(variance, weights=weights))
    relative = tuple(float(np.average(d, weights=weights)) / noise for d in differences)
    spread = tuple(block_standard_error(d, weights=weights) / noise for d in differences)
    counted = [i for i in range(len(SHARES)) if _decided(relative[i], spread[i])]
    share = SHARES[min(counted, key=lambda i: relative[i])] if counted else 1.0
    return ClassicalBlend(best, share, relative, spread)


def _differences(runner, crop: np.ndarray, variance: np.ndarray, factor: float, classical_name: str) -> np.ndarray:
    """Per share of SHARES and pixel, the squared residual of the mix minus the model's alone on the recorrupted
    pairs BLEND_SEEDS of `crop` (their mean)."""
    differences = np.zeros((len(SHARES),) + crop.shape)
    for seed in BLEND_SEEDS:
        noisier, target = recorrupted_pair(crop, variance, seed)
        model = restored_plane(runner, noisier, factor)
        classical = in_model_units(classical_name, denoised(noisier, classical_name), noisier, runner.spec)
        squared = [fitted_residual(mix(model, classical, share), target) ** 2 for share in SHARES]
        differences += np.stack([sq - squared[-1] for sq in squared]) / len(BLEND_SEEDS)
    return differences


def choose_blends(runner, image: np.ndarray, axes: str, factor: float = 1.0) -> tuple[ClassicalBlend, ...]:
    """choose_blend on the central crop of the middle plane of each channel of `image` (with `axes`; one without a C
    axis), as data.hot_pixel_images.channel_samples takes them."""
    image = np.asarray(image)
    return blends_from_samples(runner, channel_samples(image.__getitem__, axes, image.shape), factor)


def blends_from_samples(runner, samples: list[np.ndarray], factor: float = 1.0) -> tuple[ClassicalBlend, ...]:
    """choose_blend on each channel's sample crop (channel_samples: from an array, or a large image's source)."""
    return tuple(choose_blend(runner, crop, factor) for crop in samples)


def checked_blend(classical_blend) -> bool | None:
    """restore()'s `classical_blend` (None: the model's own choice, True, False) as such; an InputError for any other
    value (a string or number is not read as on or off)."""
    if classical_blend is not None and not isinstance(classical_blend, (bool, np.bool_)):
        raise InputError(f"classical_blend must be True, False or None (the model's own choice), got "
                         f"{classical_blend!r}")
    return None if classical_blend is None else bool(classical_blend)


def effective_blend(classical_blend: bool | None, spec) -> bool:
    """`classical_blend` as given (True or False: checked_blend), or for None the model's own choice
    (NetworkSpec.classical_blend, from ModelRecord.classical_blend: the shipped generalist blends by default; other
    models do not)."""
    given = checked_blend(classical_blend)
    return bool(spec.classical_blend) if given is None else given


def own_blend_fits(y: int, x: int) -> bool:
    """Whether a model's own blend (not asked for) runs on YX planes of `y` x `x` px: above MAX_PLANE_PIXELS (its
    classical denoiser works on whole planes: NLM holds ~17 copies of one) it is left out, with a PredictionWarning.
    Asked for, large data refuses such planes (blend_large.blend_grids)."""
    if y * x <= MAX_PLANE_PIXELS:
        return True
    warnings.warn(f"restored by the model alone: its default classical blend denoises whole YX planes, and this "
                  f"input's are {y} x {x} px (at most {MAX_PLANE_PIXELS} px; blend regions of it as TIFFs)",
                  PredictionWarning, stacklevel=3)
    return False


def mixes(blends: tuple[ClassicalBlend, ...]) -> bool:
    """Whether any channel's blend mixes in classical denoising."""
    return any(not blend.unjudged and blend.share < 1.0 for blend in blends)


def blended(restored: np.ndarray, noisy: np.ndarray, axes: str, blends: tuple[ClassicalBlend, ...], spec,
            progress: bool = False) -> np.ndarray:
    """The restoration `restored` of `noisy` (both with `axes`) mixed YX plane by YX plane with the classical
    restoration its channel's blend chose (`blends`: one per C index, one without C; the model's `spec` gives the
    units); `restored` itself where no blend mixes, and a plane's own restoration where that plane is flat or the
    classical denoiser cannot restore it. `progress`: a bar over the planes of a stack."""
    if not mixes(blends):
        return restored
    y, x = axes.index("Y"), axes.index("X")
    model_planes = np.moveaxis(np.asarray(restored, np.float32), [y, x], [-2, -1])
    noisy_planes = np.moveaxis(np.asarray(noisy, np.float32), [y, x], [-2, -1])
    channel = ("".join(a for a in axes if a not in "YX")).find("C")
    out = model_planes.copy()
    indices = list(np.ndindex(model_planes.shape[:-2]))
    with progress_bar(len(indices), "blending", unit="plane", disable=not progress or len(indices) < 2) as bar:
        for index in indices:
            bar.update(1)
            blend, plane = blends[index[channel] if channel >= 0 else 0], noisy_planes[index]
            if blend.unjudged or blend.share == 1.0 or np.ptp(plane) == 0:
                continue
            try:
                classical = in_model_units(blend.classical, denoised(plane, blend.classical), plane, spec)
            except InputError:  # e.g. GAT+NLM on a plane whose camera cannot be estimated
                continue
            if np.isfinite(classical).all():
                out[index] = mix(model_planes[index], classical, blend.share)
    return np.moveaxis(out, [-2, -1], [y, x])


def blend_note(blends: tuple[ClassicalBlend, ...], uncertainty: bool = False, by_default: bool = False) -> str:
    """What the blend did, for the output next to the restored file (per channel where there are several); with
    `uncertainty` (the model's scale or disagreement is written too), that it is the model's alone; `by_default`:
    the blend was the model's own choice (effective_blend), not asked for."""
    if len(blends) == 1:
        note = blends[0].summary()
    else:
        note = "; ".join(f"channel {c + 1}: {blend.summary()}" for c, blend in enumerate(blends))
    return (("the model's default classical blend: " if by_default else "") + note
            + ("; the uncertainty output is the model's alone" if uncertainty and mixes(blends) else ""))


def warn_if_behind(blends: tuple[ClassicalBlend, ...]) -> list[str]:
    """Warn (WorseThanClassicalWarning) for each channel whose classical denoiser alone is estimated better than the
    model alone, as the classical check would; the messages are returned too."""
    messages = []
    for c, blend in enumerate(blends):
        if not blend.model_is_behind:
            continue
        where = f"channel {c + 1}: " if len(blends) > 1 else ""
        messages.append(f"{where}the model alone is estimated behind {blend.classical} (its squared error exceeds that "
                        f"denoiser's by {-blend.errors[0]:.2%} of the input's noise variance; the output is "
                        f"{1 - blend.share:.0%} that denoiser's): the model is likely out of its depth on this image; "
                        "fine-tune it on your data (`carekit train --from`, `carekit finetune`)")
        warnings.warn(messages[-1], WorseThanClassicalWarning, stacklevel=3)
    return messages

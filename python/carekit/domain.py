"""What a model was trained on, and whether an input looks like it (pure numpy): warnings before hallucinations.

Each image is summarized on its YX planes after the model's percentile normalization:
- `scale_px`: object size, the lag (pixels) where the radially averaged autocorrelation of the image falls to half
  its value at lag 1 (white camera noise only adds to lag 0, so noise barely moves it);
- `noise`: the noise standard deviation in normalized units (robust MAD of a high-pass residual), i.e. 1 / SNR;
- `foreground`: the fraction of pixels above half the normalized range after light smoothing.
Training records the range of each over its input images (`reference_statistics`); prediction compares
(`domain_warnings`). Pixel sizes compare when both are known; the predicted uncertainty (Laplace scale or ensemble
disagreement) compares with its median on the model's validation data (`uncertainty_warning`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.fft import irfft2, next_fast_len, rfft2

from .normalize import normalize_percentile

STATISTICS = ("scale_px", "noise", "foreground")
# how far outside the training range (as a factor) an input may lie before a warning
TOLERANCE = {"scale_px": 1.5, "noise": 2.0, "foreground": 2.0, "pixel_size": 1.3, "uncertainty": 2.0}
# ... below it, where that differs: less noise than in training (more light) is warned earlier, on the noise of the
# full-size input (its light level; FULL_SIZE_NOISE where the image is downsampled for the model, which lowers the
# noise: the generalist won by 2.5 dB on mahotas at 10 photons downsampled 3x, noise 0.05 there, 0.15 at full
# size). A denoiser trained on noisier images smooths real detail away: the shipped generalist (training range from
# 0.092) lost to the oracle-tuned baselines on every test image at 100 photons and on 3 of 5 at 30
# (benchmarks/results/light_range.md, nuclei3d apart); 2.0 on the noise the model sees warned on 5 of those 8
# losses, this on 6 (the extra one: dsb2018 at 100 photons, whose reference holds half the input's noise), neither
# on any of its 12 wins. Chosen on those images, for the generalist; other models take the same rule unmeasured.
TOLERANCE_BELOW = {"noise": 1.5}
FULL_SIZE_NOISE = "noise_full_size"
MAX_PLANES = 4
MAD_TO_STD = 1.4826


def sampled_planes(count: int) -> np.ndarray:
    """Indices of up to MAX_PLANES evenly spaced planes out of `count`."""
    return np.unique(np.linspace(0, count - 1, MAX_PLANES).round().astype(int))


def _planes(image: np.ndarray) -> list[np.ndarray]:
    """Up to MAX_PLANES evenly spaced YX planes of an image whose last two axes are YX."""
    planes = np.asarray(image).reshape((-1, *image.shape[-2:]))
    return [planes[i].astype(np.float32) for i in sampled_planes(len(planes))]  # only the chosen planes are copied


def autocorrelation_width(plane: np.ndarray) -> float:
    """Lag in pixels where the radially averaged autocorrelation falls to half its value at lag 1."""
    limit = max(2, min(plane.shape) // 4)
    # zero padding by `limit` keeps the wrap-around of the circular correlation out of the lags used
    padded = np.zeros([next_fast_len(n + limit) for n in plane.shape])
    padded[: plane.shape[0], : plane.shape[1]] = plane - plane.mean()
    acf = irfft2(np.abs(rfft2(padded))**2, padded.shape)
    lags = np.arange(-limit, limit + 1)
    acf = acf[np.ix_(lags % padded.shape[0], lags % padded.shape[1])]  # lags up to `limit`, zero lag centred
    radius = np.sqrt(lags[:, None]**2 + lags[None, :]**2).round().astype(int)
    inside = radius <= limit
    profile = ndimage.mean(acf[inside], radius[inside], index=np.arange(limit + 1))
    below = np.nonzero(profile[1:] <= 0.5 * profile[1])[0]
    if len(below) == 0:
        return float(limit)
    r = below[0] + 1  # first lag at or under half; interpolate between r-1 and r
    return float(r - 1 + (profile[r - 1] - 0.5 * profile[1]) / max(profile[r - 1] - profile[r], 1e-12))


def noise_level(plane: np.ndarray) -> float:
    """Robust standard deviation of the pixel noise: MAD of each pixel minus the mean of its 8 neighbours."""
    neighbours = (ndimage.uniform_filter(plane, 3, mode="reflect") * 9 - plane) / 8
    residual = ((plane - neighbours) / np.sqrt(1 + 1 / 8))[1:-1, 1:-1]
    return float(MAD_TO_STD * np.median(np.abs(residual - np.median(residual))))


def noise_statistic(planes: list[np.ndarray], pmin: float = 1.0, pmax: float = 99.8) -> float:
    """image_statistics' `noise` of YX planes alone (no autocorrelation; one plane at a time, in float32: for large
    full-size crops)."""
    return float(np.median([noise_level(normalize_percentile(plane, pmin, pmax)) for plane in planes]))


def image_statistics(image: np.ndarray, pmin: float = 1.0, pmax: float = 99.8) -> dict[str, float]:
    """The STATISTICS of one image (2D, or with YX last), as the model sees it (percentile-normalized)."""
    per_plane = []
    for plane in _planes(image):
        normalized = normalize_percentile(plane, pmin, pmax).astype(np.float64)
        per_plane.append({"scale_px": autocorrelation_width(normalized), "noise": noise_level(normalized),
                          "foreground": float(np.mean(ndimage.gaussian_filter(normalized, 2) > 0.5))})
    return {k: float(np.median([p[k] for p in per_plane])) for k in STATISTICS}


def reference_statistics(images: list[np.ndarray], pmin: float = 1.0, pmax: float = 99.8) -> dict[str, list[float]]:
    """{statistic: [low, median, high]} over the training input images (5th/50th/95th percentiles)."""
    stats = [image_statistics(image, pmin, pmax) for image in images]
    return {k: [float(v) for v in np.percentile([s[k] for s in stats], [5, 50, 95])] for k in STATISTICS}


def _outside(value: float, low: float, high: float, tolerance: float) -> bool:
    return value < low / tolerance or value > high * tolerance


def domain_warnings(reference: dict, stats: dict[str, float], pixel_size: dict | None = None,
                    larger_objects_hint: str = "", rescale_limit: float = 0.0, more_light_hint: str = "") -> list[str]:
    """One message per statistic (and the pixel size) of an input outside the model's training range; statistics
    the reference lacks (older models) are not checked. `larger_objects_hint` ends the message of an object scale
    above the range, `more_light_hint` that of a noise level below it; a pixel size finer than in training names
    the rescale factor that restores at the training scale when the caller can rescale by that much
    (`rescale_limit`: its largest factor, 0 where it cannot)."""
    names = {"scale_px": "object scale (autocorrelation width, px)", "noise": "noise level (normalized units)",
             "foreground": "bright-area fraction"}
    messages = []
    trained_px = (reference.get("pixel_size") or {}).get("X")
    given_px = (pixel_size or {}).get("X")
    if trained_px and given_px and _outside(given_px, trained_px, trained_px, TOLERANCE["pixel_size"]):
        messages.append(f"pixel size {given_px:.4g} vs {trained_px:.4g} in training (ratio "
                        f"{given_px / trained_px:.2f}): rescale the image to the training pixel size"
                        + (f", or restore it at that scale with rescale={trained_px / given_px:.3g}"
                           if 1 < trained_px / given_px <= rescale_limit else ""))
    for key in STATISTICS:
        if key not in reference or key not in stats:
            continue
        low, _, high = reference[key]
        if stats[key] > high * TOLERANCE[key]:
            hint = larger_objects_hint if key == "scale_px" else ""
            messages.append(f"{names[key]} {stats[key]:.3g} is outside the training range {low:.3g}-{high:.3g}{hint}")
        elif key == "noise" and (light := stats.get(FULL_SIZE_NOISE, stats[key])) < low / TOLERANCE_BELOW[key]:
            full_size = " at full size" if FULL_SIZE_NOISE in stats else ""
            messages.append(f"{names[key]}{full_size} {light:.3g} is below the "
                            f"training range {low:.3g}-{high:.3g} (more light than in training: the model may smooth "
                            f"away real detail{more_light_hint})")
        elif key != "noise" and stats[key] < low / TOLERANCE[key]:
            messages.append(f"{names[key]} {stats[key]:.3g} is outside the training range {low:.3g}-{high:.3g}")
    return messages


def uncertainty_warning(reference: dict, kind: str, predicted: np.ndarray) -> str | None:
    """A message when the median predicted uncertainty (`kind`: 'scale' or 'disagreement') exceeds its median on
    the model's validation data by more than the tolerance; None otherwise or without a recorded level."""
    level = reference.get(kind)
    if not level or predicted is None:
        return None
    median = float(np.median(predicted))
    if median <= level * TOLERANCE["uncertainty"]:
        return None
    return (f"the predicted {kind} (median {median:.3g}) is {median / level:.1f}x its level on the model's "
            f"validation data ({level:.3g})")

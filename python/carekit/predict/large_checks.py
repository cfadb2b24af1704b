"""The out-of-range checks of predict.domain_check on the distributed path, where no process holds the image.

- The input: the in-memory check of the model's kind on a cheap sample of the middle plane/stack read by the
  client (`check_input`). CARE and axial upsampling: its central crop (MAX_SIDE px in Y and X, times the rescale
  factor, at most SAMPLE_PLANES in Z), Z zoomed first for upsampling; isotropic: the rows the in-memory check looks at
  (predict.isotropic.warn_isotropic_input), all of Z, the central MAX_SIDE px of X. For one stack of at most
  SAMPLE_PLANES planes the warnings are the in-memory ones, word for word.
- The predicted uncertainty (Laplace scale, ensemble disagreement): each chunk task returns a histogram of it on its
  core (`summarize`: UNCERTAINTY_BINS log-spaced bins per octave around the level recorded in the model, the
  warning threshold on a bin edge), the client adds them up and applies domain.uncertainty_warning to their median
  (`warn_summed`): the same decision as in memory (the median is over every restored voxel, or when rescaled over
  every pixel of the downsampled image the network restored; the threshold an edge), the median it quotes within its
  bin (4.4% wide, interpolated: typically well under 1%).
"""

from __future__ import annotations

import numpy as np

from ..domain import TOLERANCE
from ..models.spec import NetworkSpec
from ..ngff import ArraySource
from .domain_check import MAX_SIDE, uncertainty_kind, warn_input, warn_uncertainty
from .isotropic import DOMAIN_PLANES, upsample_z, warn_isotropic_input
from .layouts import Layout
from ..data.crops import central
from .percentiles import plane_regions

SAMPLE_PLANES = 32  # Z planes of a 3D model's stack in the out-of-range sample
# the cluster keeps every chunk's histogram until the run ends (~1 KB each: 100 MB for 100,000 chunks)
UNCERTAINTY_BINS = 16  # per octave (2x): bins 4.4% wide
UNCERTAINTY_OCTAVES = 8  # each side of the threshold; values beyond go to the outermost bins


def check_input(source: ArraySource, layout: Layout, spec: NetworkSpec, factor: float = 1.0,
                searched: bool = False, blending: bool = False) -> None:
    """OutOfRangeWarning when the sample of the middle plane/stack (downsampled by the rescale `factor`, `searched`:
    rescale search's choice; `blending`: the classical blend is on) is unlike the model's training data."""
    if not spec.domain or layout.kind == "projection":  # projection models record no statistics
        return
    stack_axes = spec.axes if layout.kind == "care" else "ZYX"
    regions = plane_regions(source, stack_axes)
    middle = regions[len(regions) // 2]
    order = [i for i, a in enumerate(source.axes) if a not in stack_axes] + [source.axes.index(a) for a in stack_axes]
    if layout.kind == "isotropic":
        z, y, x = (source.axes.index(a) for a in "ZYX")
        rows = np.unique(np.linspace(0, source.shape[y] - 1, DOMAIN_PLANES).round().astype(int))
        parts = [source.read(tuple(slice(r, r + 1) if i == y else central(s, MAX_SIDE) if i == x else s
                                   for i, s in enumerate(middle))) for r in rows]
        stack = np.transpose(np.concatenate(parts, axis=y), order).reshape(-1, len(rows), parts[0].shape[x])
        warn_isotropic_input(spec, stack, source.pixel_size)
        return
    region = tuple(central(r, int(MAX_SIDE * factor) if a in "YX" else SAMPLE_PLANES) if a in stack_axes else r
                   for r, a in zip(middle, source.axes))
    sample = np.transpose(source.read(region), order)
    if layout.kind == "axial upsampling":
        sample_axes = "".join(a for a in source.axes if a not in stack_axes) + stack_axes
        sample = upsample_z(sample, sample_axes, layout.z_factor, None)[0]
    warn_input(spec, sample, source.pixel_size, factor, searched, blending)


def _edges(level: float) -> np.ndarray:
    """Bin edges around `level`, one of them at the warning threshold (TOLERANCE x level)."""
    steps = np.arange(-UNCERTAINTY_OCTAVES * UNCERTAINTY_BINS, UNCERTAINTY_OCTAVES * UNCERTAINTY_BINS + 1)
    return level * TOLERANCE["uncertainty"] * 2.0 ** (steps / UNCERTAINTY_BINS)


def summarize(spec: NetworkSpec, uncertainty: list) -> np.ndarray | None:
    """The histogram (counts, the outermost bins open-ended) of a chunk's predicted uncertainty (its scale or
    disagreement arrays, as the model predicts); None when the model has no recorded level to compare with."""
    kind = uncertainty_kind(spec)
    if kind is None or not uncertainty:
        return None
    values = np.concatenate([np.ravel(v) for v in uncertainty])
    edges = _edges(spec.domain[kind])
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1).astype(np.uint32)


def warn_summed(spec: NetworkSpec, counts: np.ndarray | None, downsampled: bool = False) -> str | None:
    """domain.uncertainty_warning on the median of the summed histograms (OutOfRangeWarning, as in memory;
    `downsampled`: of a rescaled image)."""
    kind = uncertainty_kind(spec)
    if kind is None or counts is None or not counts.sum():
        return None
    edges = _edges(spec.domain[kind])
    cumulative = np.cumsum(counts, dtype=np.int64)
    half = cumulative[-1] / 2
    bin_ = int(np.searchsorted(cumulative, half, side="left"))
    if bin_ == 0 or bin_ == len(edges):  # beyond the outermost edges: quote the edge
        median = edges[min(bin_, len(edges) - 1)]
    else:
        below = cumulative[bin_ - 1]
        median = edges[bin_ - 1] * (edges[bin_] / edges[bin_ - 1]) ** ((half - below) / counts[bin_])
    return warn_uncertainty(spec, np.array([median]), downsampled)  # the in-memory rule, on the median found here

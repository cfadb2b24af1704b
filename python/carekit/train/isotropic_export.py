"""The whole isotropic / axial-upsampling recipe as one TensorFlow graph around a trained network, for packages that
bioimageio.core and deepImageJ run without carekit: raw (normalized) stack (batch, Z, Y, X, 1) in, Z zoomed by the
factor out. It computes what predict.isotropic computes with tiles, for a whole stack at once:

- Z zoom: synth.isotropic.zoom_z (round(Z * factor) planes, plane i of the input on plane i * factor, linear), with
  the weights computed from the dynamic Z, so any number of planes works.
- Padding: as tiling.tiled_apply pads a tile that covers the whole plane/stack (mirror by the halo rounded to the
  size divisor: 'reflect' where the halo is shorter than every axis, else 'symmetric'; then edge values up to a
  multiple of the divisor), so the result equals carekit's tiled restoration.
- Isotropic: the 2D network on every XZ and every YZ plane, geometric mean of the two (scale: maximum); the input
  comes normalized (the raw stack's percentiles, as predict.isotropic does).
- Axial upsampling: the raw stack is zoomed, then normalized by the percentiles of the zoomed stack (as restore()
  and CSBDeep's UpsamplingCARE do), then goes through the 3D network.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tf import import_tensorflow

import_tensorflow()
import tensorflow as tf  # noqa: E402


def zoom_z(x, factor: float):
    """(B, Z, ...) -> (B, round(Z * factor), ...), linear along Z (synth.isotropic.zoom_z)."""
    n = tf.shape(x)[1]
    n_float = tf.cast(n, tf.float64)
    n_out = tf.cast(tf.round(n_float * factor), tf.int32)  # half to even, as Python's round
    target = tf.minimum(tf.range(n_out, dtype=tf.float64), (n_float - 1) * factor)
    index = target / factor
    lower = tf.minimum(tf.cast(tf.floor(index), tf.int32), n - 1)
    upper = tf.minimum(lower + 1, n - 1)
    frac = tf.cast(index - tf.cast(lower, tf.float64), x.dtype)
    frac = tf.reshape(frac, tf.concat([[1, n_out], tf.ones([tf.rank(x) - 2], tf.int32)], 0))
    return (1 - frac) * tf.gather(x, lower, axis=1) + frac * tf.gather(x, upper, axis=1)


def _mirror(n, halo: int, divisor: int, reflect):
    """Indices into an axis of length `n` that pad it like tiled_apply (see the module docstring)."""
    core = (n + divisor - 1) // divisor * divisor
    padded = tf.minimum(tf.range(core + 2 * halo), n + 2 * halo - 1) - halo
    period = tf.where(reflect, tf.maximum(2 * n - 2, 1), 2 * n)
    m = tf.math.floormod(padded + period * (halo + 1), period)  # non-negative: ONNX Mod keeps the dividend's sign
    return tf.where(m < n, m, tf.where(reflect, period - m, period - 1 - m))


def padded_apply(network, x, halo: int, divisor: int):
    """network(x) for (B, *spatial, 1) with every spatial axis padded as tiled_apply pads one whole tile."""
    sizes = [tf.shape(x)[axis] for axis in range(1, len(x.shape) - 1)]
    reflect = tf.reduce_all(tf.stack([halo < n for n in sizes]))
    for axis, n in enumerate(sizes, start=1):
        x = tf.gather(x, _mirror(n, halo, divisor, reflect), axis=axis)
    y = network(x, training=False)
    return y[(slice(None),) + tuple(slice(halo, halo + n) for n in sizes)]


def _planes(network, x, along: int, halo: int, divisor: int):
    """The 2D network on every plane (Z, other lateral axis) of x (B, N, Y, X, 1): along 2 (Y) gives the XZ
    planes, along 3 (X) the YZ planes; returns (B, N, Y, X, C)."""
    order = (0, along, 1, 5 - along, 4)
    planes = tf.transpose(x, order)
    shape = tf.shape(planes)
    y = padded_apply(network, tf.reshape(planes, tf.concat([[-1], shape[2:]], 0)), halo, divisor)
    y = tf.reshape(y, tf.concat([shape[:4], tf.shape(y)[-1:]], 0))
    return tf.transpose(y, [order.index(i) for i in range(5)])


def isotropic_graph(network, x, factor: float, halo: int, divisor: int, probabilistic: bool):
    """(B, Z, Y, X, 1) normalized -> (B, round(Z * factor), Y, X, channels) (predict.isotropic's recipe)."""
    zoomed = zoom_z(x, factor)
    xz = _planes(network, zoomed, 2, halo, divisor)
    yz = _planes(network, zoomed, 3, halo, divisor)
    mean = tf.sqrt(tf.maximum(xz[..., :1], 0) * tf.maximum(yz[..., :1], 0))
    return tf.concat([mean, tf.maximum(xz[..., 1:], yz[..., 1:])], -1) if probabilistic else mean


def percentile_normalized(x, pmin: float, pmax: float, eps: float):
    """Each batch item mapped from its percentile `pmin` to 0 and `pmax` to 1 (numpy's linear percentiles, as
    normalize.normalize_percentile)."""
    flat = tf.sort(tf.reshape(x, tf.stack([tf.shape(x)[0], -1])), axis=1)
    last = tf.shape(flat)[1] - 1

    def percentile(q: float):
        position = q / 100 * tf.cast(last, tf.float64)
        lower = tf.cast(tf.floor(position), tf.int32)
        frac = tf.cast(position - tf.floor(position), x.dtype)
        below, above = tf.gather(flat, lower, axis=1), tf.gather(flat, tf.minimum(lower + 1, last), axis=1)
        return below + frac * (above - below)

    lo, hi = percentile(pmin), percentile(pmax)
    shape = tf.concat([[-1], tf.ones([tf.rank(x) - 1], tf.int32)], 0)
    return (x - tf.reshape(lo, shape)) / (tf.reshape(hi - lo, shape) + eps)


def upsampling_graph(network, x, factor: float, halo: int, divisor: int, normalization: tuple[float, float, float]):
    """(B, Z, Y, X, 1) raw -> the 3D network's output on the stack zoomed along Z by `factor`, normalized by
    `normalization` (pmin, pmax, eps) percentiles of the zoomed stack."""
    return padded_apply(network, percentile_normalized(zoom_z(x, factor), *normalization), halo, divisor)


@dataclass(frozen=True)
class Recipe:
    """The graph of a Z-zooming model around its network: `isotropic` (2D network on XZ/YZ planes) or axial
    upsampling (3D network, which normalizes the zoomed raw stack with `normalization` (pmin, pmax, eps));
    `halo` already rounded to `divisor`, as tiled_apply rounds it. Input and output are (B, Z, Y, X, channels)."""

    isotropic: bool
    factor: float
    halo: int
    divisor: int
    probabilistic: bool = False
    normalization: tuple[float, float, float] = (1.0, 99.8, 1e-6)
    n_spatial: int = 3

    def __call__(self, network, x):
        if self.isotropic:
            return isotropic_graph(network, x, self.factor, self.halo, self.divisor, self.probabilistic)
        return upsampling_graph(network, x, self.factor, self.halo, self.divisor, self.normalization)

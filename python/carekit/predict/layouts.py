"""How each model kind runs chunk by chunk on the distributed path: which axes are cut into chunks with a halo,
which axes one normalization covers, how the output's shape differs from the input's, and the in-memory recipe run
on each plane/stack of a chunk.

- care: 2D planes or 3D stacks, cut on the model's axes (restore's recipe, restore_normalized).
- isotropic, projection, axial upsampling: every chunk holds the FULL Z (their recipes need every plane), cut in Y
  and X only; normalization over each whole (Z, Y, X) stack. Isotropic runs predict.isotropic's recipe (Z zoom, XZ
  and YZ planes, geometric mean) and upsampling zooms Z before the 3D network: both give round(Z * factor) planes
  of Z pixel size Z / factor. Projection gives one (Y, X) image per stack: the output has no Z axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import PROJECTION_MIN_PLANES
from ..errors import InputError
from ..models.runner import ModelRunner
from ..models.spec import NetworkSpec
from ..normalize import normalize_range
from .isotropic import check_factor, restore_isotropic, upsample_z
from .projection import project
from .plane_restore import DEFAULT_TILE, restore_normalized


@dataclass(frozen=True)
class Layout:
    """`halo_axes`: cut into chunks read with the model's halo; `stack_axes`: normalized together (one set of
    percentiles each); `z_factor`: output Z = round(Z * z_factor); `drops_z`: the output has no Z axis."""

    kind: str
    halo_axes: str
    stack_axes: str
    z_factor: float = 1.0
    drops_z: bool = False

    @property
    def full_z(self) -> bool:
        return self.kind != "care"

    @property
    def normalizes_zoomed(self) -> bool:
        """Axial upsampling normalizes the stack after its Z zoom (as restore does in memory)."""
        return self.kind == "axial upsampling"

    def out_axes(self, axes: str) -> str:
        return axes.replace("Z", "") if self.drops_z else axes

    def out_length(self, axis: str, n: int) -> int:
        return int(round(n * self.z_factor)) if axis == "Z" else n

    def out_pixel_size(self, pixel_size: dict) -> dict:
        sizes = {a: s / self.z_factor if a == "Z" else s for a, s in pixel_size.items()}
        return {a: s for a, s in sizes.items() if not (self.drops_z and a == "Z")}


def layout_of(spec: NetworkSpec) -> Layout:
    if spec.kind == "isotropic":
        return Layout("isotropic", "YX", "ZYX", spec.z_factor)
    if spec.kind == "projection":
        return Layout("projection", "YX", "ZYX", drops_z=True)
    if spec.z_factor > 1:
        return Layout("axial upsampling", "YX", "ZYX", spec.z_factor)
    return Layout("care", spec.axes, spec.axes)


def check_source(layout: Layout, spec: NetworkSpec, axes: str, shape: tuple[int, ...], pixel_size: dict,
                 z_factor: float | None) -> None:
    """Refuse an input the kind's recipe cannot restore, or a `z_factor` it would not use, in one line (as restore
    does in memory)."""
    if z_factor is not None and layout.z_factor == 1:
        raise InputError(f"--z-factor {z_factor:g} was given, but this {layout.kind} model does not zoom Z (only "
                         "isotropic and axial-upsampling models do): leave it out")
    if not layout.full_z:
        return
    n_z = shape[axes.index("Z")] if "Z" in axes else 0
    least = PROJECTION_MIN_PLANES if layout.drops_z else 2
    if n_z < least:
        raise InputError(f"{layout.kind} models restore (Z, Y, X) stacks of at least {least} planes; the input has "
                         f"axes {axes!r} and shape {shape}: give --axes naming its Z axis")
    check_factor(spec.z_factor, pixel_size if layout.kind == "isotropic" else None, z_factor)


def chunk_tile(shape: tuple[int, ...], default: tuple[int, ...]) -> tuple[int, ...]:
    """One network call per chunk read (chunk plus halo) up to 1.25x restore's default tile per axis: a 1024 px
    chunk with its halo would otherwise be cut into 2 tiles per axis, each padded to the full tile size."""
    return tuple(n if n <= d * 5 // 4 else d for n, d in zip(shape, default))


def restore_stack(runner: ModelRunner, layout: Layout, stack: np.ndarray, levels: tuple, tile=None
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(mean, scale, disagreement) of one plane/stack (axes `layout.stack_axes`) normalized with `levels` (its
    percentile values over the whole plane/stack), by the in-memory recipe of the model's kind."""
    lo, hi = levels
    if layout.kind == "isotropic":
        mean, scale, _ = restore_isotropic(runner, stack, "ZYX", tuple(tile or DEFAULT_TILE[2]), progress=False,
                                           levels=(lo, hi), check_domain=False)  # not per chunk: large_checks
        return mean, scale, None
    if layout.kind == "projection":
        return project(runner, stack, "ZYX", tile, progress=False, levels=(lo, hi)), None, None
    if layout.kind == "axial upsampling":
        stack = upsample_z(stack, "ZYX", layout.z_factor, None)[0]
    tile = tuple(tile or chunk_tile(stack.shape, DEFAULT_TILE[stack.ndim]))
    return restore_normalized(runner, normalize_range(stack, lo, hi, runner.spec.eps), tile)

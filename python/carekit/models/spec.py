"""What prediction needs to know about a network (axes, normalization, halo, size divisor, outputs), whichever form
it is stored in."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ModelRecord, PackageCarekitBlock


def receptive_halo(unet_depth: int, kern_size: int) -> int:
    """Radius in pixels of a csbdeep U-Net's receptive field: 2 convolutions per level on the way down, at the
    bottom and on the way up, plus what max-pooling adds (measured: 22 px for depth 2, kernel 3; this gives 24)."""
    return (kern_size - 1) * (3 * 2**unet_depth - 2) + 2**unet_depth


@dataclass(frozen=True)
class NetworkSpec:
    """What prediction needs to know about a network. `pmin`/`pmax` are None for a package that normalizes its
    input itself (a PipelineRunner)."""

    axes: str
    pmin: float | None
    pmax: float | None
    halo: int
    divisor: int
    probabilistic: bool
    eps: float = 1e-6
    ensemble_members: int = 0
    domain: dict = field(default_factory=dict, compare=False)  # carekit.domain reference statistics, if recorded
    kind: str = "care"  # care | isotropic | projection (input (Z, Y, X), any number of planes -> (Y, X))
    z_factor: float = 1.0
    rescale: str | None = None  # how prediction rescales inputs unless told otherwise (ModelRecord.rescale)
    classical_blend: bool = False  # whether prediction blends unless told otherwise (ModelRecord.classical_blend)

    @property
    def projection(self) -> bool:
        return self.kind == "projection"

    @property
    def output_channels(self) -> tuple[str, ...]:
        if self.ensemble_members:
            return tuple(f"{kind}_{i}" for i in range(self.ensemble_members) for kind in ("mean", "scale"))
        return ("mean", "scale") if self.probabilistic else ("restored",)


def network_spec_from_record(record: ModelRecord) -> NetworkSpec:
    config = record.train
    if record.kind == "projection":
        return projection_spec(config.unet_depth, config.unet_kern_size, record.projection_head_depth,
                               config.norm_pmin, config.norm_pmax)
    return NetworkSpec(config.axes, config.norm_pmin, config.norm_pmax,
                       receptive_halo(config.unet_depth, config.unet_kern_size), 2**config.unet_depth,
                       config.probabilistic or record.kind == "ensemble",
                       ensemble_members=len(record.members) if record.kind == "ensemble" else 0,
                       domain=_record_domain(record),
                       kind="isotropic" if record.kind == "isotropic" else "care", z_factor=record.z_factor,
                       rescale=record.rescale, classical_blend=record.classical_blend)


def _record_domain(record: ModelRecord) -> dict:
    """The recorded training statistics plus the training pixel size (when known)."""
    pixel_size = {"pixel_size": record.pixel_size} if record.pixel_size else {}
    return {**record.domain, **pixel_size} if record.domain else pixel_size


def network_spec_from_block(block: PackageCarekitBlock) -> NetworkSpec:
    return NetworkSpec(block.axes, block.norm_pmin, block.norm_pmax, block.halo, block.step, block.probabilistic,
                       ensemble_members=block.ensemble_members, domain=block.domain, kind=block.kind,
                       z_factor=block.z_factor, rescale=block.rescale, classical_blend=block.classical_blend)


def projection_spec(unet_depth: int, kern_size: int, head_depth: int, pmin: float, pmax: float) -> NetworkSpec:
    """A projection network: the lateral halo of the 2D U-Net plus the 3D head's (kernel 3, no bottom
    convolutions), rounded up to the lateral size divisor; the whole Z axis is always given."""
    divisor = 2**max(unet_depth, head_depth)
    halo = receptive_halo(unet_depth, kern_size) + receptive_halo(head_depth, 3)
    return NetworkSpec("YX", pmin, pmax, -(-halo // divisor) * divisor, divisor, False, kind="projection")

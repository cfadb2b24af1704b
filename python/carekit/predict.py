"""Restore images with a trained model: normalization as in training, tiled with bounded memory, progress bar."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .config import ModelRecord
from .data.patches import normalize_percentile
from .errors import InputError
from .io import Image, check_image
from .tiling import iter_planes, n_tiles, tiled_apply

DEFAULT_TILE = {2: (1024, 1024), 3: (32, 128, 128)}


def receptive_halo(unet_depth: int, kern_size: int) -> int:
    """Radius in pixels of a csbdeep U-Net's receptive field: 2 convolutions per level on the way down, at the
    bottom and on the way up, plus what max-pooling adds (measured: 22 px for depth 2, kernel 3; this gives 24)."""
    return (kern_size - 1) * (3 * 2**unet_depth - 2) + 2**unet_depth


@dataclass(frozen=True)
class NetworkSpec:
    """What prediction needs to know about a network, whichever form it is stored in."""

    axes: str
    pmin: float
    pmax: float
    halo: int
    divisor: int
    probabilistic: bool
    eps: float = 1e-6
    ensemble_members: int = 0

    @property
    def output_channels(self) -> tuple[str, ...]:
        if self.ensemble_members:
            return tuple(f"{kind}_{i}" for i in range(self.ensemble_members) for kind in ("mean", "scale"))
        return ("mean", "scale") if self.probabilistic else ("restored",)


def network_spec_from_record(record: ModelRecord) -> NetworkSpec:
    config = record.train
    return NetworkSpec(config.axes, config.norm_pmin, config.norm_pmax,
                       receptive_halo(config.unet_depth, config.unet_kern_size), 2**config.unet_depth,
                       config.probabilistic or record.kind == "ensemble",
                       ensemble_members=len(record.members) if record.kind == "ensemble" else 0)


@dataclass
class Restoration:
    """The restored image (normalized units: the input's low percentile maps to 0, its high percentile to 1),
    plus the per-pixel Laplace scale for probabilistic models, or the disagreement D in [0, 1] for ensembles."""

    image: np.ndarray
    axes: str
    scale: np.ndarray | None = None
    pixel_size: dict | None = None
    disagreement: np.ndarray | None = None

    def as_image(self) -> Image:
        return Image(self.image, self.axes, self.pixel_size or {})


class KerasModelDir:
    """A carekit model directory run with Keras/TensorFlow, in fp32 or (`precision` bf16 or auto, where the hardware
    has it) bf16 mixed precision; see carekit.precision."""

    def __init__(self, model_dir: str | Path, weights: str = "weights_best.h5", precision: str = "fp32"):
        from .train.care import load_keras_model
        from .train.precision import choose

        self.spec = network_spec_from_record(ModelRecord.load(model_dir))
        self.precision = choose(precision)
        self.model = load_keras_model(model_dir, weights, self.precision)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.model(batch, training=False).numpy()


def load_model(model: str | Path, engine: str = "onnx", precision: str = "fp32"):
    """A runnable model: a carekit model directory (Keras) or a bioimage.io package (.zip, folder or rdf.yaml).
    `precision` other than fp32 runs a package's Keras weights in mixed precision, whatever the engine."""
    path = Path(model)
    if (path / "carekit.json").exists() and not (path / "rdf.yaml").exists():
        return KerasModelDir(path, precision=precision)
    from .zoo.load import PackageModel

    return PackageModel(path, engine=engine, precision=precision)


def restore(model, image: np.ndarray | Image, axes: str | None = None, tile: tuple[int, ...] | None = None,
            progress: bool = True, engine: str = "onnx",
            on_progress: Callable[[int, int], None] | None = None) -> Restoration:
    """Restore a 2D/3D image, or each plane/stack of a larger one (e.g. TYX, CZYX), with a CARE model
    (a model directory, a bioimage.io package path, or an object from load_model).

    The input is normalized with the model's percentiles over each whole plane/stack before tiling,
    so tiling never changes the normalization. `on_progress(done, total)` is called after each tile.
    """
    runner = load_model(model, engine) if isinstance(model, (str, Path)) else model
    spec: NetworkSpec = runner.spec
    pixel_size = None
    if isinstance(image, Image):
        image, axes, pixel_size = image.data, image.axes, image.pixel_size
    image = np.asarray(image)
    axes = (axes or {2: "YX", 3: spec.axes if len(spec.axes) == 3 else "TYX"}.get(image.ndim, "")).upper()
    problems = check_image(image, "input image")
    if problems:
        raise InputError("; ".join(problems))
    if len(axes) != image.ndim or not set(spec.axes) <= set(axes):
        raise InputError(f"the model needs axes {spec.axes}, the image has shape {image.shape} with axes {axes!r}; "
                         f"pass axes= naming every dimension (e.g. 'TYX')")
    order = [axes.index(a) for a in axes if a not in spec.axes] + [axes.index(a) for a in spec.axes]
    work = np.transpose(image, order)
    work_axes = "".join(axes[i] for i in order)
    tile = tuple(tile or DEFAULT_TILE[len(spec.axes)])
    if len(tile) != len(spec.axes):
        raise InputError(f"tile {tile} needs one size per spatial axis {spec.axes}")
    halo = (spec.halo,) * len(spec.axes)
    planes = list(iter_planes(work, work_axes, spec.axes))
    total = len(planes) * n_tiles(work.shape[-len(spec.axes):], tile, halo, spec.divisor)
    mean = np.empty(work.shape, np.float32)
    scale = np.empty(work.shape, np.float32) if spec.probabilistic and not spec.ensemble_members else None
    disagreement = np.empty(work.shape, np.float32) if spec.ensemble_members else None
    from .ensemble import disagreement as ensemble_disagreement, mixture_mean
    from .progress import progress_bar

    with progress_bar(total, "restoring", unit="tile", disable=not progress or total < 2) as bar:
        def tile_done():
            bar.update(1)
            if on_progress is not None:
                on_progress(bar.n, total)

        for selector, plane in planes:
            normalized = normalize_percentile(plane, spec.pmin, spec.pmax, spec.eps)
            out = tiled_apply(normalized, runner, tile, halo, spec.divisor, on_tile=tile_done)
            if spec.ensemble_members:
                members_mean = np.moveaxis(out[..., 0::2], -1, 0)
                mean[selector] = mixture_mean(members_mean)
                disagreement[selector] = ensemble_disagreement(members_mean, np.moveaxis(out[..., 1::2], -1, 0))
                continue
            mean[selector] = out[..., 0]
            if scale is not None:
                scale[selector] = out[..., 1]
    inverse = np.argsort(order)

    def back(array):
        return None if array is None else np.transpose(array, inverse)

    return Restoration(back(mean), axes, back(scale), pixel_size, back(disagreement))

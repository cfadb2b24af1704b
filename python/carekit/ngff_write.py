"""OME-Zarr output (NGFF 0.4 on Zarr v2, or 0.5 on Zarr v3) written chunk by chunk: each finished chunk leaves a
marker so that a run that was stopped resumes where it was, a multiscale pyramid (napari, BigDataViewer/MoBIE,
neuroglancer) is built at the end, and only then is the image marked complete. Extra outputs (scale, disagreement)
are images in subgroups."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import zarr

from .errors import InputError
from .ngff import is_zarr, ngff_axes

DONE_FOLDER = ".carekit-done"
MAX_LEVELS = 6
NGFF_VERSIONS = ("0.4", "0.5")


@dataclass(frozen=True)
class OutputPlan:
    """What to write: `images` are the names of the outputs, the first at the group's root, the others (scale,
    disagreement) in subgroups of the same name; `source` says what was restored with what (for resuming)."""

    path: str
    axes: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    pixel_size: dict
    images: tuple[str, ...]
    source: dict
    version: str = "0.4"

    @property
    def zarr_format(self) -> int:
        return 2 if self.version == "0.4" else 3

    def array_path(self, image: str, level: int = 0) -> str:
        return f"{level}" if image == self.images[0] else f"{image}/{level}"


def level_shapes(shape: tuple[int, ...], chunks: tuple[int, ...], axes: str) -> list[tuple[int, ...]]:
    """Full resolution, then Y and X halved until a level fits in one chunk in Y and X."""
    shapes = [tuple(shape)]
    yx = [axes.index(a) for a in "YX" if a in axes]
    while len(shapes) < MAX_LEVELS and any(shapes[-1][i] > chunks[i] for i in yx):
        shapes.append(tuple(n // 2 if i in yx else n for i, n in enumerate(shapes[-1])))
    return shapes


def _ngff_attributes(plan: OutputPlan, name: str, n_levels: int) -> dict:
    """The image's OME attributes: 'multiscales' at the top (0.4) or under 'ome' with the version (0.5)."""
    datasets = []
    for level in range(n_levels):
        scale = [plan.pixel_size.get(a, 1.0) * (2**level if a in "YX" else 1) for a in plan.axes]
        datasets.append({"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]})
    multiscale = {"name": name, "axes": ngff_axes(plan.axes), "datasets": datasets}
    if plan.version == "0.4":
        return {"multiscales": [{"version": "0.4", **multiscale}]}
    return {"ome": {"version": plan.version, "multiscales": [multiscale]}}


RUN_IDENTITY = {"input", "model"}  # what an output restored: another input or model is not the same restoration
ESTIMATED = {"classical_blend"}  # chosen from the image by the run: no setting makes another run choose the same


def check_output(plan: OutputPlan, overwrite: bool) -> bool:
    """Refuse an existing output unless `overwrite` or it is an unfinished restoration of the same input with the
    same model (then True: resume it). Writes nothing."""
    path = Path(plan.path)
    if not path.exists() or overwrite:
        return False
    state = _carekit_state(path)
    if state.get("complete"):
        raise InputError(f"{path} already holds a complete restoration; give --overwrite to replace it, or "
                         "another --out")
    recorded = {"ngff": "0.4", **(state.get("source") or {})}  # runs before "ngff" was recorded wrote 0.4
    if recorded != plan.source:
        keys = [key for key in sorted(set(recorded) | set(plan.source)) if recorded.get(key) != plan.source.get(key)]
        differ = "; ".join(f"{key}: {recorded.get(key, 'not recorded')} there, {plan.source.get(key, 'not given')} "
                           "now" for key in keys)
        estimated_again = [key for key in keys if key in ESTIMATED and key in recorded and key in plan.source]
        same_run = state.get("source") and not set(keys) & RUN_IDENTITY and not estimated_again  # settings only
        resume = ("to resume it give the settings it was started with (a setting not recorded there was off), "
                  if same_run else "")
        raise InputError(f"{path} already exists and is not an unfinished restoration of this input with this "
                         f"model and settings ({differ}); {resume}give --overwrite to replace it, or another --out")
    chunks = tuple(zarr.open_group(str(path), mode="r")[plan.array_path(plan.images[0])].chunks)
    if chunks != tuple(plan.chunks):  # its finished-chunk markers name chunks of another grid
        raise InputError(f"{path} is an unfinished restoration in chunks of {chunks}, this run's are {plan.chunks}; "
                         "give --overwrite to replace it, or another --out")
    return True


def prepare_output(plan: OutputPlan, overwrite: bool) -> set[str]:
    """Create the output (or reopen an unfinished one of the same input and model); the chunk keys already done."""
    path = Path(plan.path)
    if check_output(plan, overwrite):
        return done_chunks(plan.path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    root = zarr.open_group(str(path), mode="w", zarr_format=plan.zarr_format)
    shapes = level_shapes(plan.shape, plan.chunks, plan.axes)
    layout = ({"chunk_key_encoding": {"name": "v2", "separator": "/"}} if plan.zarr_format == 2 else
              {"dimension_names": [axis["name"] for axis in ngff_axes(plan.axes)]})
    for name in plan.images:
        group = root if name == plan.images[0] else root.create_group(name)
        for level, shape in enumerate(shapes):
            group.create_array(str(level), shape=shape, chunks=tuple(min(c, n) for c, n in zip(plan.chunks, shape)),
                               dtype="float32", fill_value=0.0, **layout)
        group.attrs.update(_ngff_attributes(plan, name, len(shapes)))
    root.attrs["carekit"] = {"complete": False, "source": plan.source, "images": list(plan.images)}
    (path / DONE_FOLDER).mkdir()
    return set()


def _carekit_state(path: Path) -> dict:
    """The carekit attributes of an OME-Zarr carekit wrote (Zarr v2 .zattrs or v3 zarr.json); {} for anything else."""
    if not is_zarr(path):
        return {}
    for name, inside in ((".zattrs", ()), ("zarr.json", ("attributes",))):
        try:
            attrs = json.loads((path / name).read_text())
        except (OSError, ValueError):
            continue
        for key in inside:
            attrs = attrs.get(key, {}) if isinstance(attrs, dict) else {}
        if isinstance(attrs, dict) and isinstance(attrs.get("carekit"), dict):
            return attrs["carekit"]
    return {}


def done_chunks(path: str) -> set[str]:
    folder = Path(path) / DONE_FOLDER
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def write_chunk(plan: OutputPlan, key: str, region: tuple[slice, ...], outputs: dict) -> None:
    """Write one chunk of every output, then its marker (a chunk without marker is redone on resume)."""
    root = zarr.open_group(plan.path, mode="r+", zarr_format=plan.zarr_format)
    for name, data in outputs.items():
        root[plan.array_path(name)][region] = data
    (Path(plan.path) / DONE_FOLDER / key).touch()


def finish(plan: OutputPlan) -> None:
    """Build the pyramid of every output from its full resolution, then mark the output complete."""
    root = zarr.open_group(plan.path, mode="r+", zarr_format=plan.zarr_format)
    yx = {plan.axes.index(a): 2 for a in "YX" if a in plan.axes}
    for name in plan.images:
        for level in range(1, len(level_shapes(plan.shape, plan.chunks, plan.axes))):
            previous = da.from_zarr(root[plan.array_path(name, level - 1)])
            target = root[plan.array_path(name, level)]
            smaller = da.coarsen(np.mean, previous, yx, trim_excess=True).astype("float32")
            da.store(smaller.rechunk(target.chunks), target, lock=False)
    shutil.rmtree(Path(plan.path) / DONE_FOLDER, ignore_errors=True)
    state = dict(root.attrs["carekit"])
    root.attrs["carekit"] = {**state, "complete": True}

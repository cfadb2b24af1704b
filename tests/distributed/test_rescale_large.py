"""rescale on the large-data path: every chunk restored from the downsampled image around it equals in-memory
restore(rescale=...), for a fixed factor and for 'auto', a plane without intensity range included (restored as it
is, in memory too); and where rescaling does not apply it is refused in restore's words."""

import dataclasses
import json
import shutil
import warnings

import numpy as np
import pytest
import zarr
from scipy import ndimage

from carekit.cli import main
from carekit.errors import InputError
from carekit.models import load_model
from carekit.ngff import open_source
from carekit.ngff_write import check_output
from carekit.predict import restore
from carekit.predict.distributed import plan_large, restore_large
from carekit.predict.domain_check import OutOfRangeWarning
from carekit.predict.percentiles import EXACT_BYTES
from carekit.predict.rescale import rescale_factor
from carekit.predict.rescale_large import DownscaledSource
from carekit.resample import downscale

from .conftest import HELA_MODEL, ROOT, nuclei_like, write_ngff

GENERALIST = ROOT / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def _large_nuclei(shape=(2, 480, 500)) -> np.ndarray:
    """A constant plane, then nuclei magnified 3x (larger than the generalist's training scale)."""
    small = nuclei_like((shape[0], shape[1] // 3 + 1, shape[2] // 3 + 1), seed=4).astype(np.float32)
    image = ndimage.zoom(small, (1, 3, 3), order=1)[:, :shape[1], :shape[2]]
    image[0] = 37.0
    return image.astype(np.uint16)


def test_downscaled_source_reads_any_region_as_the_whole_image_downscaled(tmp_path):
    image = nuclei_like((2, 130, 101))
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 40, 40)))
    small = DownscaledSource(source, 2.6)
    whole = downscale(image.astype(np.float32), 2.6)
    assert small.shape == whole.shape == (2, 50, 39)
    assert np.array_equal(small.read((slice(1, 2), slice(17, 31), slice(0, 39))), whole[1:2, 17:31])


# 2.5: an OME-Zarr, 3 x 3 chunks of 200 px (at least 2.5 x (halo 24 + 12) wide: kept), the middle one reading
# downsampled rows 40-192 of 192 and columns 40-198 of 200 (both edges inside); auto: a plain Zarr with X before Y
# and T last, and exact_bytes=1 (percentiles from the histograms: the downsampled planes' within one of 65,536 bins)
@pytest.mark.parametrize("rescale, axes, exact_bytes, tolerance", [(2.5, "TYX", EXACT_BYTES, 1e-5),
                                                                   ("auto", "XYT", 1, 1e-4)])
def test_rescaled_chunks_equal_in_memory_rescale(tmp_path, client, rescale, axes, exact_bytes, tolerance):
    image = np.transpose(_large_nuclei(), ["TYX".index(a) for a in axes])
    chunks = tuple(1 if a == "T" else 200 for a in axes)
    if axes == "TYX":
        source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, axes, {"Y": 0.2, "X": 0.2}, chunks))
    else:
        zarr.create_array(str(tmp_path / "in.zarr"), data=image, chunks=chunks, zarr_format=3)
        source = open_source(tmp_path / "in.zarr", axes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant plane's normalization warning, in both
        result = restore_large(client, GENERALIST, source, tmp_path / "out.ome.zarr", progress=False, rescale=rescale,
                               exact_bytes=exact_bytes, classical_blend=False)  # chunks, not the blend's planes
        out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
        factor = out.attrs["carekit"]["source"]["rescale"]
        nuclei = np.take(image, 1, axis=axes.index("T"))
        # 'auto' judges the middle plane (in memory: the sampled planes, here with the constant one)
        assert factor == (2.5 if rescale == 2.5 else rescale_factor("auto", load_model(GENERALIST).spec,
                                                                     nuclei if axes == "TYX" else nuclei.T))
        expected = restore(GENERALIST, image, axes, progress=False, rescale=factor, check_domain=False,
                           classical_blend=False)
    assert factor > 2 and result.chunks_total == (2 * 3 * 3 if rescale == 2.5 else 2 * 2 * 2)
    for name, in_memory in (("0", expected.image), ("scale/0", expected.scale)):
        assert np.abs(out[name][:] - in_memory).max() <= tolerance * np.ptp(in_memory)
    plain = restore(GENERALIST, image, axes, progress=False, check_domain=False, rescale=None).image
    assert np.abs(out["0"][:] - plain).max() > 0.05 * np.ptp(plain)  # it did rescale


def test_search_on_large_data_chooses_the_in_memory_factor(tmp_path):
    image = _large_nuclei()
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 200, 200)))
    job = plan_large(GENERALIST, source, tmp_path / "out.ome.zarr", rescale="search")
    in_memory = restore(GENERALIST, image, "TYX", progress=False, check_domain=False, rescale="search")
    assert job.factor == in_memory.factor > 1  # the middle plane's central crop, the nuclei, in both
    assert job.searched and not plan_large(GENERALIST, source, tmp_path / "b.ome.zarr", rescale="auto").searched


def test_the_cli_plans_a_large_job_once_and_says_what_search_chose(tmp_path, client, capsys, monkeypatch):
    import carekit.predict.distributed as distributed

    plans = []
    real_plan = distributed.plan_large
    monkeypatch.setattr(distributed, "plan_large", lambda *a, **k: plans.append(a) or real_plan(*a, **k))
    image = _large_nuclei()
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 240, 250))
    assert main(["predict", "--model", str(GENERALIST), str(path), "--out", str(tmp_path / "out.ome.zarr"),
                 "--rescale", "search", "--workers", "1", "--quiet", "--no-classical-check"]) == 0
    assert len(plans) == 1  # the search restores crops: judged and planned once
    chosen = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r").attrs["carekit"]["source"]["rescale"]
    assert chosen == restore(GENERALIST, image, "TYX", progress=False, check_domain=False, rescale="search").factor
    assert f"rescale search: downsampled {chosen:.3g}x in YX" in capsys.readouterr().out


def test_the_large_path_names_the_rescale_factor_for_finer_pixels(tmp_path, client, tiny_model):
    model = shutil.copytree(tiny_model, tmp_path / "model")
    record = json.loads((model / "carekit.json").read_text())
    (model / "carekit.json").write_text(json.dumps({**record, "pixel_size": {"X": 0.645, "Y": 0.645}}))
    image = nuclei_like((1, 128, 128))
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.26, "X": 0.26}, (1, 64, 64)))
    with pytest.warns(OutOfRangeWarning, match=r"pixel size 0\.26.*with rescale=2\.48"):
        restore_large(client, model, source, tmp_path / "out.ome.zarr", progress=False)


def test_rescale_on_the_large_data_path_from_the_cli_and_its_refusals(tmp_path, client, capsys):
    image = nuclei_like((1, 80, 80))
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 40, 40))
    with pytest.raises(InputError, match="rescale 8 would shrink planes of"):
        restore_large(client, GENERALIST, open_source(path), tmp_path / "a.ome.zarr", progress=False, rescale=8)
    assert main(["predict", "--model", str(HELA_MODEL), str(path), "--out", str(tmp_path / "b.ome.zarr"),
                 "--rescale", "0.5", "--quiet"]) == 2
    assert "upsampling (below 1) is not offered" in capsys.readouterr().err
    assert main(["predict", "--model", str(HELA_MODEL), str(path), "--out", str(tmp_path / "c.ome.zarr"),
                 "--rescale", "2", "--workers", "1", "--quiet"]) == 0  # the CLI passes it on
    assert zarr.open_group(str(tmp_path / "c.ome.zarr"), mode="r").attrs["carekit"]["source"]["rescale"] == 2
    assert not (tmp_path / "a.ome.zarr").exists() and not (tmp_path / "b.ome.zarr").exists()


def test_an_unfinished_output_is_resumed_only_with_the_same_factor_and_grid(tmp_path, client):
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", nuclei_like((1, 128, 128)), "TYX", {}, (1, 64, 64)))
    out = tmp_path / "out.ome.zarr"
    restore_large(client, HELA_MODEL, source, out, progress=False, rescale=2)
    root = zarr.open_group(str(out), mode="r+")
    root.attrs["carekit"] = {**root.attrs["carekit"], "complete": False}  # as a run stopped before its end
    job = plan_large(HELA_MODEL, source, out, rescale=2)
    assert check_output(job.plan, overwrite=False)  # resumed
    with pytest.raises(InputError, match=r"rescale: 2\.0 there, 3\.0 now"):
        check_output(plan_large(HELA_MODEL, source, out, rescale=3).plan, overwrite=False)
    with pytest.raises(InputError, match=r"rescale: 2\.0 there, not given now.*to resume it give the settings it was"):
        check_output(plan_large(HELA_MODEL, source, out).plan, overwrite=False)
    with pytest.raises(InputError, match="unfinished restoration in chunks of"):
        check_output(dataclasses.replace(job.plan, chunks=(1, 32, 32)), overwrite=False)

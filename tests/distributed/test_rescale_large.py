"""rescale on the large-data path: every chunk restored from the downsampled image around it equals in-memory
restore(rescale=...), for a fixed factor and for 'auto', a plane without intensity range included (restored as it
is, in memory too); and where rescaling does not apply it is refused in restore's words."""

import warnings

import numpy as np
import pytest
import zarr
from scipy import ndimage

from carekit.cli import main
from carekit.errors import InputError
from carekit.models import load_model
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.predict.rescale import rescale_factor
from carekit.predict.rescale_large import DownscaledSource
from carekit.resample import downscale

from .conftest import HELA_MODEL, ROOT, nuclei_like, write_ngff

GENERALIST = ROOT / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def _large_nuclei(shape=(2, 210, 230)) -> np.ndarray:
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


@pytest.mark.parametrize("rescale", [2.5, "auto"])
def test_rescaled_chunks_equal_in_memory_rescale(tmp_path, client, rescale):
    image = _large_nuclei()
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.2, "X": 0.2}, (1, 70, 90)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant plane's normalization warning, in both
        result = restore_large(client, GENERALIST, source, tmp_path / "out.ome.zarr", progress=False, rescale=rescale)
        out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
        factor = out.attrs["carekit"]["source"]["rescale"]
        # 'auto' judges the middle plane (in memory: the sampled planes, here with the constant one)
        assert factor == (2.5 if rescale == 2.5 else rescale_factor("auto", load_model(GENERALIST).spec, image[1]))
        expected = restore(GENERALIST, image, "TYX", progress=False, rescale=factor, check_domain=False)
    assert result.chunks_total == 2 * 3 * 3 and factor > 2
    for name, in_memory in (("0", expected.image), ("scale/0", expected.scale)):
        assert np.abs(out[name][:] - in_memory).max() <= 1e-5 * np.ptp(in_memory[1])
    plain = restore(GENERALIST, image[1:], "TYX", progress=False, check_domain=False).image
    assert np.abs(out["0"][1:] - plain).max() > 0.05 * np.ptp(plain)  # it did rescale


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

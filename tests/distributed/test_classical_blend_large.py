"""The classical blend on the large-data path: chosen on the same crops as in memory, one whole YX plane per task,
the same output as restore(classical_blend=True); said on the CLI's line, recorded in the output so that another blend
is not resumed into it, and refused where planes are too large to blend whole."""

import warnings

import numpy as np
import pytest
import zarr

from carekit.cli import main
from carekit.errors import InputError
from carekit.ngff import open_source
from carekit.predict import blend_large, restore
from carekit.predict.classical_blend import mixes
from carekit.predict.classical_check import WorseThanClassicalWarning
from carekit.predict.distributed import plan_large, restore_large
from tests.integration.test_classical_check import _held_out

from .conftest import HELA_MODEL, nuclei_like, write_ngff


@pytest.fixture(scope="module")
def two_channels() -> np.ndarray:
    """C, T, Y, X: confocal nuclei at 10 photons (where the HeLa model is behind classical denoising and the blend
    mixes) and HeLa-like blobs, two time points each."""
    confocal = _held_out("nuclei3d", 10.0).astype(np.float32)
    blobs = nuclei_like((256, 256), seed=4).astype(np.float32)
    return np.stack([np.stack([confocal, confocal[::-1]]), np.stack([blobs, blobs.T])])


@pytest.mark.parametrize("rescale", [1, 2])  # 2: each plane restored downsampled, mixed at full size
def test_blended_plane_by_plane_equals_in_memory(tmp_path, client, two_channels, rescale):
    path = write_ngff(tmp_path / "in.ome.zarr", two_channels, "CTYX", {"Y": 0.3, "X": 0.3}, (1, 1, 128, 128))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        expected = restore(HELA_MODEL, two_channels, "CTYX", progress=False, classical_blend=True, rescale=rescale)
        result = restore_large(client, HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr", progress=False,
                               classical_blend=True, rescale=rescale)
    assert mixes(expected.classical_blend) and expected.classical_blend[0].share < 1.0
    assert result.chunks_total == 4  # one whole plane per task, not the input's 128 px chunks
    restored = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"][:]
    assert np.abs(restored - expected.image).max() <= 1e-5
    plain = restore(HELA_MODEL, two_channels, "CTYX", progress=False, check_domain=False, rescale=rescale).image
    assert np.abs(restored[0] - plain[0]).max() > 0.05  # the mixed channel differs from the model alone


def test_the_cli_says_how_it_blended_instead_of_checking(tmp_path, client, capsys, two_channels):
    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[:1], "CTYX", {}, (1, 1, 256, 256))
    assert main(["predict", "--model", str(HELA_MODEL), str(path), "--out", str(tmp_path / "out.ome.zarr"),
                 "--workers", "1", "--quiet", "--classical-blend"]) == 0
    captured = capsys.readouterr()
    assert "(2 chunks, blended 0." in captured.out or "(2 chunks, replaced by " in captured.out, captured.out
    assert "the model alone is estimated behind" in captured.err  # the blend's own warning ...
    assert "the model is behind" not in captured.err  # ... instead of the classical check's


def test_an_unfinished_blended_output_is_not_resumed_without_the_blend(tmp_path, two_channels):
    from carekit.ngff_write import check_output, prepare_output

    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[:1], "CTYX", {}, (1, 1, 256, 256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        blended = plan_large(HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr", classical_blend=True)
    plain = plan_large(HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr")
    (blend,) = blended.blends
    assert blended.plan.source["classical_blend"] == [[blend.share, blend.classical]]
    prepare_output(blended.plan, overwrite=False)  # as a run stopped before its first chunk leaves it
    assert check_output(blended.plan, overwrite=False)  # the same run resumes it
    with pytest.raises(InputError, match="classical_blend: "):
        check_output(plain.plan, overwrite=False)


def test_planes_too_large_to_blend_whole_and_other_models_are_refused(tmp_path, monkeypatch, tiny_model_3d):
    image = nuclei_like((1, 96, 96))
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 48, 48))
    monkeypatch.setattr(blend_large, "BLEND_PLANE_BYTES", 96 * 96 * 4 - 1)
    with pytest.raises(InputError, match="denoises whole YX planes, and this input's are 96 x 96 px"):
        plan_large(HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr", classical_blend=True)
    stack = write_ngff(tmp_path / "stack.ome.zarr", nuclei_like((16, 64, 64)), "ZYX", {}, (16, 64, 64))
    with pytest.raises(InputError, match="the classical blend is for carekit's 2D denoising models"):
        plan_large(tiny_model_3d, open_source(stack), tmp_path / "out3.ome.zarr", classical_blend=True)
    assert not (tmp_path / "out.ome.zarr").exists() and not (tmp_path / "out3.ome.zarr").exists()

"""The classical blend on the large-data path: chosen on the same crops as in memory, whole YX planes per task (the
output keeping its chunks), the same output as restore(classical_blend=True); said on the CLI's line, recorded in the
output so that another blend is not resumed into it, refused where planes are too large to blend whole or workers
have too little memory for them; the shipped generalist's own blend, left out (with a warning) there instead."""

import dataclasses
import warnings

import numpy as np
import pytest
import zarr

from carekit.cli import main
from carekit.errors import InputError
from carekit.ngff import open_source
from carekit.predict import blend_large, classical_blend, restore
from carekit.predict.classical_blend import mixes
from carekit.predict.classical_check import WorseThanClassicalWarning
from carekit.predict.distributed import plan_large, restore_large
from tests.integration.test_classical_check import _held_out

from .conftest import HELA_MODEL, ROOT, nuclei_like, write_ngff

GENERALIST = ROOT / "model-zoo" / "care-generalist-nuclei-denoising.zip"


@pytest.fixture(scope="module")
def two_channels() -> np.ndarray:
    """C, T, Y, X: confocal nuclei at 10 photons (where the HeLa model is behind classical denoising and the blend
    mixes) and HeLa-like blobs, two time points each."""
    confocal = _held_out("nuclei3d", 10.0).astype(np.float32)
    blobs = nuclei_like((256, 256), seed=4).astype(np.float32)
    return np.stack([np.stack([confocal, confocal[::-1]]), np.stack([blobs, blobs.T])])


@pytest.mark.parametrize("options", [{}, {"rescale": 2}, {"hot_pixels": "replace", "tta": True}],
                         ids=["plain", "rescaled", "hot-pixels-tta"])  # rescaled: mixed at full size
def test_blended_plane_by_plane_equals_in_memory(tmp_path, client, two_channels, options):
    image = two_channels.copy()
    image[:, :, 40:200:37, 30:220:41] += 4000  # hot pixels (replaced where asked, on both paths)
    path = write_ngff(tmp_path / "in.ome.zarr", image, "CTYX", {"Y": 0.3, "X": 0.3}, (1, 1, 128, 128))
    options = {"rescale": 1, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # behind classical denoising; hot pixels kept
        expected = restore(HELA_MODEL, image, "CTYX", progress=False, classical_blend=True, **options)
        result = restore_large(client, HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr", progress=False,
                               classical_blend=True, **options)
    assert mixes(expected.classical_blend) and expected.classical_blend[0].share < 1.0
    assert result.chunks_total == 4  # one whole plane per task, not the input's 128 px chunks ...
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
    if options["rescale"] == 1:  # (rescaled, the grid grows to whole planes anyway)
        assert out["0"].chunks == (1, 1, 128, 128) and out["1"].shape == (2, 2, 128, 128)  # ... the output's
    restored = out["0"][:]
    assert np.abs(restored - expected.image).max() <= 1e-5
    plain = restore(HELA_MODEL, image, "CTYX", progress=False, check_domain=False, **options).image
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
    with pytest.raises(InputError, match="classical_blend: .* to resume it give the settings it was started with"):
        check_output(plain.plan, overwrite=False)
    estimated_otherwise = dataclasses.replace(blended.plan, source={**blended.plan.source,
                                                                    "classical_blend": [[0.5, "TV weight 0.4"]]})
    with pytest.raises(InputError, match="classical_blend: ") as refused:
        check_output(estimated_otherwise, overwrite=False)
    assert "to resume it" not in str(refused.value)  # no setting makes a run estimate the same blend


def test_tasks_hold_whole_planes_and_the_memory_they_need_is_checked(tmp_path, client, monkeypatch):
    small = open_source(write_ngff(tmp_path / "s.ome.zarr", nuclei_like((100, 64, 64)), "TYX", {}, (50, 32, 32)))
    assert blend_large.blend_grids(small, (50, 32, 32)) == ((50, 32, 32), (50, 64, 64))
    monkeypatch.setattr(blend_large, "TASK_PLANE_BYTES", 64 * 64 * 4)
    assert blend_large.blend_grids(small, (50, 32, 32)) == ((1, 32, 32), (1, 64, 64))  # one plane per task
    assert blend_large.memory_shortfall(client, small, (1, 64, 64)) is None  # the test cluster has GiBs per thread
    monkeypatch.setattr(blend_large, "WORK_PLANES", 10**6)
    assert blend_large.memory_shortfall(client, small, (1, 64, 64)).startswith(
        "a task needs about 15.3 GiB and the workers have")


def test_without_the_memory_a_blend_asked_for_is_refused_and_the_models_own_left_out(tmp_path, client,
                                                                                      monkeypatch, two_channels):
    """Before anything is written: asked for, the blend is refused where the workers lack the memory for its whole
    planes; the generalist's own blend (not asked for) is left out with a warning, and the run restores with the
    model alone, in the model alone's chunks, recorded so."""
    image = np.stack([two_channels[0, 0]] * 2)  # two planes the generalist mixes on
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (2, 128, 128))
    monkeypatch.setattr(blend_large, "TASK_PLANE_BYTES", 256 * 256 * 4)  # blended: one plane per task and chunk
    monkeypatch.setattr(blend_large, "WORK_PLANES", 10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        with pytest.raises(InputError, match=r"GiB per thread; give --memory-limit \d+GiB .* --no-classical-blend"):
            restore_large(client, GENERALIST, open_source(path), tmp_path / "asked.ome.zarr", progress=False,
                          rescale=1, classical_blend=True)
        assert not (tmp_path / "asked.ome.zarr").exists()
        job = plan_large(GENERALIST, open_source(path), tmp_path / "own.ome.zarr", rescale=1)
        assert job.plan.chunks == (1, 128, 128) and job.fallback.plan.chunks == (2, 128, 128)
        with pytest.warns(UserWarning, match="restored by the model alone, not blended: its default classical blend "
                                             r"denoises whole YX planes, and a task needs about .* GiB .* to blend$"
                          ) as said:
            result = restore_large(client, GENERALIST, open_source(path), tmp_path / "own.ome.zarr", progress=False,
                                   rescale=1)
    assert result.blends == () and result.chunks_total == 4  # the input's chunks, not whole planes
    assert not any("the output is" in str(w.message) for w in said)  # no word of a blend it did not make
    alone = restore(GENERALIST, image, "TYX", progress=False, check_domain=False, rescale=1,
                    classical_blend=False).image
    restored = zarr.open_group(str(tmp_path / "own.ome.zarr"), mode="r")
    assert np.abs(restored["0"][:] - alone).max() <= 1e-4 and restored["0"].chunks == (2, 128, 128)
    assert "classical_blend" not in restored.attrs["carekit"]["source"]  # a run with the blend does not resume it


def test_a_run_that_left_its_models_own_blend_out_resumes_so(tmp_path, client, two_channels):
    """An unfinished output started by the model alone (its own blend left out for memory) is finished by the model
    alone, with a warning, even where the workers now have the memory for the blend: never two restorations in one
    output; one that was blended is resumed blended."""
    from carekit.ngff_write import prepare_output

    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[0, :1], "TYX", {}, (1, 128, 128))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        job = plan_large(GENERALIST, open_source(path), tmp_path / "out.ome.zarr", rescale=1)
        prepare_output(job.fallback.plan, overwrite=False)  # as a run stopped before its first chunk leaves it
        with pytest.warns(UserWarning, match="was started by the model alone, without its default classical "
                                             "blend: resumed so, not blended"):
            result = restore_large(client, GENERALIST, open_source(path), tmp_path / "out.ome.zarr", progress=False,
                                   rescale=1)
        assert result.blends == ()
        blended = plan_large(GENERALIST, open_source(path), tmp_path / "blended.ome.zarr", rescale=1)
        prepare_output(blended.plan, overwrite=False)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            result = restore_large(client, GENERALIST, open_source(path), tmp_path / "blended.ome.zarr",
                                   progress=False, rescale=1)
    assert mixes(result.blends) and not any("resumed so" in str(w.message) for w in said)


def test_an_unfinished_blended_run_is_not_finished_by_the_model_alone(tmp_path, client, monkeypatch, two_channels):
    from carekit.ngff_write import prepare_output

    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[0, :1], "TYX", {}, (1, 128, 128))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        job = plan_large(GENERALIST, open_source(path), tmp_path / "out.ome.zarr", rescale=1)
    prepare_output(job.plan, overwrite=False)  # started blended, stopped before its first chunk
    monkeypatch.setattr(blend_large, "WORK_PLANES", 10**6)
    with pytest.raises(InputError, match=r"is an unfinished blended restoration, and a task needs about .* give "
                                         r"--memory-limit \d+GiB .* to finish it so, or --overwrite"):
        restore_large(client, GENERALIST, open_source(path), tmp_path / "out.ome.zarr", progress=False, rescale=1)


def test_planes_too_large_to_blend_whole_and_other_models_are_refused(tmp_path, monkeypatch, tiny_model_3d,
                                                                      two_channels):
    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[0], "TYX", {}, (1, 128, 128))  # a channel that mixes
    monkeypatch.setattr(blend_large, "BLEND_PLANE_BYTES", 256 * 256 * 4 - 1)
    with warnings.catch_warnings(), pytest.raises(InputError, match="this input's are 256 x 256 px"):
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        plan_large(HELA_MODEL, open_source(path), tmp_path / "out.ome.zarr", classical_blend=True)
    stack = write_ngff(tmp_path / "stack.ome.zarr", nuclei_like((16, 64, 64)), "ZYX", {}, (16, 64, 64))
    with pytest.raises(InputError, match="--classical-blend is for carekit's 2D denoising models"):
        plan_large(tiny_model_3d, open_source(stack), tmp_path / "out3.ome.zarr", classical_blend=True)
    assert not (tmp_path / "out.ome.zarr").exists() and not (tmp_path / "out3.ome.zarr").exists()


def test_the_generalists_own_blend_runs_on_large_data_and_is_left_out_where_planes_are_too_large(
        tmp_path, monkeypatch, two_channels):
    path = write_ngff(tmp_path / "in.ome.zarr", two_channels[0], "TYX", {}, (1, 128, 128))  # it mixes on these
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        job = plan_large(GENERALIST, open_source(path), tmp_path / "out.ome.zarr")
    assert mixes(job.blends) and job.task_grid is not None  # not asked for: the model's own choice
    assert plan_large(GENERALIST, open_source(path), tmp_path / "off.ome.zarr", classical_blend=False).blends == ()
    monkeypatch.setattr(classical_blend, "MAX_PLANE_PIXELS", 256 * 256 - 1)
    with pytest.warns(UserWarning, match="restored by the model alone: its default classical blend denoises whole"):
        job = plan_large(GENERALIST, open_source(path), tmp_path / "big.ome.zarr")
    assert job.blends == () and job.task_grid is None  # not refused: the user did not ask for it

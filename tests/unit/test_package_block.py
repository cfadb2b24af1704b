"""The rdf `config.carekit` block: one versioned model for the writer (zoo.package) and the reader (models)."""

import pytest

from carekit.config import PACKAGE_BLOCK_VERSION, PackageCarekitBlock
from carekit.errors import InputError

# the block as carekit 0.1.0 wrote it, before it had a block_version (the shipped model-zoo package)
FIRST = {"version": "0.1.0", "probabilistic": False, "axes": "YX", "norm_pmin": 1.0, "norm_pmax": 99.8, "halo": 24,
         "step": 4, "output_channels": ["restored"]}


def test_blocks_without_a_version_read_as_version_1():
    block = PackageCarekitBlock.read(FIRST, "old.zip")
    assert block.block_version == 1 and block.ensemble_members == 0 and block.halo == 24


def test_written_block_reads_back_identically():
    written = PackageCarekitBlock(**{**FIRST, "probabilistic": True, "ensemble_members": 3,
                                     "output_channels": ["mean_0", "scale_0"]}).model_dump()
    assert written["block_version"] == PACKAGE_BLOCK_VERSION
    assert PackageCarekitBlock.read(written, "new.zip").model_dump() == written


@pytest.mark.parametrize("change, words", [({"axes": "TYX"}, "axes: Input should be 'YX' or 'ZYX'"),
                                           ({"step": 0}, "step: Input should be greater than or equal to 1"),
                                           ({"norm_pmin": float("nan")}, "norm_pmin"),
                                           ({"stray": 1}, "stray: Extra inputs are not permitted")])
def test_a_damaged_block_names_the_bad_field(change, words):
    with pytest.raises(InputError, match="pkg.zip: the carekit block of rdf.yaml is damaged") as info:
        PackageCarekitBlock.read({**FIRST, **change}, "pkg.zip")
    assert words in str(info.value)


def test_a_block_from_a_newer_carekit_asks_for_an_update():
    newer = PACKAGE_BLOCK_VERSION + 1
    with pytest.raises(InputError, match=f"newer carekit \\(carekit block version {newer}, this carekit reads up to "
                                         f"{PACKAGE_BLOCK_VERSION}\\)"):
        PackageCarekitBlock.read({**FIRST, "block_version": newer}, "pkg.zip")


def test_blocks_are_written_at_the_lowest_version_that_holds_them_for_older_carekits():
    plain = PackageCarekitBlock(**FIRST).for_rdf()
    assert plain["block_version"] == 2 and "network_weights" not in plain and "rescale" not in plain
    assert PackageCarekitBlock.read(plain, "plain.zip").network_weights == {}
    assert PackageCarekitBlock.read(plain, "plain.zip").rescale is None
    zoom = PackageCarekitBlock(**{**FIRST, "kind": "isotropic", "z_factor": 4.0,
                                  "network_weights": {"onnx": "network.onnx"}}).for_rdf()
    assert zoom["block_version"] == 3 and zoom["network_weights"] == {"onnx": "network.onnx"} and "rescale" not in zoom
    assert PackageCarekitBlock.read(zoom, "zoom.zip").model_dump() == {**zoom, "rescale": None,
                                                                        "classical_blend": False}
    searching = PackageCarekitBlock(**{**FIRST, "rescale": "search"}).for_rdf()
    assert searching["block_version"] == 4 and searching["rescale"] == "search" and "classical_blend" not in searching
    assert PackageCarekitBlock.read(searching, "search.zip").model_dump() == {**searching, "classical_blend": False}
    blending = PackageCarekitBlock(**{**FIRST, "rescale": "search", "classical_blend": True}).for_rdf()
    assert blending["block_version"] == PACKAGE_BLOCK_VERSION == 5 and blending["classical_blend"] is True
    assert PackageCarekitBlock.read(blending, "generalist.zip").model_dump() == blending
    with pytest.raises(InputError, match="rescale"):
        PackageCarekitBlock.read({**FIRST, "rescale": "sometimes"}, "bad.zip")


def test_the_package_readme_says_how_carekit_rescales_a_model_with_its_own_mode():
    from carekit.config import ModelRecord, TrainConfig
    from carekit.zoo.docs import readme

    record = ModelRecord(carekit_version="test", name="m", train=TrainConfig(), rescale="search")
    text = readme(record, "m", "a model", None, ("onnx",))
    assert "restores it at the scale estimated to restore each image best (downsampled or not) by default" in text
    assert "`--rescale search`" in text and "bioimageio.core and deepImageJ run it at the image's own scale" in text
    assert "--rescale" not in readme(record.model_copy(update={"rescale": None}), "m", "a model", None, ("onnx",))


def test_the_package_readme_says_when_carekit_blends_by_default():
    from carekit.config import ModelRecord, TrainConfig
    from carekit.zoo.docs import readme

    record = ModelRecord(carekit_version="test", name="m", train=TrainConfig(), classical_blend=True)
    text = readme(record, "m", "a model", None, ("onnx",))
    assert "mixes the best classical denoiser into its restoration by default" in text
    assert "`--no-classical-blend` turns it off" in text
    assert "bioimageio.core and deepImageJ run the model alone" in text
    assert "classical" not in readme(record.model_copy(update={"classical_blend": False}), "m", "a model", None,
                                     ("onnx",))

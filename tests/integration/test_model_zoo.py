"""Every package shipped in model-zoo/ passes bioimageio.core, is upload-ready and restores real held-out images."""

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image as PILImage
from ruyaml import YAML

from carekit.config import SynthConfig
from carekit.data import builtin
from carekit.evaluate.metrics import score
from carekit.predict import restore
from carekit.synth.pairs import make_pairs
from carekit.zoo.package import validate_package

PACKAGES = sorted((Path(__file__).resolve().parents[2] / "model-zoo").glob("*.zip"))


def test_model_zoo_is_not_empty():
    assert PACKAGES, "model-zoo/ should ship at least one trained package"


@pytest.mark.parametrize("package", PACKAGES, ids=[p.stem for p in PACKAGES])
def test_shipped_package_passes_bioimageio_core(package):
    results = validate_package(package)
    assert set(results) == {"keras_hdf5", "tensorflow_saved_model_bundle", "onnx"}
    assert all(status == "passed" for status in results.values()), results


@pytest.mark.parametrize("package", PACKAGES, ids=[p.stem for p in PACKAGES])
def test_shipped_package_cover_docs_and_deepimagej_config(package):
    with zipfile.ZipFile(package) as zf:
        cover, readme = zf.read("cover.png"), zf.read("README.md").decode()
        rdf = YAML(typ="safe").load(zf.read("rdf.yaml"))
    assert len(cover) < 500_000
    with PILImage.open(io.BytesIO(cover)) as image:
        assert image.size[0] in (image.size[1], 2 * image.size[1]), image.size
    for heading in ("Model description", "Intended use", "Training", "Validation", "How to run", "Limitations",
                    "Citation", "License"):
        assert re.search(rf"^## {heading}$", readme, re.M), heading
    metrics_row = {"care-hela-nuclei-denoising": r"frame 16, 3 photons \| [0-9.]+ \| 26\.\d\d"}.get(
        package.stem, r"[a-z0-9]+, 3 photons \(\d held-out\) \| [0-9.]+ \| [0-9.]+")
    assert re.search(rf"^\| {metrics_row} \|", readme, re.M)  # measured metrics
    assert not re.search(r"\(https?://github\.com/?\)", readme)
    assert "use the ONNX weights" in readme and "evaluation.json" in [a["source"] for a in rdf["attachments"]]
    # what deepImageJ 3 reads (JDLL DeepImageJExecutionConfig.build): booleans cast with (boolean), `prediction`
    # a map whose preprocess/postprocess entries run nothing when their spec is null
    deepimagej = rdf["config"]["deepimagej"]
    assert deepimagej["pyramidal_model"] is False and deepimagej["allow_tiling"] is True
    assert deepimagej["prediction"] == {"preprocess": [{"spec": None}], "postprocess": [{"spec": None}]}
    assert "test_information" not in deepimagej or isinstance(deepimagej["test_information"], dict)


def test_shipped_hela_model_beats_raw_on_a_held_out_frame():
    package = Path(__file__).resolve().parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"
    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs([frames[19][:384, :384]], SynthConfig(photons=[10.0], seed=77))
    restored = restore(package, lows[0], progress=False).image
    raw, care = score(highs[0], lows[0]), score(highs[0], restored)
    assert care.psnr > raw.psnr + 8 and care.ssim > 0.8, (raw, care)

"""Packages ready for a bioimage.io upload: a GitHub maintainer set offline, test_model without warnings in every
weight format, documentation with the sections reviewers look for, a cover under 500 KB at 2:1."""

import re
import shutil

import pytest
from PIL import Image as PILImage
from ruyaml import YAML

from carekit.cli import main
from carekit.zoo.package import build_package
from carekit.zoo.validate import WEIGHT_FORMATS, check_package
from tests.conftest import synthetic_pairs

EVALUATION = {"rows": [{"name": "held-out-1", "raw": {"psnr": 18.25, "ssim": 0.412},
                        "care": {"psnr": 27.5, "ssim": 0.871}}]}


@pytest.fixture(scope="module")
def upload_package(tiny_model, tmp_path_factory):
    sample = synthetic_pairs(1, shape=(200, 200), seed=11)[0][0]
    out = tmp_path_factory.mktemp("upload") / "upload.zip"
    return build_package(tiny_model, out, name="upload-ready test model", sample=sample, evaluation=EVALUATION,
                         maintainers=("carekit-dev",))


def test_maintainer_package_passes_test_model_without_warnings(upload_package):
    assert upload_package.test_results == {fmt: "passed" for fmt in WEIGHT_FORMATS}
    assert upload_package.warnings == {fmt: [] for fmt in WEIGHT_FORMATS}
    rdf = YAML(typ="safe").load((upload_package.folder / "rdf.yaml").read_text())
    assert rdf["maintainers"] == [{"github_user": "carekit-dev"}]
    assert rdf["license"] == "CC-BY-4.0" and rdf["cite"][0]["doi"] == "10.1038/s41592-018-0216-7"
    assert {"care", "denoising", "2d", "onnx"} <= set(rdf["tags"])
    files = [rdf["documentation"], *rdf["covers"], *rdf["weights"].values(), rdf["inputs"][0]["test_tensor"]]
    assert all(len(entry["sha256"]) == 64 for entry in files), files  # hashes recorded although built offline


def test_without_maintainer_test_model_warns(upload_package, tmp_path):
    """The same package with its maintainers removed: the warning bioimage.io reviewers would see comes back."""
    folder = shutil.copytree(upload_package.folder, tmp_path / "no-maintainer")
    rdf = folder / "rdf.yaml"
    text = rdf.read_text()
    stripped = re.sub(r"maintainers:\n(  - .*\n(    .*\n)*)+", "", text)
    assert stripped != text
    rdf.write_text(stripped)
    results, warnings = check_package(rdf, formats=("onnx",))
    assert results == {"onnx": "passed"}
    assert any("maintainers" in w and "github_user" in w for w in warnings["onnx"]), warnings


def test_readme_has_the_review_sections_and_no_placeholder_links(upload_package):
    readme = (upload_package.folder / "README.md").read_text()
    for heading in ("## Model description", "## Intended use", "## Input and output", "## Training",
                    "## Validation", "## How to run", "## Limitations", "## Citation", "## License"):
        assert re.search(rf"^{heading}$", readme, re.M), heading
    assert "| held-out-1 | 18.25 | 27.50 | 0.412 | 0.871 |" in readme
    assert not re.search(r"\(https?://github\.com/?\)", readme)
    assert re.search(r"deepImageJ: use the ONNX weights.*TensorFlow 2\.10", readme)


def test_cover_is_2_to_1_and_under_500_kb(upload_package):
    cover = upload_package.folder / "cover.png"
    assert cover.stat().st_size < 500_000
    with PILImage.open(cover) as image:
        assert image.size[0] == 2 * image.size[1]


def test_bad_maintainer_name_is_refused_before_any_work(tiny_model, tmp_path, capsys):
    code = main(["package", "--model", str(tiny_model), "--out", str(tmp_path / "p.zip"), "--maintainer", "not a user"])
    assert code == 2
    assert "GitHub user name" in capsys.readouterr().err
    assert not (tmp_path / "p.zip").exists()


def test_cover_of_pure_noise_stays_under_500_kb(tmp_path, rng):
    """Noise is the worst case for PNG compression (a full-colour PNG of this figure is ~525 KB)."""
    from carekit.zoo.docs import cover

    path = cover(rng.random((256, 256)), rng.random((256, 256)), tmp_path / "cover.png")
    assert path.stat().st_size < 500_000
    with PILImage.open(path) as image:
        assert image.size == (800, 400)

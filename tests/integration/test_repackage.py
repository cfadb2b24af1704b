"""`carekit package --from-package`: an existing carekit package packaged again with the current packager and a
maintainer, without retraining; the result passes bioimageio.core test_model without warnings (offline)."""

import numpy as np
import pytest
from ruyaml import YAML

from carekit.cli import main
from carekit.models.package_files import unpack
from carekit.predict import restore
from carekit.zoo.validate import WEIGHT_FORMATS, check_package
from tests.conftest import synthetic_pairs
from tests.foreign_package import write_foreign_package


@pytest.fixture(scope="module")
def repackaged(tiny_package, tmp_path_factory):
    out = tmp_path_factory.mktemp("repackaged") / "with-maintainer.zip"
    assert main(["package", "--from-package", str(tiny_package), "--maintainer", "carekit-dev",
                 "--out", str(out)]) == 0
    return out


@pytest.mark.slow  # packaging and test_model of three weight formats: ~2 min here
def test_repackaged_zip_has_the_maintainer_and_passes_without_warnings(repackaged, tiny_package):
    results, warnings = check_package(repackaged)
    assert results == {fmt: "passed" for fmt in WEIGHT_FORMATS}
    assert warnings == {fmt: [] for fmt in WEIGHT_FORMATS}
    new, old = (YAML(typ="safe").load((unpack(p) / "rdf.yaml").read_text()) for p in (repackaged, tiny_package))
    assert new["maintainers"] == [{"github_user": "carekit-dev"}] and old["maintainers"] == []
    assert (new["name"], new["description"], new["authors"], new["tags"]) == \
        (old["name"], old["description"], old["authors"], old["tags"])


@pytest.mark.slow
def test_repackaged_weights_restore_as_before(repackaged, tiny_package):
    image = synthetic_pairs(1, shape=(120, 136), seed=71)[0][0]
    np.testing.assert_allclose(restore(repackaged, image, progress=False).image,
                               restore(tiny_package, image, progress=False).image, atol=1e-5)


def test_a_package_not_made_by_carekit_is_refused_in_one_line(tmp_path, capsys):
    rdf = write_foreign_package(tmp_path)
    assert main(["package", "--from-package", str(rdf), "--out", str(tmp_path / "out.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert "was not made by carekit" in err and "\n" not in err
    assert not (tmp_path / "out.zip").exists()

"""The deepImageJ engine refuses carekit packages whose network needs carekit's Z zoom (isotropic, axial
upsampling) and says when it cannot apply a package's own rescale mode: fiji-scripts/lib/carekit_fiji/package_kind.py
(Jython 2.7 / CPython 3 common code) under CPython."""

import zipfile
from pathlib import Path

import pytest

from tests.jython_helpers import load_helper

SHIPPED = Path(__file__).resolve().parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"

RDF = """type: model
config:
  carekit:
    block_version: 2
    axes: {axes}
    domain:
      kind: not-the-model-kind
      z_factor: 9.0
    kind: {kind}
    z_factor: {z_factor}
  deepimagej:
    allow_tiling: true
"""


@pytest.fixture(scope="module")
def package_kind():
    return load_helper("package_kind")


@pytest.mark.parametrize("kind, z_factor, refused", [("isotropic", 4.0, "an isotropic carekit model"),
                                                     ("care", 2.0, "an axial-upsampling carekit model"),
                                                     ("care", 1.0, None), ("projection", 1.0, None)])
def test_models_that_need_the_z_zoom_are_refused(package_kind, tmp_path, kind, z_factor, refused):
    (tmp_path / "bioimageio.yaml").write_text(RDF.format(axes="YX", kind=kind, z_factor=z_factor))
    problem = package_kind.deepimagej_problem(package_kind.description_text(str(tmp_path)))
    if refused is None:
        assert problem is None
    else:
        assert refused in problem and "use engine=python" in problem


def test_the_block_reads_direct_children_only(package_kind):
    block = package_kind.carekit_block(RDF.format(axes="ZYX", kind="care", z_factor=1.0))
    assert block == {"block_version": "2", "axes": "ZYX", "kind": "care", "z_factor": "1.0"}


def test_the_shipped_package_runs_in_deepimagej(package_kind, tmp_path):
    zipfile.ZipFile(SHIPPED).extractall(tmp_path)
    text = package_kind.description_text(str(tmp_path))
    assert package_kind.carekit_block(text)["axes"] == "YX" and package_kind.deepimagej_problem(text) is None


def test_deepimagej_says_it_does_not_apply_the_generalists_own_modes(package_kind):
    with zipfile.ZipFile(SHIPPED.with_name("care-generalist-nuclei-denoising.zip")) as zf:
        generalist = zf.read("rdf.yaml").decode()
    with zipfile.ZipFile(SHIPPED) as zf:
        hela = zf.read("rdf.yaml").decode()
    note = package_kind.deepimagej_modes_note(generalist, True, True)
    assert "with rescale search and the classical blend by default, which deepImageJ does not apply" in note
    assert "restored by the model alone at the image's own scale" in note and "engine=python" in note
    assert "rescale search by default" in package_kind.deepimagej_modes_note(generalist, True, False)
    assert "with the classical blend by default" in package_kind.deepimagej_modes_note(generalist, False, True)
    assert package_kind.deepimagej_modes_note(generalist, False, False) is None  # turned off: nothing to say
    assert package_kind.deepimagej_modes_note(hela, True, True) is None  # no mode of its own

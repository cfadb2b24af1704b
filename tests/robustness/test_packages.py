"""Hostile and damaged bioimage.io packages: nothing is written outside the cache, sizes are bounded, weights are
verified, concurrent first opens do not race (issue 14, items 6, 7 and 9)."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ruyaml import YAML

from carekit.cli import main
from carekit.errors import InputError
from carekit.io import write_image

SHIPPED = Path(__file__).parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"
TF_ZIP = "care_tf_saved_model.zip"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CAREKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def package(tmp_path) -> Path:
    """The shipped package, unzipped into a folder nested three levels deep (room for ../../../ paths)."""
    folder = tmp_path / "a" / "b" / "c" / "pkg"
    with zipfile.ZipFile(SHIPPED) as zf:
        zf.extractall(folder)
    return folder


@pytest.fixture
def image(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    return write_image(tmp_path / "in" / "img.tif", rng.poisson(20, (64, 64)).astype(np.uint16))


def edit_rdf(folder: Path, change) -> None:
    yaml = YAML(typ="safe")
    rdf = yaml.load((folder / "rdf.yaml").read_text())
    change(rdf)
    with (folder / "rdf.yaml").open("w") as fh:
        yaml.dump(rdf, fh)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def zip_folder(folder: Path, out: Path, extra=()) -> Path:
    """Zip `folder`'s files, then add (ZipInfo or name, bytes) entries."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
        for info, data in extra:
            zf.writestr(info, data)
    return out


def predict(capsys, model, image, out, *extra) -> tuple[int, str]:
    rc = main(["predict", "--model", str(model), str(image), "--out", str(out), "--quiet", *extra])
    return rc, capsys.readouterr().err


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob(".*partial*")) if cache.exists() else []


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_tf_weights_outside_the_package_are_refused(package, image, tmp_path, capsys, where):
    victim = tmp_path / "a" / "outside" / "victim.zip"
    victim.parent.mkdir(parents=True)
    shutil.copy(package / TF_ZIP, victim)  # same bytes, so the recorded sha256 matches
    source = "../../../outside/victim.zip" if where == "relative" else str(victim)
    edit_rdf(package, lambda rdf: rdf["weights"]["tensorflow_saved_model_bundle"].update(source=source))
    rc, err = predict(capsys, package, image, tmp_path / "out", "--engine", "tensorflow")
    assert rc == 2 and "outside" in err and "Traceback" not in err, err
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim.zip"]


def test_symlinked_weight_file_is_refused(package, image, tmp_path, capsys):
    real = tmp_path / "elsewhere.zip"
    shutil.move(package / TF_ZIP, real)
    (package / TF_ZIP).symlink_to(real)
    rc, err = predict(capsys, package, image, tmp_path / "out", "--engine", "tensorflow")
    assert rc == 2 and "symbolic link" in err, err


def test_tf_weights_are_extracted_into_the_cache_only(package, image, tmp_path, cache, capsys):
    """A symlink where the SavedModel used to be unzipped (beside the weight file) must not receive its files."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (package / "care_tf_saved_model").symlink_to(outside, target_is_directory=True)
    rc, err = predict(capsys, package, image, tmp_path / "out", "--engine", "tensorflow")
    assert rc == 0, err
    assert list(outside.iterdir()) == []
    assert list((cache / "saved_models").glob("*/saved_model.pb"))


def test_weight_file_must_match_its_sha256(package, image, tmp_path, capsys):
    with (package / "care.onnx").open("ab") as fh:
        fh.write(b"\0")
    rc, err = predict(capsys, package, image, tmp_path / "out")
    assert rc == 2 and "sha256" in err, err


def test_garbage_onnx_weights_give_a_clear_error(package, image, tmp_path, capsys):
    (package / "care.onnx").write_bytes(b"this is not an onnx model" * 100)
    edit_rdf(package, lambda rdf: rdf["weights"]["onnx"].update(sha256=sha256(package / "care.onnx")))
    rc, err = predict(capsys, package, image, tmp_path / "out")
    assert rc == 2 and "cannot load the onnx weights care.onnx" in err and "Traceback" not in err, err


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    return info


@pytest.mark.parametrize("entry, message", [("../evil.txt", "outside"), ("/tmp/evil.txt", "outside"),
                                            (_symlink_entry(), "symbolic link")])
def test_zip_slip_entries_are_refused(package, image, tmp_path, cache, capsys, entry, message):
    bad = zip_folder(package, tmp_path / "bad.zip", [(entry, b"/etc/passwd")])
    rc, err = predict(capsys, bad, image, tmp_path / "out")
    assert rc == 2 and message in err, err
    assert not (tmp_path / "evil.txt").exists() and not (cache / "evil.txt").exists()
    assert not list((cache / "packages").iterdir())


def test_zip_slip_inside_the_tf_weights_is_refused(package, tmp_path, cache):
    from carekit.models import load_model

    with zipfile.ZipFile(package / TF_ZIP, "a") as zf:
        zf.writestr("../../evil.txt", b"x")
    edit_rdf(package, lambda rdf: rdf["weights"]["tensorflow_saved_model_bundle"].update(
        sha256=sha256(package / TF_ZIP)))
    model = load_model(package, engine="tensorflow")
    with pytest.raises(InputError, match="outside the package"):
        model.forward(np.zeros((1, 64, 64, 1), np.float32))
    assert not list(tmp_path.rglob("evil.txt"))
    assert not list((cache / "saved_models").iterdir())


def test_decompression_bomb_is_refused_and_nothing_is_left(package, image, tmp_path, cache, capsys):
    bomb = zip_folder(package, tmp_path / "bomb.zip", [("zeros.bin", bytes(200 << 20))])
    assert bomb.stat().st_size < 8 << 20
    rc, err = predict(capsys, bomb, image, tmp_path / "out")
    assert rc == 2 and "decompression bomb" in err, err
    assert not list((cache / "packages").iterdir())


def test_size_limit_is_checked_before_extracting(tmp_path):
    from carekit.models.safety import safe_extract

    with pytest.raises(InputError, match="more than the limit"):
        safe_extract(SHIPPED, tmp_path / "target", max_bytes=1 << 20)
    assert list(tmp_path.iterdir()) == []


def test_entry_larger_than_declared_is_corrupt_and_cleaned_up(tmp_path, cache, capsys, image):
    """An entry whose content is longer than its declared size: extraction stops with a clear error, no leftovers."""
    data = bytearray(SHIPPED.read_bytes())
    with zipfile.ZipFile(SHIPPED) as zf:
        info = zf.getinfo("care.onnx")
    name = b"care.onnx"
    pos = data.index(b"PK\x01\x02")
    while data[pos + 46:pos + 46 + len(name)] != name:
        pos = data.index(b"PK\x01\x02", pos + 4)
    data[pos + 24:pos + 28] = (info.file_size // 2).to_bytes(4, "little")
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(data))
    rc, err = predict(capsys, lying, image, tmp_path / "out")
    assert rc == 2 and "corrupt" in err, err
    assert leftovers(cache) == [] and not list((cache / "packages").iterdir())


def _alias_bomb(levels: int) -> str:
    lines = ['b0: &b0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly(package, image, tmp_path, capsys):
    rdf = package / "rdf.yaml"
    rdf.write_text(rdf.read_text() + _alias_bomb(8))
    start = time.perf_counter()
    rc, err = predict(capsys, package, image, tmp_path / "out")
    assert rc == 2 and "aliases" in err, err
    assert time.perf_counter() - start < 10


def test_few_aliases_and_oversized_rdf(package, tmp_path):
    from carekit.models.safety import check_rdf

    rdf = package / "rdf.yaml"
    original = rdf.read_text()
    rdf.write_text(original + _alias_bomb(2))  # 90 nodes: harmless
    check_rdf(rdf)
    rdf.write_text(original + "# padding\n" * 200_000)
    with pytest.raises(InputError, match="at most 1 MiB"):
        check_rdf(rdf)


@pytest.mark.parametrize("text, message", [("name: [unclosed\n", "not valid YAML"),
                                           ("- just\n- a list\n", "not a valid bioimage.io model"),
                                           ("\xff\xfe garbage", "not valid YAML")])
def test_malformed_rdf_gives_one_clear_line(package, image, tmp_path, capsys, text, message):
    (package / "rdf.yaml").write_bytes(text.encode("latin-1"))
    rc, err = predict(capsys, package, image, tmp_path / "out")
    assert rc == 2 and message in err and "Traceback" not in err, err


def test_validate_of_a_missing_file(tmp_path, capsys):
    rc = main(["validate", str(tmp_path / "missing.zip")])
    err = capsys.readouterr().err
    assert rc == 2 and "not found" in err and len(err.strip().splitlines()) == 1, err


RACE = """
import sys, time
from pathlib import Path
from carekit.models.package_files import unpack
go = Path(sys.argv[2])
Path(sys.argv[3]).touch()
while not go.exists():
    time.sleep(0.001)
print(unpack(sys.argv[1]))
"""


def test_concurrent_first_opens_do_not_race(tmp_path, cache):
    """Five processes open the same package for the first time at the same moment (issue: 3 of 5 failed)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "python"), "CAREKIT_CACHE": str(cache)}
    for trial in range(2):
        shutil.rmtree(cache, ignore_errors=True)
        go = tmp_path / f"go{trial}"
        ready = [tmp_path / f"ready{trial}-{i}" for i in range(5)]
        procs = [subprocess.Popen([sys.executable, "-c", RACE, str(SHIPPED), str(go), str(r)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
        deadline = time.time() + 120
        while not all(r.exists() for r in ready) and time.time() < deadline:
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 5, [err[-500:] for _, err in results]
        folders = {out.strip() for out, _ in results}
        assert len(folders) == 1
        folder = Path(folders.pop())
        with zipfile.ZipFile(SHIPPED) as zf:
            assert sorted(p.name for p in folder.iterdir()) == sorted(zf.namelist())
        assert leftovers(cache) == []

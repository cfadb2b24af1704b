"""The deepImageJ engine's unzip (fiji-scripts/lib/carekit_fiji/unzip.py, Jython 2.7 / CPython 3 common code) run
under CPython: unsafe entries are refused before anything is written, extraction is all or nothing.
tests/fiji/test_imagej_unzip.py runs the same file in real ImageJ + Jython."""

import stat
import zipfile
from pathlib import Path

import pytest

from tests.jython_helpers import load_helper


@pytest.fixture(scope="module")
def unzip():
    return load_helper("unzip")


def _zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


PLAIN = 0o100644
GOOD = [("bioimageio.yaml", b"name: m\n", PLAIN), ("weights/model.onnx", b"\x00" * 1000, PLAIN),
        ("docs/", b"", stat.S_IFDIR | 0o755)]


@pytest.mark.parametrize("name", ["rdf.yaml", "./rdf.yaml", "weights/model.onnx", "a/b/c.npy", "docs/", "x..y"])
def test_plain_entries_pass(unzip, name):
    assert unzip.entry_problem(name, PLAIN) is None


@pytest.mark.parametrize("name, says", [
    ("../evil.txt", "points outside the package"), ("a/../../evil.txt", "points outside the package"),
    ("/etc/evil", "points outside the package"), ("..\\evil.txt", "points outside the package"),
    ("\\evil.txt", "points outside the package"), ("C:/evil.txt", "points outside the package"),
    ("a\0b", "points outside the package"), ("", "without a name"), ("./", "without a name")])
def test_unsafe_names_are_refused(unzip, name, says):
    assert says in unzip.entry_problem(name, PLAIN)


def test_symbolic_links_are_refused(unzip):
    assert "symbolic link 'link'" in unzip.entry_problem("link", stat.S_IFLNK | 0o777)


def test_extracts_once_into_the_cache_by_content(unzip, tmp_path):
    package = _zip(tmp_path / "m.zip", GOOD)
    root = tmp_path / "cache"
    folder = Path(unzip.extract(str(package), str(root)))
    assert folder.parent == root and len(folder.name) == 16
    assert (folder / "weights" / "model.onnx").read_bytes() == b"\x00" * 1000 and (folder / "docs").is_dir()
    (folder / "marker").write_text("kept")
    assert Path(unzip.extract(str(package), str(root))) == folder and (folder / "marker").exists()
    assert sorted(p.name for p in root.iterdir()) == [folder.name]  # no partial folder left


@pytest.mark.parametrize("bad, says", [
    (("../../evil.txt", b"x", PLAIN), "holds the entry '../../evil.txt' that points outside the package"),
    (("/tmp/zoo13-evil.txt", b"x", PLAIN), "holds the entry '/tmp/zoo13-evil.txt' that points outside"),
    (("link", b"/etc/passwd", stat.S_IFLNK | 0o777), "holds the symbolic link 'link'")])
def test_malicious_zip_is_refused_and_nothing_is_written(unzip, tmp_path, bad, says):
    package = _zip(tmp_path / "evil.zip", GOOD[:1] + [bad] + GOOD[1:])
    root = tmp_path / "deep" / "cache"
    with pytest.raises(unzip.UnzipError) as raised:
        unzip.extract(str(package), str(root))
    message = str(raised.value)
    assert says in message and "refusing to extract it" in message and "\n" not in message
    assert not root.exists() and not (tmp_path / "evil.txt").exists() and not Path("/tmp/zoo13-evil.txt").exists()


def test_failure_midway_leaves_nothing_behind(unzip, tmp_path):
    package = _zip(tmp_path / "m.zip", GOOD)
    data = bytearray(package.read_bytes())
    at = data.index(b"\x00" * 1000)
    data[at + 500] = 1  # the second file fails its CRC check after the first was written
    package.write_bytes(bytes(data))
    root = tmp_path / "cache"
    with pytest.raises(unzip.UnzipError, match="cannot extract .*m.zip"):
        unzip.extract(str(package), str(root))
    assert list(root.iterdir()) == []


def test_not_a_zip_and_too_large_are_one_line_errors(unzip, tmp_path):
    (tmp_path / "x.zip").write_text("not a zip")
    with pytest.raises(unzip.UnzipError, match="x.zip is a corrupt or unsupported zip"):
        unzip.extract(str(tmp_path / "x.zip"), str(tmp_path / "cache"))
    with zipfile.ZipFile(_zip(tmp_path / "m.zip", GOOD)) as zf:
        with pytest.raises(unzip.UnzipError, match="would expand to 0.00 GiB, more than the limit"):
            unzip.check_entries("m.zip", zf.infolist(), max_bytes=100)


def test_cache_root_follows_carekit_cache(unzip, monkeypatch, tmp_path):
    monkeypatch.setenv("CAREKIT_CACHE", str(tmp_path))
    assert unzip.cache_root() == str(tmp_path / "deepimagej")

"""Checks on untrusted package content before anything opens it: zip entries and sizes (extracted atomically into
the cache only), the size and alias expansion of the description
(bioimageio.yaml, *.bioimageio.yaml or rdf.yaml), and each weight file's path and sha256."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import EnvironmentProblem, InputError

MAX_UNPACKED_BYTES = 2 << 30
MAX_COMPRESSION_RATIO = 100  # model weights barely compress; a zip expanding 100x beyond 100 MiB is a bomb
BOMB_MIN_BYTES = 100 << 20
MAX_RDF_BYTES = 1 << 20
MAX_YAML_NODES = 100_000  # a real rdf has a few hundred; aliases must not expand it beyond this


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_zip(zf: zipfile.ZipFile, source: Path, free_bytes: int, max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse entries that would land outside the target folder (absolute, `..`, symbolic links) and archives whose
    declared content exceeds `max_bytes` or half the free disk space, or that expand like a decompression bomb
    (an entry or the whole beyond BOMB_MIN_BYTES at more than MAX_COMPRESSION_RATIO)."""
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise InputError(f"{source} holds the entry {info.filename!r} that points outside the package; refusing "
                             "to extract it (the archive is damaged or malicious)")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(f"{source} holds a symbolic link {info.filename!r}; refusing to extract it (packages "
                             "must hold plain files)")
    declared = sum(info.file_size for info in zf.infolist())
    sizes = [(info.file_size, info.compress_size) for info in zf.infolist()]
    for size, compressed in sizes + [(declared, sum(c for _, c in sizes))]:
        if size > BOMB_MIN_BYTES and size > MAX_COMPRESSION_RATIO * max(1, compressed):
            raise InputError(f"{source} expands {compressed / 2**20:.1f} MiB to {_gib(size)}: refusing a likely "
                             "decompression bomb")
    limit = min(max_bytes, free_bytes // 2)
    if declared > limit:
        raise InputError(f"{source} would expand to {_gib(declared)}, more than the limit of {_gib(limit)} "
                         f"(at most {_gib(max_bytes)} and half the free disk space); free disk space or extract it "
                         "yourself and give the folder")


def safe_extract(source: Path, target: Path, required: str | None = None, max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Extract the zip `source` to the folder `target` through a unique temporary folder beside it, renamed
    atomically: concurrent extractions never see each other's partial files, the first rename wins and the others
    discard theirs. Nothing is left behind on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        raise EnvironmentProblem(f"the cache entry {target} is a symbolic link; delete it and try again")
    try:
        with zipfile.ZipFile(source) as zf:
            if required is not None and required not in zf.namelist():
                raise InputError(f"{source} holds no {required} at its top level: it is not a complete bioimage.io "
                                 "package (or SavedModel zip)")
            check_zip(zf, source, shutil.disk_usage(target.parent).free, max_bytes)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
            try:
                _extract_members(zf, tmp)
                _publish(tmp, target, required)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as err:
        raise InputError(f"{source} is a corrupt or unsupported zip ({err}); download or export it again") from err
    except OSError as err:
        raise EnvironmentProblem(f"cannot extract {source} into {target.parent}: {err}") from err
    return target


def _extract_members(zf: zipfile.ZipFile, folder: Path) -> None:
    # zipfile never yields more than an entry's declared size (and checks its CRC), so check_zip's total bounds
    # what is written here.
    for info in zf.infolist():
        dest = folder.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
        if info.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, dest.open("xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except FileExistsError as err:
            raise InputError(f"{zf.filename} holds {info.filename!r} twice; the archive is damaged") from err


def _publish(tmp: Path, target: Path, required: str | None) -> None:
    try:
        os.rename(tmp, target)
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        # another process finished first: its copy has the same content (same hash in the name), keep it
        if required is not None and not (target / required).exists():
            raise EnvironmentProblem(f"the cache entry {target} is incomplete; delete it and try again") from err


def check_rdf(path: Path) -> None:
    """Refuse a description file (whatever its name) that is not a regular file, too large, not YAML, or whose
    aliases expand it beyond MAX_YAML_NODES nodes (a 'billion laughs' bomb), before bioimageio.spec parses it."""
    from ruyaml import YAML, events
    from ruyaml.error import YAMLError

    if not path.is_file():
        raise InputError(f"{path} is not a regular file")
    size = path.stat().st_size
    if size > MAX_RDF_BYTES:
        raise InputError(f"{path} is {size / 2**20:.1f} MiB; a model description is at most {MAX_RDF_BYTES >> 20} MiB")
    sizes: dict[str, int] = {}
    stack = [[None, 0]]
    total = 0
    try:
        for event in YAML(typ="safe").parse(io.StringIO(path.read_text(encoding="utf-8"))):
            if isinstance(event, events.AliasEvent):
                if event.anchor not in sizes:
                    raise InputError(f"{path} is not valid YAML: alias *{event.anchor} has no anchor")
                count = sizes[event.anchor]
            elif isinstance(event, (events.ScalarEvent, events.CollectionStartEvent)):
                count = 1
            elif isinstance(event, events.CollectionEndEvent):
                anchor, count = stack.pop()
                stack[-1][1] += count
                if anchor is not None:
                    sizes[anchor] = count
                continue
            else:
                continue
            total += count
            if total > MAX_YAML_NODES:
                raise InputError(f"{path} expands to more than {MAX_YAML_NODES} YAML nodes through aliases; refusing "
                                 "it (a model description needs a few hundred)")
            if isinstance(event, events.CollectionStartEvent):
                stack.append([event.anchor, 1])
            else:
                stack[-1][1] += count
                if isinstance(event, events.ScalarEvent) and event.anchor is not None:
                    sizes[event.anchor] = 1
    except (YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"{path} is not valid YAML: {str(err).splitlines()[0] if str(err) else err}") from err


def weight_file(root: Path, source, sha256: str | None) -> Path:
    """The weight file `source` (as the rdf names it) inside the package folder `root`, refusing URLs, absolute
    paths, paths leaving the package and symbolic links; its sha256 must match the rdf's where that records one."""
    if "://" in str(source):
        raise InputError(f"the package's weights are at the URL {source}, which carekit does not download; download "
                         "the file into the package folder and name it in the description")
    name = str(getattr(source, "path", source))
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "://" in name or name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise InputError(f"the package names the weight file {name!r} outside its folder; refusing it "
                         "(weights must be files inside the package)")
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise InputError(f"the weight file {name!r} of the package goes through the symbolic link {path}; "
                             "refusing it (weights must be plain files inside the package)")
    if not path.is_file():
        raise InputError(f"weight file missing from the package: {name}; the package is incomplete")
    if sha256 is not None and sha256_file(path) != str(sha256):
        raise InputError(f"the weight file {name} does not match the sha256 its description records; the package is "
                         "damaged or was modified: download or export it again")
    return path

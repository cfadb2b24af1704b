"""Safe extraction of a model package zip for the deepImageJ engine, in the subset of Python that runs under both
Jython 2.7 and CPython 3 (unit-tested under CPython, run in ImageJ by the plugin). As carekit's own
models/safety.py: entries that would land outside the folder (absolute, '..', drive letters) and symbolic links are
refused before anything is written; the zip is extracted once into a unique temporary folder inside the cache
folder and renamed to its cache entry (keyed by the zip's sha256), so no half-extracted package is ever used or
left behind."""

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile

MAX_UNPACKED_BYTES = 2 << 30


class UnzipError(Exception):
    pass


def cache_root():
    """The folder deepImageJ packages are extracted into: $CAREKIT_CACHE (else ~/.cache/carekit)/deepimagej."""
    base = os.environ.get("CAREKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "carekit")
    return os.path.join(base, "deepimagej")


def entry_problem(name, mode):
    """Why the zip entry `name` (unix file mode `mode`, from its external attributes) must not be extracted; None
    when it is a plain file or folder inside the package."""
    path = name.replace("\\", "/")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/") or ".." in parts or (parts and ":" in parts[0]) or "\0" in path:
        return "holds the entry '%s' that points outside the package" % name
    if stat.S_ISLNK(mode):
        return "holds the symbolic link '%s' (packages must hold plain files)" % name
    if not parts:
        return "holds an entry without a name"
    return None


def check_entries(source, infos, max_bytes=MAX_UNPACKED_BYTES):
    """Refuse the archive `source` (one line saying why) when an entry is unsafe or the whole expands beyond
    `max_bytes`."""
    for info in infos:
        problem = entry_problem(info.filename, info.external_attr >> 16)
        if problem is not None:
            raise UnzipError("%s %s; refusing to extract it (the archive is damaged or malicious)" % (source, problem))
    declared = sum(info.file_size for info in infos)
    if declared > max_bytes:
        raise UnzipError("%s would expand to %.2f GiB, more than the limit of %.2f GiB; extract it yourself and give "
                         "the folder" % (source, declared / 2.0 ** 30, max_bytes / 2.0 ** 30))


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        chunk = stream.read(1 << 20)
        while chunk:
            digest.update(chunk)
            chunk = stream.read(1 << 20)
    return digest.hexdigest()


def extract(source, root=None):
    """The folder holding the files of the zip `source`: root/<sha256[:16]>, extracted on first use."""
    root = root or cache_root()
    target = os.path.join(root, sha256_file(source)[:16])
    if os.path.islink(target):
        raise UnzipError("the cache entry %s is a symbolic link; delete it and try again" % target)
    if os.path.isdir(target):
        return target
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipfile, zipfile.LargeZipFile, EOFError) as error:
        raise UnzipError("%s is a corrupt or unsupported zip (%s); download or export it again" % (source, error))
    try:
        infos = archive.infolist()
        check_entries(source, infos)
        if not os.path.isdir(root):
            os.makedirs(root)
        partial = tempfile.mkdtemp(prefix="." + os.path.basename(target) + ".partial-", dir=root)
        try:
            for info in infos:
                _write(archive, info, partial)
            _publish(partial, target)
        finally:
            shutil.rmtree(partial, True)
    except (zipfile.BadZipfile, EOFError, IOError, OSError) as error:
        raise UnzipError("cannot extract %s into %s (%s)" % (source, root, error))
    finally:
        archive.close()
    return target


def _write(archive, info, folder):
    parts = [part for part in info.filename.replace("\\", "/").split("/") if part not in ("", ".")]
    dest = os.path.join(folder, *parts)
    if info.filename.endswith("/"):
        if not os.path.isdir(dest):
            os.makedirs(dest)
        return
    if os.path.lexists(dest):
        raise UnzipError("%s holds '%s' twice; the archive is damaged" % (archive.filename, info.filename))
    if not os.path.isdir(os.path.dirname(dest)):
        os.makedirs(os.path.dirname(dest))
    # zipfile never yields more than an entry's declared size (and checks its CRC): check_entries bounds the total
    source = archive.open(info)
    try:
        with open(dest, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    finally:
        source.close()


def _publish(partial, target):
    try:
        os.rename(partial, target)
    except OSError:
        if not os.path.isdir(target):  # else another run finished first with the same content (same hash): keep it
            raise

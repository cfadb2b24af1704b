"""Writing outputs without losing data: every file appears under its final name complete or not at all, results
never replace an input, and an output folder is checked before any work is done."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from .errors import EnvironmentProblem, InputError


def _sibling(path: Path, kind: str) -> Path:
    """A hidden name next to `path` (same file system, so a rename is atomic); it keeps the suffix, which some
    writers look at (np.save, tifffile), and its leading dot keeps it out of folder listings."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}{path.suffix}")


def _write_failed(path: Path, err: OSError, existed: bool) -> EnvironmentProblem:
    kept = "the previous file is unchanged" if existed else "nothing was written"
    return EnvironmentProblem(f"cannot write {path}: {err.strerror or err}; {kept}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` for a writer to fill; on success it replaces `path` in one rename
    (a symbolic link at `path` is replaced, never followed), on any failure it is removed and `path` is untouched."""
    path = Path(path)
    existed = path.exists() or path.is_symlink()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = _sibling(path, "partial")
        os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # mode as for any new file (umask)
    except OSError as err:
        raise _write_failed(path, err, existed) from err
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise _write_failed(path, err, existed) from err
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as temp:
        temp.write_text(text)
    return Path(path)


def copy_file(source: str | Path, path: str | Path) -> Path:
    with atomic_path(path) as temp:
        shutil.copyfile(source, temp)
    return Path(path)


@contextlib.contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `folder`; on success it takes the place of `folder` (the old one is
    moved aside first and deleted after), on failure it is deleted and `folder` is untouched."""
    folder = Path(folder)
    temp = _sibling(folder, "partial")
    try:
        temp.mkdir(parents=True)
        yield temp
        old = _sibling(folder, "old")
        if folder.exists() or folder.is_symlink():
            os.replace(folder, old)
        os.replace(temp, folder)
        if old.is_symlink() or old.is_file():
            old.unlink()
        elif old.exists():
            shutil.rmtree(old)
    except OSError as err:
        shutil.rmtree(temp, ignore_errors=True)
        raise EnvironmentProblem(f"cannot write the folder {folder}: {err.strerror or err}") from err
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def prepare_output_folder(folder: str | Path) -> Path:
    """Create `folder` if needed and check that a file can be written there (before any work is done)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the output folder {folder} is an existing file; give a folder for the results")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise InputError(f"cannot write into the output folder {folder} ({err.strerror or err}); "
                         "choose a folder you can write to") from err
    return folder


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def check_targets(planned: Iterable[tuple[Path, Path]], inputs: Iterable[str | Path]) -> None:
    """Refuse, in one line listing every problem, a plan of (output file, input it comes from) where an output
    would replace an input, is a symbolic link, or is written by more than one input."""
    inputs = [Path(p) for p in inputs]
    input_names = {os.path.realpath(p) for p in inputs}
    input_ids = {i for i in map(_identity, inputs) if i is not None}
    sources: dict[str, list[Path]] = {}
    problems = []
    for target, source in planned:
        key = os.path.realpath(target.parent) + os.sep + target.name
        if key in sources:
            sources[key].append(source)
            continue
        sources[key] = [source]
        if target.is_symlink():
            problems.append(f"{target} is a symbolic link (to {os.readlink(target)}); carekit does not write "
                            "through links: remove it or choose another output folder")
        elif target.is_dir():
            problems.append(f"{target} is a folder; remove it or choose another output folder")
        elif key in input_names or _identity(target) in input_ids:
            problems.append(f"the result of {source} would overwrite the input {target}; choose another output folder")
    problems += [f"{len(group)} results would be written to {key} (from {', '.join(map(str, group))}); restore "
                 "them into separate output folders" for key, group in sources.items() if len(group) > 1]
    if problems:
        raise InputError("nothing was written: " + "; ".join(problems))

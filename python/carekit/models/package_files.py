"""Open bioimage.io packages (zip, folder or rdf.yaml): extract a zip once into the cache, check the rdf and the
weight files before anything reads them, and load the model description."""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .safety import check_rdf, check_zip, safe_extract, sha256_file, weight_file


def cache_dir() -> Path:
    return Path(os.environ.get("CAREKIT_CACHE", Path.home() / ".cache" / "carekit"))


def package_cache_dir() -> Path:
    return cache_dir() / "packages"


def unpack(source: str | Path) -> Path:
    """The folder holding rdf.yaml: a zip is extracted once into the cache (keyed by its content hash) and its
    rdf.yaml checked (size, YAML aliases) before anything else reads it."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"model package not found: {source}")
    if source.is_dir():
        if not (source / "rdf.yaml").exists():
            raise InputError(f"{source} is neither a carekit model folder (carekit.json) nor a bioimage.io package (rdf.yaml)")
        root = source
    elif not source.is_file():
        raise InputError(f"{source} is not a regular file; give a bioimage.io package (.zip), its folder or its rdf.yaml")
    elif source.name.endswith(".yaml"):
        root = source.parent
    elif not zipfile.is_zipfile(source):
        raise InputError(f"{source} is not a zip file; give a bioimage.io package (.zip), its folder or its rdf.yaml")
    else:
        root = package_cache_dir() / sha256_file(source)[:16]
        if not (root / "rdf.yaml").exists():
            safe_extract(source, root, required="rdf.yaml")
    check_rdf(root / "rdf.yaml")
    return root


def load_description(root: Path, source: str | Path):
    """The model description of an unpacked package (bioimageio.spec), as a clear error when it is not one."""
    from bioimageio.spec import InvalidDescr, load_model_description

    try:
        descr = load_model_description(root / "rdf.yaml", perform_io_checks=False)
    except ValueError as err:
        raise InputError(f"{source} is not a valid bioimage.io model: {str(err).splitlines()[0]}") from err
    if isinstance(descr, InvalidDescr):
        raise InputError(f"{source} is not a valid bioimage.io model: {descr.validation_summary.format()}")
    if getattr(descr, "weights", None) is None:
        raise InputError(f"{source} describes a {getattr(descr, 'type', 'resource')}, not a model")
    return descr


@dataclass(frozen=True)
class OpenedPackage:
    """A package as given (`source`), the folder holding its files (`root`) and its model description."""

    source: str | Path
    root: Path
    descr: object

    def carekit_block(self) -> dict | None:
        """The rdf's `config.carekit` block (raw), None for packages not made by carekit."""
        config = getattr(self.descr, "config", None)
        return (getattr(config, "model_extra", None) or {}).get("carekit")

    def checked_weights(self, weight_format: str | None = None) -> dict[str, Path]:
        """The weight files that may run (`weight_format`, or every one when None): each inside the package, no
        symbolic link, and matching its recorded sha256."""
        weights = self.descr.weights
        formats = [weight_format] if weight_format else list(type(weights).model_fields)
        entries = {fmt: getattr(weights, fmt, None) for fmt in formats}
        return {fmt: weight_file(self.root, w.source, getattr(w, "sha256", None))
                for fmt, w in entries.items() if w is not None}

    def check_weight_zips(self, weight_format: str | None = None) -> None:
        """Also check the content of zipped weights (e.g. a SavedModel) that bioimageio.core will unzip itself."""
        for path in self.checked_weights(weight_format).values():
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    check_zip(zf, path, shutil.disk_usage(self.root).free)


def open_package(source: str | Path) -> OpenedPackage:
    root = unpack(source)
    return OpenedPackage(source, root, load_description(root, source))

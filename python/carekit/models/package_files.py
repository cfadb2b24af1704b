"""Open bioimage.io packages (zip, folder or the description file: bioimageio.yaml, *.bioimageio.yaml or rdf.yaml,
spec 0.4 and 0.5): extract a zip once into the cache, check the description and the weight files before anything
reads them, and load the model description."""

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


RDF_NAMES = ("bioimageio.yaml", "rdf.yaml")  # spec 0.5 name first, then the 0.4 one; also *.bioimageio.yaml
ACCEPTED = ("a bioimage.io package (.zip), its folder or its description file (bioimageio.yaml, *.bioimageio.yaml "
            "or rdf.yaml)")


def is_rdf_name(name: str) -> bool:
    return name in RDF_NAMES or name.endswith(".bioimageio.yaml")


def rdf_name(names) -> str | None:
    """The model description among the file names of a package's top level: bioimageio.yaml, else the single
    *.bioimageio.yaml, else rdf.yaml; None when there is none (an error when several *.bioimageio.yaml compete)."""
    names = set(names)
    named = sorted(n for n in names if n.endswith(".bioimageio.yaml"))
    if "bioimageio.yaml" in names:
        return "bioimageio.yaml"
    if len(named) > 1:
        raise InputError(f"the package holds several descriptions {named}; give the one to run")
    return named[0] if named else ("rdf.yaml" if "rdf.yaml" in names else None)


def folder_rdf(folder: Path) -> Path | None:
    """The description file of a package folder (see rdf_name), None when it has none."""
    name = rdf_name(p.name for p in folder.iterdir() if is_rdf_name(p.name))
    return None if name is None else folder / name


def locate(source: str | Path) -> Path:
    """The description file of a package given as zip, folder or that file: a zip is extracted once into the cache
    (keyed by its content hash); the file is checked (size, YAML aliases) before anything else reads it."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"model package not found: {source}")
    if source.is_dir():
        rdf = folder_rdf(source)
        if rdf is None:
            raise InputError(f"{source} is neither a carekit model folder (carekit.json) nor a bioimage.io package "
                             f"(bioimageio.yaml, *.bioimageio.yaml or rdf.yaml)")
    elif not source.is_file():
        raise InputError(f"{source} is not a regular file; give {ACCEPTED}")
    elif source.suffix in (".yaml", ".yml"):
        if not is_rdf_name(source.name):
            raise InputError(f"{source.name} is not a bioimage.io description name; give {ACCEPTED}")
        rdf = source
    elif not zipfile.is_zipfile(source):
        raise InputError(f"{source} is not a zip file; give {ACCEPTED}")
    else:
        rdf = _extracted_rdf(source)
    check_rdf(rdf)
    return rdf


def _extracted_rdf(source: Path) -> Path:
    try:
        with zipfile.ZipFile(source) as zf:
            name = rdf_name(n for n in zf.namelist() if "/" not in n and is_rdf_name(n))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as err:
        raise InputError(f"{source} is a corrupt or unsupported zip ({err}); download or export it again") from err
    if name is None:
        raise InputError(f"{source} holds no bioimageio.yaml, *.bioimageio.yaml or rdf.yaml at its top level: it is "
                         "not a bioimage.io package")
    root = package_cache_dir() / sha256_file(source)[:16]
    if not (root / name).exists():
        safe_extract(source, root, required=name)
    return root / name


def unpack(source: str | Path) -> Path:
    """The folder holding the package's files (see locate)."""
    return locate(source).parent


def load_description(rdf: Path, source: str | Path):
    """The model description in the file `rdf` (bioimageio.spec; format 0.4 is converted to the latest 0.5, which
    bioimageio.core tiles with halos), as a clear error when it is not one."""
    from bioimageio.spec import InvalidDescr, load_model_description

    try:
        descr = load_model_description(rdf, perform_io_checks=False)
        if str(getattr(descr, "format_version", "")).startswith("0.4"):
            descr = load_model_description(rdf, perform_io_checks=False, format_version="latest")
    except ValueError as err:
        reason = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        raise InputError(f"{source} is not a valid bioimage.io model: {reason[:500]}") from err
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

    def checked_attachment(self, name: str) -> Path:
        """The attached file `name` (checked like a weight file); an InputError when the package lacks it."""
        entry = next((a for a in getattr(self.descr, "attachments", None) or []
                      if Path(str(getattr(a.source, "path", a.source))).name == name), None)
        if entry is None:
            raise InputError(f"{self.source} lacks its attached file {name}; export the package again")
        return weight_file(self.root, entry.source, getattr(entry, "sha256", None))

    def check_weight_zips(self, weight_format: str | None = None) -> None:
        """Also check the content of zipped weights (e.g. a SavedModel) that bioimageio.core will unzip itself."""
        for path in self.checked_weights(weight_format).values():
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as zf:
                    check_zip(zf, path, shutil.disk_usage(self.root).free)


def open_package(source: str | Path) -> OpenedPackage:
    rdf = locate(source)
    return OpenedPackage(source, rdf.parent, load_description(rdf, source))

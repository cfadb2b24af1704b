"""Re-package an existing carekit package with the current packager (new docs, cover, maintainers) without
retraining: the model folder is rebuilt from the package's carekit.json and Keras weights."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..config import BEST_WEIGHTS, MODEL_CONFIG_FILE, ModelRecord
from ..errors import InputError
from ..models.package_files import open_package
from .package import PackageResult, build_package

EVALUATION_FILE = "evaluation.json"


def repackage(source: str | Path, out_zip: str | Path, maintainers: tuple[str, ...] = (),
              evaluation: dict | None = None, sample: str | Path | None = None, description: str | None = None,
              record_update: dict | None = None) -> PackageResult:
    """`source` (a carekit package: zip, folder or description file) packaged again as `out_zip` with the same
    name, description, authors, tags, weights and test image; `maintainers` (GitHub user names) are added to the
    package's own. The metrics of the Validation section come from `evaluation`, else from the package's
    evaluation.json. `sample` replaces the package's test image (e.g. a stack for an isotropic package made before
    isotropic packages held one), `description` its description, and `record_update` sets fields of its
    carekit.json (ModelRecord; e.g. the generalist's own prediction modes)."""
    package = open_package(source)
    if package.carekit_block() is None or not (package.root / MODEL_CONFIG_FILE).is_file():
        raise InputError(f"{source} was not made by carekit (no config.carekit and {MODEL_CONFIG_FILE}); only carekit "
                         "packages can be re-packaged")
    kind = ModelRecord.load(package.root).kind
    if kind not in ("care", "isotropic"):  # before the weights: a projection package has no keras_hdf5 to rebuild from
        raise InputError(f"re-packaging supports CARE models, not {kind!r} ones; package the model folder "
                         "with `carekit package --model`")
    descr = package.descr
    network = package.carekit_block().get("network_weights") or {}  # Z-zoom packages attach the bare network
    weights = (package.checked_attachment(network["keras_hdf5"]) if "keras_hdf5" in network
               else package.checked_weights("keras_hdf5")["keras_hdf5"])
    formats = tuple(fmt for fmt in ("keras_hdf5", "tensorflow_saved_model_bundle", "onnx")
                    if getattr(descr.weights, fmt, None) is not None)
    if evaluation is None and (package.root / EVALUATION_FILE).is_file():
        evaluation = json.loads((package.root / EVALUATION_FILE).read_text(encoding="utf-8"))
    own = tuple(m.github_user for m in (descr.maintainers or ()))
    with tempfile.TemporaryDirectory(prefix="carekit-repackage-") as tmp:
        model_dir = _model_folder(package.root, weights, Path(tmp) / "model")
        if record_update:
            record = ModelRecord.load(model_dir)
            ModelRecord.model_validate({**record.model_dump(), **record_update}).save(model_dir)
        own_sample = package.root / "sample_input.tif"
        sample = sample if sample is not None else (own_sample if own_sample.is_file() else None)
        return build_package(model_dir, out_zip, name=descr.name, description=description or descr.description,
                             authors=tuple(a.name for a in descr.authors), formats=formats,
                             sample=sample, evaluation=evaluation,
                             unzipped_folder=False, tags=tuple(descr.tags),
                             maintainers=tuple(dict.fromkeys(own + tuple(maintainers))))


def _model_folder(root: Path, weights: Path, model_dir: Path) -> Path:
    """A carekit model folder (carekit.json, csbdeep config.json, weights_best.h5, history.png) from a package."""
    record = ModelRecord.load(root)
    from ..train.callbacks import save_weights
    from ..train.care import build_care

    care = build_care(record.train.model_copy(update={"precision": "fp32"}), model_dir)  # packages hold fp32
    shutil.copy(root / MODEL_CONFIG_FILE, model_dir / MODEL_CONFIG_FILE)
    if (root / "history.png").is_file():
        shutil.copy(root / "history.png", model_dir / "history.png")
    try:
        care.keras_model.load_weights(str(weights))
    except (ValueError, KeyError, OSError) as err:
        raise InputError(f"cannot load the Keras weights of the package ({str(err).splitlines()[0]})") from err
    save_weights(care.keras_model, model_dir / BEST_WEIGHTS)
    return model_dir

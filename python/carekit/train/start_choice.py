"""Fine-tuning's fallback to its start after the fact: when the starting weights are estimated to restore the user's
images better than the fine-tuned ones (carekit compare, `--compare-on`), they become the model's best weights again,
described as the start describes them, and the fine-tuned best is set aside, not lost."""

from __future__ import annotations

from pathlib import Path

from ..config import BEST_WEIGHTS, ModelRecord
from ..errors import InputError
from ..safe_write import copy_file

START_WEIGHTS = "weights_start.h5"  # the starting weights in this model's network, saved when fine-tuning begins
FINE_TUNED_WEIGHTS = "weights_fine_tuned.h5"


def describe_as_start(record: ModelRecord, start: ModelRecord) -> None:
    """The record of a model whose best weights are its start's: the start's own rescale mode and classical blend
    and, where it recorded them, its training statistics and pixel size (what prediction's warnings compare with)."""
    record.rescale, record.classical_blend = start.rescale, start.classical_blend
    if start.domain:  # a start that recorded no statistics (older models) leaves the user's
        record.domain, record.pixel_size = dict(start.domain), dict(start.pixel_size)


def check_start_kept(model_dir: str | Path) -> None:
    """An InputError unless the model folder holds its starting weights (fine-tuned by an older carekit, it does not)."""
    if not (Path(model_dir) / START_WEIGHTS).is_file():
        raise InputError(f"{model_dir} has no {START_WEIGHTS} (it was fine-tuned by an older carekit), so it cannot "
                         "return to its starting weights; compare the two with carekit compare --model START "
                         f"{model_dir} IMAGES... and use the better one")


def return_to_start(model_dir: str | Path, start: ModelRecord) -> Path:
    """Make the starting weights the model's best again (weights_best.h5) and describe it as `start`; the fine-tuned
    best weights are copied to weights_fine_tuned.h5 first (every file written whole before it replaces another).
    For a model whose best weights are the fine-tuned ones (not TrainResult.kept_start). Returns that file."""
    model_dir = Path(model_dir)
    check_start_kept(model_dir)
    record = ModelRecord.load(model_dir)
    set_aside = copy_file(model_dir / BEST_WEIGHTS, model_dir / FINE_TUNED_WEIGHTS)
    copy_file(model_dir / START_WEIGHTS, model_dir / BEST_WEIGHTS)
    if not start.domain:  # the user's statistics stay, but not the uncertainty level of the fine-tuned weights
        record.domain = {k: v for k, v in record.domain.items() if k != "scale"}
    describe_as_start(record, start)
    record.start_chosen_on_images = True
    record.save(model_dir)
    return set_aside

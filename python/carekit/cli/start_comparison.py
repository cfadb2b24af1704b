"""`--compare-on IMAGES` of `carekit train --from` and `carekit finetune`: once fine-tuning has beaten its start on
the validation patches, compare the two on the user's noisy images as `carekit compare` does, and return to the
starting weights where they are estimated to restore those images better (train.start_choice)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .compare import UNITS, judged_image, middle_crop, model_names, verdict


def add_compare_on_arg(p) -> None:
    p.add_argument("--compare-on", nargs="+", metavar="IMAGE",
                   help="noisy TIFFs or OME-Zarr images, best those you will restore and not the training images: "
                        "after fine-tuning, estimate from them alone (as carekit compare does) whether the new "
                        "weights or the starting model restore them better; where the start is better on some and "
                        "the new weights on none, the model returns to the starting weights (the fine-tuned ones "
                        "are kept as weights_fine_tuned.h5). Read and checked before training starts")


@dataclass(frozen=True)
class StartComparison:
    start: str  # the starting model as the user named it
    runner: object  # its runner (models.runner.ModelRunner)
    record: object  # its carekit.json (config.ModelRecord): what the model is described by if it returns to it
    images: tuple  # (path, the central crop of its middle plane) per image


def prepared(start: str | None, paths: list[str] | None, axes: str | None = None) -> StartComparison | None:
    """Before training: the starting model checked for the comparison and the images read, so that a model or an image
    the comparison cannot take is refused now, not after the training; None without --compare-on."""
    if not paths:
        return None
    from ..config import ModelRecord
    from ..errors import InputError
    from ..models import load_model
    from ..predict.rescale import refuse_unless_2d_denoising
    from .train_from import resolve

    if not start:
        raise InputError("--compare-on compares a fine-tuned model with the model it starts from: give that model "
                         "(train: --from MODEL_OR_ZIP, finetune: --pretrained MODEL)")
    runner = load_model(start)
    refuse_unless_2d_denoising(runner, "--compare-on (comparing models on noisy images)", "the starting model")
    images = tuple((path, middle_crop(path, axes)) for path in paths)
    return StartComparison(start, runner, ModelRecord.load(resolve(start)[0]), images)


def judged(result, comparison: StartComparison) -> str:
    """The lines on how the fine-tuned model in `result` (a train.care.TrainResult) and its start compare on the
    images; returns the model to its starting weights where the start wins."""
    if result.kept_start:
        return "--compare-on: nothing to compare, the model's best weights are still the starting weights"
    from ..predict.model_comparison import comparable_runners
    from ..train.start_choice import return_to_start

    names = model_names(comparison.start, str(result.model_dir))
    runners = comparable_runners(comparison.runner, result.model_dir)
    tally, lines = Counter(), [f"--compare-on: {UNITS}"]
    for path, crop in comparison.images:
        better, line = judged_image(runners, names, path, lambda: crop)
        tally[better] += 1
        lines.append(line)
    lines.append(verdict(tally, names))
    if tally[0] and not tally[1]:
        set_aside = return_to_start(result.model_dir, comparison.record)
        lines.append(f"{result.model_dir} returns to the starting weights: weights_best.h5 are theirs again (the "
                     f"fine-tuned ones: {set_aside.name}){_mode(comparison.record)}")
    else:
        lines.append(f"{result.model_dir} keeps its fine-tuned weights")
    return "\n".join(lines)


def _mode(start_record) -> str:
    return f", and so is their default rescale {start_record.rescale}" if start_record.rescale else ""

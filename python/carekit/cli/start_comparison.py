"""`--compare-on IMAGES` of `carekit train --from`, `carekit finetune` and `carekit selfsup --pretrained`: once
fine-tuning has beaten its start on the validation patches, compare the two on the user's noisy images as `carekit
compare` does, and return to the starting weights where they are estimated to restore those images better
(train.start_choice)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..data.hot_pixel_images import KEEP
from .compare import UNITS, judged_image, middle_crop, model_names, verdict
from .train_report import modes_text


def add_compare_on_arg(p) -> None:
    p.add_argument("--compare-on", nargs="+", metavar="IMAGE",
                   help="noisy TIFFs or OME-Zarr images, best those you will restore and not the training images: "
                        "after fine-tuning, estimate from them alone (as carekit compare does) whether the new "
                        "weights or the starting model restore them better; where the start is named better on more "
                        "of them than the new weights, the model returns to the starting weights (the fine-tuned "
                        "ones are kept as weights_fine_tuned.h5). Read and checked before training starts")


@dataclass(frozen=True)
class StartComparison:
    start: str  # the starting model as the user named it
    runner: object  # its models.runner.ModelRunner
    record: object  # its config.ModelRecord: what the model is described by if it returns to it
    images: tuple  # (path, the central crop of its middle plane: an io.Image) per image


def prepared(start: str | None, paths: list[str] | None, resumed: str | None = None, hot_pixels: str = KEEP
             ) -> StartComparison | None:
    """Before training: the starting model checked for the comparison and the images read and checked, so that what
    the comparison cannot take is refused now, not after the training; None without --compare-on. `resumed`: the
    model folder being resumed (it must hold its starting weights); `hot_pixels` 'replace': the images are judged
    with their hot pixels replaced, as `carekit predict --hot-pixels replace` restores them (predict's default:
    as they are)."""
    if not paths:
        return None
    from ..config import ModelRecord
    from ..data.recorrupt import variance_map
    from ..errors import InputError
    from ..models import load_model
    from ..predict.rescale import refuse_unless_2d_denoising
    from ..train.start_choice import check_start_kept
    from .train_from import resolve

    if not start:
        raise InputError("--compare-on compares a fine-tuned model with the model it starts from: give that model "
                         "(train: --from MODEL_OR_ZIP, finetune and selfsup: --pretrained MODEL)")
    if resumed:
        check_start_kept(resumed)
    runner = load_model(start)
    refuse_unless_2d_denoising(runner, "--compare-on (comparing models on noisy images)", "the starting model")
    images = tuple((path, middle_crop(path, None, hot_pixels)) for path in paths)
    for path, crop in images:
        try:
            variance_map(crop.data)
        except InputError as err:
            raise InputError(f"--compare-on cannot judge {path}: {err}") from None
    return StartComparison(start, runner, ModelRecord.load(resolve(start)[0]), images)


def start_wins(tally: Counter) -> bool:
    """Whether the start (0) is to be kept over the new weights (1), from the images' verdicts (0, 1, None: level):
    one model must be kept, so the one named better on more images; on a tie, the new weights, which beat the start
    on validation."""
    return tally[0] > tally[1]


def choose_on_images(result, comparison: StartComparison) -> str:
    """Compare the fine-tuned model in `result` (a train.care.TrainResult) with its start on the images and return
    the model to its starting weights where the start wins; the lines that say so."""
    if result.kept_start:
        return "--compare-on: nothing to compare, the model's best weights are still the starting weights"
    from ..predict.model_comparison import comparable_runners
    from ..train.start_choice import return_to_start

    names = model_names(comparison.start, str(result.model_dir))
    runners = comparable_runners(comparison.runner, result.model_dir)
    tally, lines = Counter(), [f"--compare-on: {UNITS}"]
    for path, crop in comparison.images:
        better, line = judged_image(runners, names, path, lambda image=crop: image)
        tally[better] += 1
        lines.append(line)
    lines.append(verdict(tally, names))
    votes = (f"the starting model named better on {tally[0]} of {len(comparison.images)} images, the new weights "
             f"on {tally[1]}")
    if start_wins(tally):
        set_aside = return_to_start(result.model_dir, comparison.record)
        modes = modes_text(comparison.record)
        mode = f", with its default {modes}" if modes else ""
        lines.append(f"{votes}: {result.model_dir} returns to the starting weights and now restores as {names[0]} "
                     f"does{mode} (weights_best.h5 are theirs again; the fine-tuned ones: {set_aside.name})")
    else:
        lines.append(f"{votes}: {result.model_dir} keeps its fine-tuned weights")
    return "\n".join(lines)

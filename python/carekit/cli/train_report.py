"""What carekit train and finetune print about the model they trained (a train.care.TrainResult)."""

from __future__ import annotations

from shlex import quote


def summary(result, epochs_note: str = "", loss_name: str = "validation loss", start_rescale: str | None = None,
            start: str | None = None, compared: bool = False) -> str:
    """`start_rescale`: the starting model's own rescale mode (ModelRecord.rescale), if any; `start`: the starting
    model as the user named it, if known; `compared`: the two are compared next (--compare-on), so the lines do not
    say how to."""
    note = start_note(result, start_rescale, start, compared)
    return (f"model: {result.model_dir}\n  epochs trained: {result.epochs_done}{epochs_note}, best {loss_name} "
            f"{result.best_val_loss:.4f}{note}\n  history: {result.history_plot}")


def start_note(result, start_rescale: str | None = None, start: str | None = None, compared: bool = False) -> str:
    """The lines on what fine-tuning did against its starting weights; '' for a model not started from another."""
    if result.start_val_loss is None:
        return ""
    if result.kept_start and result.best_val_loss < result.start_val_loss:
        kept_mode = f"; the model keeps the start's default rescale {start_rescale}" if start_rescale else ""
        return (f"\n  weights_best.h5 are still the starting weights, chosen on your images (--compare-on) over the "
                f"fine-tuned weights of validation loss {result.best_val_loss:.4f} (the best above, kept as "
                f"weights_fine_tuned.h5), which no epoch since beat{kept_mode}")
    if result.kept_start:
        mode = f", and so is its default rescale {start_rescale}" if start_rescale else ""
        return (f"\n  fine-tuning never beat the starting weights' validation loss {result.start_val_loss:.4f}: "
                f"weights_best.h5 are still theirs{mode} (more or more varied data, more epochs or a lower learning "
                "rate may help)")
    note = f"\n  improved on the starting weights' validation loss {result.start_val_loss:.4f}"
    if start_rescale and not compared:
        note += (f"\n  the starting model restores with rescale {start_rescale} by default, this one at your images' "
                 "own scale, and the validation loss compares them at that scale only, on patches of the training "
                 "images: to choose, compare them on noisy images neither was trained on (estimated from the images "
                 f"alone): carekit compare --model {quote(start or 'STARTING_MODEL')} {quote(str(result.model_dir))} "
                 "IMAGES... (`carekit evaluate` where you have clean references)")
    return note

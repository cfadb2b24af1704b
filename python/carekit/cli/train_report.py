"""What carekit train and finetune print about the model they trained (a train.care.TrainResult)."""

from __future__ import annotations

from shlex import quote


def modes_text(record) -> str:
    """The prediction modes a model (a ModelRecord) applies unless told otherwise, as the output names them ('' for
    none): e.g. 'rescale search and the classical blend'."""
    modes = ([f"rescale {record.rescale}"] if record.rescale else []) + \
        (["the classical blend"] if record.classical_blend else [])
    return " and ".join(modes)


def summary(result, epochs_note: str = "", loss_name: str = "validation loss", start_modes: str = "",
            start: str | None = None, compared: bool = False) -> str:
    """`start_modes`: the starting model's own prediction modes (modes_text), if any; `start`: the starting model as
    the user named it, if known; `compared`: the two are compared next (--compare-on), so the lines do not say how
    to."""
    note = start_note(result, start_modes, start, compared)
    return (f"model: {result.model_dir}\n  epochs trained: {result.epochs_done}{epochs_note}, best {loss_name} "
            f"{result.best_val_loss:.4f}{note}\n  history: {result.history_plot}")


def start_note(result, start_modes: str = "", start: str | None = None, compared: bool = False) -> str:
    """The lines on what fine-tuning did against its starting weights; '' for a model not started from another."""
    if result.start_val_loss is None:
        return ""
    if result.kept_start and result.best_val_loss < result.start_val_loss:
        kept_mode = f"; the model keeps the start's default {start_modes}" if start_modes else ""
        return (f"\n  weights_best.h5 are still the starting weights, chosen on your images (--compare-on) over the "
                f"fine-tuned weights of validation loss {result.best_val_loss:.4f} (the best above, kept as "
                f"weights_fine_tuned.h5), which no epoch since beat{kept_mode}")
    if result.kept_start:
        mode = f", and so is what it does by default ({start_modes})" if start_modes else ""
        return (f"\n  fine-tuning never beat the starting weights' validation loss {result.start_val_loss:.4f}: "
                f"weights_best.h5 are still theirs{mode} (more or more varied data, more epochs or a lower learning "
                "rate may help)")
    note = f"\n  improved on the starting weights' validation loss {result.start_val_loss:.4f}"
    if start_modes and not compared:
        note += (f"\n  the starting model restores with {start_modes} by default, this one without (carekit "
                 "predict's --rescale and --classical-blend ask for them), and the validation loss compares the "
                 "models alone at your images' own scale, on patches of the training images: to choose, compare "
                 "them on noisy images neither was trained on (estimated from the images "
                 f"alone): carekit compare --model {quote(start or 'STARTING_MODEL')} {quote(str(result.model_dir))} "
                 "IMAGES... (`carekit evaluate` where you have clean references)")
    return note

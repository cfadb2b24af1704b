"""What carekit train and finetune print about the model they trained (a train.care.TrainResult)."""

from __future__ import annotations


def summary(result, epochs_note: str = "", loss_name: str = "validation loss") -> str:
    return (f"model: {result.model_dir}\n  epochs trained: {result.epochs_done}{epochs_note}, best {loss_name} "
            f"{result.best_val_loss:.4f}{start_note(result)}\n  history: {result.history_plot}")


def start_note(result) -> str:
    """The line on what fine-tuning did against its starting weights; '' for a model not started from another."""
    if result.start_val_loss is None:
        return ""
    if result.kept_start:
        return (f"\n  fine-tuning never beat the starting weights' validation loss {result.start_val_loss:.4f}: "
                "weights_best.h5 are still theirs (more or more varied data, more epochs or a lower learning rate "
                "may help)")
    return f"\n  improved on the starting weights' validation loss {result.start_val_loss:.4f}"

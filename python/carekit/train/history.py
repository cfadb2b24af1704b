"""Training history: read history.csv and plot loss, MAE and learning rate per epoch (no TensorFlow needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return np.nan


def read(path: str | Path) -> dict[str, np.ndarray]:
    """Column -> values per epoch; empty or unreadable cells (a damaged file) read as NaN."""
    path = Path(path)
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {key: np.array([_number(r.get(key)) for r in rows]) for key in rows[0] if key is not None}


def columns(path: str | Path) -> list[str]:
    """The header of a history file; empty when the file is missing or empty."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return next(csv.reader(fh), [])


def best_value(path: str | Path, key: str) -> float:
    """The smallest finite value recorded in a column (inf when there is none)."""
    values = read(path).get(key, np.array([]))
    values = values[np.isfinite(values)]
    return float(values.min()) if len(values) else float("inf")


def last_learning_rate(path: str | Path) -> float | None:
    """The learning rate of the last recorded epoch as written (may be NaN in a damaged file); None if absent."""
    values = read(path).get("learning_rate")
    return float(values[-1]) if values is not None and len(values) else None


def plot_history(csv_path: str | Path, png_path: str | Path) -> Path:
    """Three panels as in the semi-synthetic CARE paper's Fig. 1: loss, MAE, learning rate (log) per epoch."""
    from matplotlib.figure import Figure

    data = read(csv_path)
    epochs = data.get("epoch", np.array([]))
    fig = Figure(figsize=(12, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, key, title in [(axes[0], "loss", "loss"), (axes[1], "mae", "mean absolute error")]:
        for prefix, style in [("", "-"), ("val_", "--")]:
            if prefix + key in data:
                ax.plot(epochs, data[prefix + key], style, marker=".", label="validation" if prefix else "training")
        ax.set(title=title, xlabel="epoch")
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {title} recorded", ha="center", va="center", transform=ax.transAxes, color="0.5")
    if "learning_rate" in data:
        axes[2].semilogy(epochs, data["learning_rate"], marker=".")
    axes[2].set(title="learning rate", xlabel="epoch")
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=100)
    return png_path

"""How `carekit predict` names a restoration's extra outputs next to NAME.tif: the one rule that predict writes
and evaluate reads (the Fiji worker keeps them inside the image instead, as a channel axis C)."""

from __future__ import annotations

from pathlib import Path

EXTRA_SUFFIXES = {"scale": "_scale", "disagreement": "_disagreement"}


def extra_path(restored: str | Path, kind: str) -> Path:
    """NAME_scale.tif (Laplace scale of probabilistic models) or NAME_disagreement.tif (ensemble disagreement D,
    not a scale) next to the restored NAME.tif."""
    restored = Path(restored)
    return restored.with_name(f"{restored.stem}{EXTRA_SUFFIXES[kind]}.tif")

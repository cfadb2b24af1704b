"""Test-time augmentation (`tta`): a runner whose forward averages the network's outputs over its input rotated and
flipped in the two spatial axes before the channel (YX; as n2v's predict(tta=True) does), each output turned back
first. Isotropic models restore XZ/YZ planes whose blur runs along Z only, so for them only flips (a quarter turn
would put the blur across). Means and Laplace scales are averaged alike (the scale's median stays where it was).
Ensembles are refused: averaging each member over the transforms removes part of their disagreement, which is
judged against its level on validation data restored without them."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .runner import ModelRunner, PipelineRunner

TURNS_AND_FLIPS = tuple((turns, flip) for flip in (False, True) for turns in range(4))
FLIPS = tuple((turns, flip) for flip in (False, True) for turns in (0, 2))  # a half turn is a flip of both axes
SPATIAL = (-3, -2)  # (batch, [z,] y, x, channel): the two axes before the channel


def transforms_for(kind: str) -> tuple[tuple[int, bool], ...]:
    """(quarter turns, flip) pairs averaged for a model of `kind` (NetworkSpec.kind)."""
    return FLIPS if kind == "isotropic" else TURNS_AND_FLIPS


def averaged(forward, batch: np.ndarray, transforms: tuple[tuple[int, bool], ...]) -> np.ndarray:
    """The mean of forward(T(batch)) turned back by T's inverse, over the `transforms` T."""
    total = None
    for turns, flip in transforms:
        seen = np.rot90(batch, turns, axes=SPATIAL)
        seen = np.flip(seen, SPATIAL[1]) if flip else seen
        out = np.asarray(forward(np.ascontiguousarray(seen)), np.float32)
        out = np.rot90(np.flip(out, SPATIAL[1]) if flip else out, -turns, axes=SPATIAL)
        total = out.copy() if total is None else total + out
    return total / len(transforms)


def refuse_unless_augmentable(runner: ModelRunner) -> None:
    """One line for a model test-time augmentation cannot run: a package that normalizes and tiles by itself, or an
    ensemble (whose disagreement it would shrink)."""
    if isinstance(runner, PipelineRunner):
        raise InputError("test-time augmentation (tta) runs carekit's own models only: this package brings its own "
                         "pre/postprocessing and tiling; restore without tta")
    if runner.spec.ensemble_members:
        raise InputError("test-time augmentation (tta) is not for ensembles: averaging each member over turned and "
                         "flipped inputs shrinks their disagreement below what its warning is judged against; an "
                         "ensemble already averages its members: restore without tta")


class AugmentedRunner(ModelRunner):
    """`runner` with test-time augmentation: the same spec, forward averaged over transforms_for(its kind)."""

    def __init__(self, runner: ModelRunner):
        refuse_unless_augmentable(runner)
        self.runner, self.spec = runner, runner.spec
        self.transforms = transforms_for(runner.spec.kind)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return averaged(self.runner.forward, batch, self.transforms)


def tta_note(tta: bool, kind: str) -> str | None:
    """What the output line says of test-time augmentation for a model of `kind` (None without it)."""
    return f"test-time augmented: averaged over {len(transforms_for(kind))} turns and flips" if tta else None


def with_tta(runner: ModelRunner, tta: bool) -> ModelRunner:
    """`runner` with test-time augmentation when `tta`, else `runner` itself (never wrapped twice)."""
    return AugmentedRunner(runner) if tta and not isinstance(runner, AugmentedRunner) else runner

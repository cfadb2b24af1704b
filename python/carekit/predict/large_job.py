"""The plan of a distributed restoration (distributed.plan_large makes it, run_large_job carries it out), and the
plan it runs where the output or the workers' memory leave no other: a model's own classical blend left out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from ..data.hot_pixel_images import KEEP
from ..errors import InputError
from ..ngff import ArraySource
from ..ngff_write import OutputPlan, check_output
from .blend_large import memory_shortfall
from .chunks import ModelRef
from .classical_blend import warn_if_behind
from .domain_check import PredictionWarning
from .layouts import Layout


@dataclass(frozen=True)
class LargeJob:
    """A checked plan: the model to load on the workers, how its kind is chunked, the output's chunks (input
    coordinates) and halo, the output to write, the rescale factor (1: off), whether search chose it, hot_pixels
    (with "replace", `source` is read through hot_pixels.WithoutHotPixels), the classical blend of each channel and
    the task grid (the output's chunks, or whole YX planes where the blend mixes), and for a model's own blend that
    mixes (not asked for) the job without it, run where the workers lack the memory (fit_to_memory)."""

    ref: ModelRef
    source: ArraySource
    layout: Layout
    grid: tuple[int, ...]
    halo: int
    plan: OutputPlan | None  # None only while plan_large builds it
    factor: float = 1.0
    searched: bool = False
    hot_pixels: str = KEEP
    blends: tuple = ()
    task_grid: tuple[int, ...] | None = None
    fallback: LargeJob | None = None

    @property
    def tasks(self) -> tuple[int, ...]:
        return self.task_grid or self.grid


def job_to_run(client, job: LargeJob, overwrite: bool) -> LargeJob:
    """The job that restores into `job`'s output on the workers behind `client` (resumable, then fit_to_memory).
    Where the model's own blend could be left out (job.fallback), the estimate that the model alone is behind
    classical denoising is said here, once the blend is kept (plan_large says it for the others)."""
    chosen = resumable(job, overwrite)
    if chosen.task_grid:
        chosen = fit_to_memory(client, chosen, overwrite)
    if job.fallback is not None and chosen is not job.fallback:
        warn_if_behind(chosen.blends)
    return chosen


def fit_to_memory(client, job: LargeJob, overwrite: bool) -> LargeJob:
    """`job` (whose blend mixes) as it can run on the workers behind `client`: itself where they have the memory a
    blended task needs; else, before anything is written, its fallback (the model's own blend left out: the job
    plan_large made without it) with a PredictionWarning, or an InputError where the blend was asked for or the
    output is an unfinished blended run (never two restorations in one output)."""
    shortfall = memory_shortfall(client, job.source, job.task_grid)
    if shortfall is None:
        return job
    if job.fallback is None:
        raise InputError(f"the classical blend denoises whole YX planes: {shortfall}, or turn the blend off: "
                         "--no-classical-blend")
    if check_output(job.plan, overwrite):
        raise InputError(f"{job.plan.path} is an unfinished blended restoration, and {shortfall} to finish it so, "
                         "or --overwrite to restore it anew")
    warnings.warn(f"restored by the model alone, not blended: its default classical blend denoises whole YX planes, "
                  f"and {shortfall} to blend", PredictionWarning, stacklevel=4)
    return job.fallback


def resumable(job: LargeJob, overwrite: bool) -> LargeJob:
    """The job to run into its output (check_output): `job`, or its fallback where the output is an unfinished run
    of that (by the model alone, without its own blend), finished as it was started, with a PredictionWarning.
    check_output's InputError where neither can resume it."""
    try:
        check_output(job.plan, overwrite)
        return job
    except InputError:
        if job.fallback is None or not _resumes(job.fallback.plan):
            raise
    warnings.warn(f"{job.plan.path} was started by the model alone, without its default classical blend: resumed "
                  "so, not blended", PredictionWarning, stacklevel=3)
    return job.fallback


def _resumes(plan: OutputPlan) -> bool:
    try:
        return check_output(plan, overwrite=False)
    except InputError:
        return False

"""Restore an image of any size (OME-Zarr, Zarr, large TIFF) on a dask.distributed cluster into an OME-Zarr.

The same recipe as in-memory `restore` (plane_restore.restore_normalized), run chunk by chunk: every output chunk is
one task that reads the chunk grown by the model's halo, so tiling never changes the result (as restore's own tiles);
normalization uses each plane's/stack's percentiles computed over the whole plane/stack first (percentiles.py).
Tasks write their chunk themselves (the cluster never gathers the image), finished chunks are skipped on a rerun,
and the output is marked complete only once every chunk and the pyramid are written. With `rescale`, each chunk is
restored from the downsampled image around it and upsampled back (rescale_large), as restore(rescale=...) does."""

from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..models.augmentation import refuse_unless_augmentable
from ..models.runner import PipelineRunner
from ..ngff import ArraySource
from ..ngff_write import NGFF_VERSIONS, OutputPlan, finish, prepare_output
from ..normalize import DEGENERATE_RANGE_EPS
from ..progress import progress_bar
from ..resample import SPLINE_MARGIN
from ..tiling import round_up
from .blend_large import blend_grids, blend_record, large_blends
from .classical_blend import effective_blend, mixes, own_blend_fits, warn_if_behind
from .cluster import wait_tasks
from .chunks import ChunkTask, ModelRef, cached_model, check_distributable, output_names, run_chunk
from ..data.hot_pixel_images import KEEP, REPLACE, channel_samples, check_choice
from .hot_pixels import source_without_hot_pixels, warn_hot_pixels
from .large_checks import check_input, warn_summed
from .large_job import LargeJob, job_to_run
from .layouts import Layout, check_source, layout_of
from .package_stats import compute_package_stats
from .percentiles import EXACT_BYTES, compute_levels, plane_regions
from .rescale import MODEL, SEARCH, effective_rescale, refuse_unless_2d_denoising, refuse_unless_rescalable
from .rescale_large import DownscaledSource, large_factor, rescaled_task


@dataclass
class LargeRestoration:
    """What a distributed run did: chunks restored now and skipped (already done), seconds per chunk, the classical
    blend of each channel (empty: the model alone)."""

    path: Path
    chunks_total: int
    chunks_done_before: int
    chunk_seconds: list[float] = field(default_factory=list)
    blends: tuple = ()


def output_chunks(source: ArraySource, layout: Layout, halo: int) -> tuple[int, ...]:
    """The task grid (input coordinates): the input's chunking, grown on the halo axes to at least twice the halo
    (so a chunk's halo never needs more than its neighbours), the whole Z for kinds that need every plane."""
    least = 2 * halo
    return tuple(n if layout.full_z and a == "Z" else c if a not in layout.halo_axes or c >= least
                 else min(n, round_up(least, c)) for a, c, n in zip(source.axes, source.chunks, source.shape))


def chunk_tasks(source: ArraySource, layout: Layout, chunks: tuple[int, ...], halo: int, divisor: int,
                levels: list) -> list[ChunkTask]:
    """One task per chunk of the grid, with the percentile values of the planes/stacks it holds. The region read
    starts on a multiple of the network's `divisor` (its pooling grid), as restore's tiles do, or results would
    differ."""
    spatial, axes = layout.halo_axes, source.axes
    tasks = []
    for index in itertools.product(*[range(math.ceil(n / c)) for n, c in zip(source.shape, chunks)]):
        core = tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunks, source.shape))
        read = tuple(slice(max(0, s.start - s.start % divisor - halo), min(n, s.stop + halo)) if a in spatial else s
                     for s, a, n in zip(core, axes, source.shape))
        target = tuple(slice(0, layout.out_length(a, n)) if layout.full_z and a == "Z" else s
                       for s, a, n in zip(core, axes, source.shape) if a in layout.out_axes(axes))
        tasks.append(ChunkTask(".".join(map(str, index)), core, read, levels_in(source, layout, core, levels), target))
    return tasks


def levels_in(source: ArraySource, layout: Layout, core: tuple[slice, ...], levels: list) -> tuple:
    """The entries of `levels` (one per plane/stack, plane_regions order) of the planes/stacks in `core`."""
    extra = [i for i, a in enumerate(source.axes) if a not in layout.stack_axes]
    extra_shape = [source.shape[i] for i in extra]
    planes = itertools.product(*[range(core[i].start, core[i].stop) for i in extra])
    return tuple(levels[int(np.ravel_multi_index(p, extra_shape))] if extra else levels[0] for p in planes)


def output_plan(out: Path, source: ArraySource, layout: Layout, grid: tuple[int, ...], images: tuple[str, ...],
                about: dict, version: str = "0.4") -> OutputPlan:
    """The output image: the input's axes (Z dropped by projection), Z scaled by isotropic/upsampling models (its
    chunks too, its pixel size divided), the task grid's chunking on the other axes."""
    kept = [(a, n, c, g) for a, n, c, g in zip(source.axes, source.shape, source.chunks, grid)
            if a in layout.out_axes(source.axes)]
    shape = tuple(layout.out_length(a, n) for a, n, _, _ in kept)
    chunks = tuple(min(m, layout.out_length(a, c)) if layout.full_z and a == "Z" else g
                   for (a, _, c, g), m in zip(kept, shape))
    return OutputPlan(str(out), layout.out_axes(source.axes), shape, chunks, layout.out_pixel_size(source.pixel_size),
                      images, about, version)


def check_paths(source: ArraySource, out: Path) -> None:
    src, target = Path(source.path).resolve(), out.resolve()
    if target == src or src in target.parents or target in src.parents:
        raise InputError(f"--out {out} would overlap the input {source.path}; the input is never written to: give "
                         "an output path outside it")


def plan_large(model: str | Path, source: ArraySource, out: str | Path, engine: str | None = None,
               precision: str = "fp32", z_factor: float | None = None, ngff_version: str = "0.4",
               rescale: str | float | None = MODEL, hot_pixels: str = KEEP, tta: bool = False,
               classical_blend: bool | None = None) -> LargeJob:
    """Load the model here (once per process) and check that it can restore `source` into `out`, an OME-Zarr of
    `ngff_version` (`z_factor`: isotropic models, the stack's Z/XY pixel-size ratio when the metadata lack it;
    `rescale`: as restore's, 'auto' and 'search' judged on a sample: rescale_large.large_factor; `hot_pixels`:
    'replace' reads the source through hot_pixels.WithoutHotPixels, for every pass; `tta`: as restore's;
    `classical_blend`: as restore's (None: the model's own choice), whole YX planes per task where it mixes:
    blend_large; the model's own blend that mixes keeps the job without it as LargeJob.fallback)."""
    if ngff_version not in NGFF_VERSIONS:
        raise InputError(f"NGFF version {ngff_version!r} cannot be written; choose one of {NGFF_VERSIONS}")
    out = Path(out).resolve()  # the workers' working directory is theirs, not the caller's
    check_paths(source, out)
    if check_choice(hot_pixels) == REPLACE:
        source = source_without_hot_pixels(source)
    ref = ModelRef(str(Path(model).resolve()), engine, precision, tta)
    runner = cached_model(ref)
    if tta:
        refuse_unless_augmentable(runner)
    spec = runner.spec
    if not set(spec.axes) <= set(source.axes):
        raise InputError(f"the model needs axes {spec.axes}, the input {source.path} has axes {source.axes!r} "
                         f"(shape {source.shape}); give --axes naming every dimension")
    check_distributable(runner, several_planes=len(plane_regions(source, spec.axes)) > 1)
    if isinstance(runner, PipelineRunner) and spec.halo == 0:
        warnings.warn("this package declares no halo (context around its blocks): chunk borders may show seams; "
                      "if they do, predict in memory or ask its authors to declare the halo", stacklevel=2)
    layout = layout_of(spec)
    check_source(layout, spec, source.axes, source.shape, source.pixel_size, z_factor)
    blend = _large_blend(classical_blend, spec, source)
    if blend:  # before the rescale search runs the model
        refuse_unless_2d_denoising(runner, "--classical-blend")
    halo = round_up(spec.halo, spec.divisor)
    factor = _rescale_factor(rescale, runner, source)
    # rescaled, a chunk reads the halo and the upsampling's margin in downsampled pixels: factor times as wide
    grid = output_chunks(source, layout, halo if factor == 1 else math.ceil(factor * (halo + SPLINE_MARGIN)))
    blends = large_blends(runner, source, factor) if blend else ()
    alone = LargeJob(ref, source, layout, grid, halo, None, factor, effective_rescale(rescale, spec) == SEARCH,
                     hot_pixels)
    names = output_names(runner)
    alone = _planned(alone, out, names, ngff_version)
    if not blends:
        return alone
    chunks, task_grid = blend_grids(source, grid) if mixes(blends) else (grid, None)
    fallback = alone if task_grid and classical_blend is None else None  # the model's own blend: large_job
    if fallback is None:  # else said once the blend is kept (large_job.job_to_run)
        warn_if_behind(blends)
    job = dataclasses.replace(alone, grid=chunks, blends=blends, task_grid=task_grid, fallback=fallback)
    return _planned(job, out, names, ngff_version)


def _planned(job: LargeJob, out: Path, names: tuple[str, ...], ngff_version: str) -> LargeJob:
    """`job` with the output plan of its grid, recording what restores it (_about)."""
    about = _about(job.source, job.ref, ngff_version, job.factor, job.hot_pixels, job.blends)
    return dataclasses.replace(job, plan=output_plan(out, job.source, job.layout, job.grid, names, about,
                                                     ngff_version))


def _large_blend(classical_blend: bool | None, spec, source: ArraySource) -> bool:
    """Whether to blend (effective_blend): a model's own blend is left out, with a warning, where the planes are too
    large to blend whole (own_blend_fits, as in memory; asked for, blend_grids refuses them)."""
    blend = effective_blend(classical_blend, spec)
    if blend and classical_blend is None:
        return own_blend_fits(source.shape[source.axes.index("Y")], source.shape[source.axes.index("X")])
    return blend


def _about(source: ArraySource, ref: ModelRef, ngff_version: str, factor: float, hot_pixels: str,
           blends: tuple) -> dict:
    """What the output records of what restored it (OutputPlan.source): a run that differs is not resumed into it."""
    about = {"input": str(Path(source.path).resolve()), "model": ref.path, "engine": ref.engine, "ngff": ngff_version}
    if factor > 1:
        about["rescale"] = factor  # a run with another factor is not resumed into this output
    if hot_pixels == REPLACE:
        about["hot_pixels"] = REPLACE  # ... nor a run that kept them
    if ref.tta:
        about["tta"] = True  # ... nor one without test-time augmentation
    if blends:
        about["classical_blend"] = blend_record(blends)  # ... nor one blended otherwise
    return about


def _rescale_factor(rescale, runner, source: ArraySource) -> float:
    """The rescale factor for `source` (1: off), or an InputError where rescaling does not apply."""
    if effective_rescale(rescale, runner.spec) is None:
        return 1.0
    refuse_unless_rescalable(runner)
    return large_factor(rescale, runner, source)


def restore_large(client, model: str | Path, source: ArraySource, out: str | Path, engine: str | None = None,
                  precision: str = "fp32", tile: tuple[int, ...] | None = None, overwrite: bool = False,
                  progress: bool = True, exact_bytes: int = EXACT_BYTES, z_factor: float | None = None,
                  ngff_version: str = "0.4", rescale: str | float | None = MODEL, hot_pixels: str = KEEP,
                  tta: bool = False, classical_blend: bool | None = None) -> LargeRestoration:
    """Restore `source` with `model` into the OME-Zarr `out` (NGFF `ngff_version`) on the cluster behind `client`
    (`rescale`: 2D models, as restore's; `hot_pixels`: as restore's, with the same pixels replaced; `tta` and
    `classical_blend`: as restore's, chunk by chunk and plane by plane)."""
    job = plan_large(model, source, out, engine, precision, z_factor, ngff_version, rescale, hot_pixels, tta,
                     classical_blend)
    return run_large_job(client, job, tile, overwrite, progress, exact_bytes)


def run_large_job(client, job: LargeJob, tile: tuple[int, ...] | None = None, overwrite: bool = False,
                  progress: bool = True, exact_bytes: int = EXACT_BYTES) -> LargeRestoration:
    """Carry out a job plan_large made (restore_large: both), for a caller that needs the plan first."""
    job = job_to_run(client, job, overwrite)
    source = job.source
    runner, layout = cached_model(job.ref), job.layout
    spec = runner.spec
    done = prepare_output(job.plan, overwrite)
    if isinstance(runner, PipelineRunner):
        levels = compute_package_stats(client, job.ref, source, layout.stack_axes)
    else:
        levels = compute_levels(client, source, layout.stack_axes, spec.pmin, spec.pmax, exact_bytes,
                                layout.z_factor if layout.normalizes_zoomed else 1.0)
        _warn_degenerate(levels, spec)
    check_input(source, layout, spec, job.factor, job.searched, blending=bool(job.blends))
    if job.hot_pixels == KEEP:
        warn_hot_pixels(channel_samples(source.read, source.axes, source.shape))
    tasks = chunk_tasks(source, layout, job.tasks, job.halo, spec.divisor, levels)
    if job.factor > 1:
        small_levels = compute_levels(client, DownscaledSource(source, job.factor), layout.stack_axes, spec.pmin,
                                      spec.pmax, exact_bytes, read_factor=job.factor**2)
        tasks = [rescaled_task(t, levels_in(source, layout, t.core, small_levels), source, job.factor, job.halo,
                               spec.divisor) for t in tasks]
    todo = [t for t in tasks if t.key not in done]
    result = LargeRestoration(Path(job.plan.path), len(tasks), len(tasks) - len(todo), blends=job.blends)
    run = secrets.token_hex(4)  # task names unique per run, readable on the dashboard
    blends = job.blends if job.task_grid else ()  # only a blend that mixes (tasks of whole planes) needs them
    futures = [client.submit(run_chunk, job.ref, source, job.plan, t, tile, blends, key=f"carekit-chunk-{t.key}-{run}")
               for t in todo]
    uncertainty = _gather(client, futures, result, progress)
    finish(job.plan)
    warn_summed(spec, uncertainty, job.factor > 1)  # over the chunks restored in this run, in the network's units
    return result


def _warn_degenerate(levels: list, spec) -> None:
    flat = [i for i, (lo, hi) in enumerate(levels) if not hi - lo >= DEGENERATE_RANGE_EPS * spec.eps]
    if flat:
        warnings.warn(f"{len(flat)} of {len(levels)} planes/stacks have almost no intensity range between their "
                      f"{spec.pmin} and {spec.pmax} percentiles (constant?): their restoration will be constant",
                      stacklevel=3)


def _gather(client, futures: list, result: LargeRestoration, progress: bool) -> np.ndarray | None:
    """Wait for the chunks; the sum of their uncertainty histograms (None: no chunk made one)."""
    summed = [None]
    with progress_bar(result.chunks_total, "restoring", unit="chunk", initial=result.chunks_done_before,
                      disable=not progress) as bar:
        def chunk_done(done: tuple) -> None:
            seconds, counts = done
            result.chunk_seconds.append(seconds)
            if counts is not None:
                summed[0] = counts.astype(np.int64) if summed[0] is None else summed[0] + counts
            bar.update(1)

        wait_tasks(client, futures, "restoring a chunk", chunk_done)
    return summed[0]

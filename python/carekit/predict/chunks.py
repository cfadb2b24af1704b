"""What a dask worker does for one output chunk: read the chunk plus the model's halo, normalize each plane/stack
with the percentiles computed over the whole plane/stack beforehand, run the in-memory recipe of the model's kind
(layouts.restore_stack), keep the core, write it.
The model is loaded once per worker process (a cache keyed by model path, engine and precision), its network on one
thread per task (the worker runs --threads-per-worker chunks at once, so workers and their chunks share the cores
without oversubscribing them), and without ONNX Runtime's memory arena where the worker's --memory-limit is tight."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..models import load_model
from ..models.augmentation import with_tta
from ..models.runner import ModelRunner, PipelineRunner
from ..ngff import ArraySource
from ..ngff_write import OutputPlan, write_chunk
from ..tiling import round_up
from .blend_large import blended_plane
from .domain_check import predicted_uncertainty
from .large_checks import summarize
from .layouts import layout_of, restore_stack
from .rescale_large import NETWORK_UNCERTAINTY, DownscaledSource, restore_rescaled_plane

_MODELS: dict[tuple, ModelRunner] = {}
# below this memory limit per worker thread, ONNX Runtime runs without its arena (measured on the HeLa package,
# 1024² tiles: 1.9 GB peak with it, 0.8 GB without; with it a worker's chunks run ~25% faster)
ARENA_MIN_BYTES_PER_THREAD = 4 * 2**30
_MODELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelRef:
    path: str
    engine: str | None = None
    precision: str = "fp32"
    tta: bool = False


def _worker_share() -> tuple[int | None, bool]:
    """(network threads, lean memory) for a task on the dask worker running it: one thread, as the worker runs one
    chunk per thread at once (a network on all of them would put threads x threads on its cores: measured +14% wall
    time vs in-process restore for 1 worker x 2 threads, -2% with one each; benchmarks/distributed_overhead.py), and
    whether its memory limit per thread is too tight for ONNX Runtime's memory arena; (None, False) outside a worker
    (the runtime's defaults)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return None, False
    threads, limit = worker.state.nthreads, worker.memory_manager.memory_limit
    return 1, bool(limit) and limit / threads < ARENA_MIN_BYTES_PER_THREAD


def cached_model(ref: ModelRef) -> ModelRunner:
    """The model, loaded at most once per process (per thread count and memory mode); without test-time
    augmentation, which run_chunk adds where `ref.tta` asks for it."""
    threads, lean_memory = _worker_share()
    key = (ref.path, ref.engine, ref.precision, threads, lean_memory)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_model(ref.path, ref.engine, ref.precision, threads, lean_memory)
        return _MODELS[key]


def check_distributable(runner: ModelRunner, several_planes: bool) -> None:
    """Refuse, in one line, a bioimage.io package that cannot run chunk by chunk on an image of one or several
    planes/stacks."""
    reason = runner.chunkwise_refusal(several_planes) if isinstance(runner, PipelineRunner) else None
    if reason:
        raise InputError(f"this package cannot run chunk by chunk on the distributed path: {reason}. Convert the "
                         "region you need to TIFF and predict that in memory")
    clashes = [n for n in output_names(runner) if n.isdigit() or "/" in n or n in ("labels", "OME")]
    if clashes:
        raise InputError(f"the package's output ids {clashes} cannot name images inside an OME-Zarr (digits are its "
                         "resolution levels); predict in memory (TIFF output) instead")


def output_names(runner: ModelRunner) -> tuple[str, ...]:
    """The images of the output: a package's own output ids, else restored plus scale or disagreement."""
    if isinstance(runner, PipelineRunner):
        return tuple(runner.output_ids)
    spec = runner.spec
    return ("restored",) + (("disagreement",) if spec.ensemble_members else ("scale",) if spec.probabilistic else ())


@dataclass(frozen=True)
class ChunkTask:
    """One output chunk: `core` in input coordinates, `read` = core grown by the halo on the layout's halo axes
    (clipped to the image), `levels` the (low, high) percentile values of each plane/stack in the chunk, in plane
    order, `target` where the result goes in the output (core with Z scaled or dropped: layouts.Layout)."""

    key: str
    core: tuple[slice, ...]
    read: tuple[slice, ...]
    levels: tuple
    target: tuple[slice, ...]
    factor: float = 1.0  # > 1: restored downsampled (rescale_large.rescaled_task: `read` in downsampled coordinates)


def run_chunk(ref: ModelRef, source: ArraySource, plan: OutputPlan, task: ChunkTask,
              tile: tuple[int, ...] | None = None, blends: tuple = ()) -> tuple[float, np.ndarray | None]:
    """Restore and write one chunk; returns the seconds it took (reading, network, writing) and the histogram of
    its predicted uncertainty in the network's units (large_checks.summarize; a rescaled chunk's before upsampling,
    as restore judges it in memory). `blends` (one per channel): the chunk's whole YX planes are mixed with
    classical denoising as they say (blend_large)."""
    start = time.perf_counter()
    runner = with_tta(cached_model(ref), ref.tta)
    layout = layout_of(runner.spec)
    axes = source.axes
    extra = "".join(a for a in axes if a not in layout.stack_axes)
    order = [axes.index(a) for a in extra + layout.stack_axes]
    reader = DownscaledSource(source, task.factor) if task.factor > 1 else source
    work = np.transpose(reader.read(task.read), order)
    out_axes = layout.out_axes(extra + layout.stack_axes)
    results = {name: [] for name in output_names(runner)}
    noisy = work if task.factor == 1 or not blends else np.transpose(source.read(task.core), order)
    network = []  # the uncertainty as the network gave it (a rescaled chunk's is not the written one)
    for number, index in enumerate(np.ndindex(*work.shape[:len(extra)])):
        if task.factor > 1:
            outputs = _restore_rescaled(runner, layout, source, task, work[index], number, tile)
        else:
            outputs = _restore_core(runner, layout, axes, task.core, task.read, work[index], task.levels[number], tile)
        if blends:
            channel = task.core[axes.index("C")].start + index[extra.index("C")] if "C" in extra else 0
            outputs["restored"] = blended_plane(outputs["restored"], noisy[index], channel, blends, runner.spec)
        written = predicted_uncertainty(outputs.get("scale"), outputs.get("disagreement"))
        uncertainty = outputs.pop(NETWORK_UNCERTAINTY, written)
        if uncertainty is not None:
            network.append(uncertainty)
        for name, out in outputs.items():
            results[name].append(out)
    shape = tuple(work.shape[:len(extra)])
    to_plan = [out_axes.index(a) for a in plan.axes]
    write_chunk(plan, task.key, task.target, {name: np.transpose(np.stack(r).reshape(shape + r[0].shape), to_plan)
                                               for name, r in results.items()})
    return time.perf_counter() - start, summarize(runner.spec, network)


def _restore_core(runner: ModelRunner, layout, axes: str, core: tuple, read: tuple, stack: np.ndarray, levels,
                  tile) -> dict[str, np.ndarray]:
    """Every output of one plane/stack read as `read`, cut to `core` (its halo dropped)."""
    crop = tuple(slice(core[axes.index(a)].start - read[axes.index(a)].start,
                       core[axes.index(a)].stop - read[axes.index(a)].start) if a in layout.halo_axes
                 else slice(None) for a in layout.out_axes(layout.stack_axes))
    return {name: out[crop] for name, out in _restore_plane(runner, layout, stack, levels, tile).items()}


def _restore_rescaled(runner: ModelRunner, layout, source: ArraySource, task: ChunkTask, small: np.ndarray,
                      number: int, tile) -> dict[str, np.ndarray]:
    """Every output on the core of plane `number` of a rescaled task (rescale_large.restore_rescaled_plane), with
    the plain recipe on the full-size plane as its fallback."""
    axes, spec = source.axes, runner.spec
    y, x = axes.index("Y"), axes.index("X")
    small_shape = DownscaledSource(source, task.factor).shape
    extra = [i for i, a in enumerate(axes) if a not in "YX"]
    position = np.unravel_index(number, [task.read[i].stop - task.read[i].start for i in extra]) if extra else ()

    def full_plane() -> dict[str, np.ndarray]:
        halo = round_up(spec.halo, spec.divisor)
        read = list(task.core)
        for i in (y, x):
            s = task.core[i]
            read[i] = slice(max(0, s.start - s.start % spec.divisor - halo), min(source.shape[i], s.stop + halo))
        for i, p in zip(extra, position):
            read[i] = slice(task.core[i].start + p, task.core[i].start + p + 1)
        plane = np.moveaxis(source.read(tuple(read)), (y, x), (-2, -1))
        stack = plane.reshape(plane.shape[-2:]).astype(np.float32)
        return _restore_core(runner, layout, axes, task.core, tuple(read), stack, task.levels[number][0], tile)

    return restore_rescaled_plane(runner, small, task.levels[number], (task.read[y].start, task.read[x].start),
                                  ((small_shape[y], small_shape[x]), (source.shape[y], source.shape[x])),
                                  (task.core[y], task.core[x]), tile, full_plane)


def _restore_plane(runner: ModelRunner, layout, stack: np.ndarray, levels, tile) -> dict[str, np.ndarray]:
    """Every output of one plane/stack (read with its halo): `levels` are its percentile values (carekit models) or
    its whole_image_stats (bioimage.io packages)."""
    if not isinstance(runner, PipelineRunner):
        outputs = restore_stack(runner, layout, stack, levels, tile)
        return {name: out for name, out in zip(("restored", "scale", "disagreement"), outputs) if out is not None}
    outputs = runner.predict_outputs(stack, runner.spec.axes, progress=False, stats=levels)
    for name, out in outputs.items():
        if out.shape != stack.shape:
            raise InputError(f"the package's output {name!r} has shape {out.shape} for a chunk of shape "
                             f"{stack.shape}; only outputs of the input's size can be written chunk by chunk: "
                             "predict in memory (TIFF output) instead")
    return {name: out.astype(np.float32, copy=False) for name, out in outputs.items()}

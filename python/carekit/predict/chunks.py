"""What a dask worker does for one output chunk: read the chunk plus the model's halo, normalize each plane/stack
with the percentiles computed over the whole plane/stack beforehand, run restore's recipe, keep the core, write it.
The model is loaded once per worker process (a cache keyed by model path, engine and precision), its network capped
to the worker's threads (--threads-per-worker) so that several workers on one machine do not fight over its cores."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..models import load_model
from ..models.runner import ModelRunner, PipelineRunner
from ..ngff import ArraySource
from ..ngff_write import OutputPlan, write_chunk
from ..normalize import normalize_range
from .restore import DEFAULT_TILE, restore_normalized

_MODELS: dict[tuple, ModelRunner] = {}
_MODELS_LOCK = threading.Lock()
DISTRIBUTED_KINDS = ("care",)  # model kinds whose recipe runs plane by plane / stack by stack (ensembles included)


@dataclass(frozen=True)
class ModelRef:
    path: str
    engine: str | None = None
    precision: str = "fp32"


def _worker_threads() -> int | None:
    """The threads of the dask worker running this task; None outside a worker (the runtime's default)."""
    from distributed import get_worker

    try:
        return get_worker().state.nthreads
    except ValueError:
        return None


def cached_model(ref: ModelRef) -> ModelRunner:
    """The model, loaded at most once per process (per thread count)."""
    threads = _worker_threads()
    key = (ref.path, ref.engine, ref.precision, threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_model(ref.path, ref.engine, ref.precision, threads)
        return _MODELS[key]


def check_distributable(runner: ModelRunner) -> None:
    kind = "axial upsampling" if runner.spec.kind == "care" and runner.spec.z_factor > 1 else runner.spec.kind
    if isinstance(runner, PipelineRunner):
        raise InputError("this package is not a carekit model (it brings its own normalization and tiling); it cannot "
                         "run on the distributed path yet: convert the region you need to TIFF and predict that")
    if kind not in DISTRIBUTED_KINDS:
        raise InputError(f"{kind} models are not yet supported on the distributed path (OME-Zarr/dask); "
                         "restore TIFFs that fit in memory with `carekit predict` instead")


def output_names(runner: ModelRunner) -> tuple[str, ...]:
    spec = runner.spec
    return ("restored",) + (("disagreement",) if spec.ensemble_members else ("scale",) if spec.probabilistic else ())


def chunk_tile(shape: tuple[int, ...], default: tuple[int, ...]) -> tuple[int, ...]:
    """One network call per chunk read (chunk plus halo) up to 1.25x restore's default tile per axis: a 1024 px
    chunk with its halo would otherwise be cut into 2 tiles per axis, each padded to the full tile size."""
    return tuple(n if n <= d * 5 // 4 else d for n, d in zip(shape, default))


@dataclass(frozen=True)
class ChunkTask:
    """One output chunk: `core` in image coordinates, `read` = core grown by the halo on the model's axes (clipped
    to the image), `levels` the (low, high) percentile values of each plane/stack in the chunk, in plane order."""

    key: str
    core: tuple[slice, ...]
    read: tuple[slice, ...]
    levels: tuple


def run_chunk(ref: ModelRef, source: ArraySource, plan: OutputPlan, task: ChunkTask,
              tile: tuple[int, ...] | None = None) -> float:
    """Restore and write one chunk; returns the seconds it took (reading, network, writing)."""
    start = time.perf_counter()
    runner = cached_model(ref)
    spec = runner.spec
    data = source.read(task.read)
    order = [i for i, a in enumerate(source.axes) if a not in spec.axes] + [source.axes.index(a) for a in spec.axes]
    work = np.transpose(data, order)
    n_extra = work.ndim - len(spec.axes)
    crop = tuple(slice(c.start - r.start, c.stop - r.start) for c, r in ((task.core[i], task.read[i]) for i in order))
    names = output_names(runner)
    results = {name: np.empty(tuple(s.stop - s.start for s in crop), np.float32) for name in names}
    tile = tuple(tile or chunk_tile(work.shape[n_extra:], DEFAULT_TILE[len(spec.axes)]))
    for number, index in enumerate(np.ndindex(*work.shape[:n_extra])):
        lo, hi = task.levels[number]
        normalized = normalize_range(work[index], lo, hi, spec.eps)
        outputs = restore_normalized(runner, normalized, tile)
        for name, out in zip(("restored", "scale", "disagreement"), outputs):
            if out is not None:
                results[name][index] = out[crop[n_extra:]]
    inverse = np.argsort(order)
    write_chunk(plan, task.key, task.core, {name: np.transpose(a, inverse) for name, a in results.items()})
    return time.perf_counter() - start

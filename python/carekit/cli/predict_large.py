"""carekit predict on large data: an OME-Zarr/Zarr input (or any input with an --out ending in .zarr) is restored
chunk by chunk on a dask cluster into an OME-Zarr (carekit.predict.distributed)."""

from __future__ import annotations

from pathlib import Path

from ..ngff_write import NGFF_VERSIONS
from .args import at_least_one
from .predict_checks import compare_and_report, report_not_compared, warnings_reported


def add_cluster_args(p) -> None:
    group = p.add_argument_group("large data (OME-Zarr/Zarr input, or --out ending in .zarr): dask cluster")
    group.add_argument("--scheduler", help="address of a running dask scheduler, e.g. tcp://host:8786 (default: a "
                       "local cluster on this machine)")
    group.add_argument("--scheduler-file", help="scheduler file written by `dask scheduler --scheduler-file F` or "
                       "dask-jobqueue")
    group.add_argument("--workers", type=at_least_one("workers"), help="local cluster: number of worker processes")
    group.add_argument("--threads-per-worker", type=at_least_one("threads per worker"), help="local cluster: "
                       "threads per worker")
    group.add_argument("--memory-limit", help="local cluster: memory per worker, e.g. 2GiB (default: the machine's "
                       "memory shared by the workers)")
    group.add_argument("--ngff-version", choices=NGFF_VERSIONS, default="0.4", help="OME-Zarr version written: 0.4 "
                       "(Zarr v2, read by every viewer today) or 0.5 (Zarr v3)")
    group.add_argument("--overwrite", action="store_true", help="replace an existing output OME-Zarr (an unfinished "
                       "one of the same input and model is resumed without it)")


def is_large(args) -> bool:
    from ..ngff import is_zarr

    return args.out.rstrip("/").lower().endswith(".zarr") or any(is_zarr(path) for path in args.inputs)


def _compare_middle_plane(args, job) -> None:
    """The comparison with classical denoising on the central crop of the input's middle plane, with the model and
    the rescale factor the plan chose (the model is loaded once per process: predict.chunks.cached_model)."""
    from ..io import Image
    from ..predict.chunks import cached_model
    from ..data.crops import ESTIMATE_SIDE, middle_plane_crop
    from ..data.hot_pixel_images import KEEP
    from ..predict.rescale import is_2d_restoration

    runner, source = cached_model(job.ref), job.source
    if not is_2d_restoration(runner):
        return
    try:
        crop = middle_plane_crop(source.read, source.axes, source.shape, ESTIMATE_SIDE)
    except Exception as error:  # the check only advises: the restoration stands whatever goes wrong in it
        report_not_compared(error, args.inputs[0], args.quiet)
        return
    # job.source already replaced the hot pixels where asked
    compare_and_report(runner, Image(crop, "YX"), job.factor, args.inputs[0], args.quiet, KEEP)


def run_large(args, rescale=None) -> int:
    from ..errors import InputError
    from ..ngff import open_source
    from ..predict.cluster import dask_client
    from ..predict.large_job import resumable
    from ..predict.distributed import plan_large, run_large_job
    from ..predict.chunks import cached_model
    from ..models.augmentation import tta_note
    from ..predict.hot_pixels import source_note
    from ..predict.classical_blend import blend_note
    from ..predict.rescale import chosen_factor_note

    if len(args.inputs) != 1 or not args.out.rstrip("/").lower().endswith(".zarr"):
        raise InputError("large data: give one input (OME-Zarr, Zarr or TIFF) and an --out ending in .ome.zarr, "
                         "e.g. carekit predict --model M big.ome.zarr --out restored.ome.zarr")
    source = open_source(args.inputs[0], args.axes)
    with warnings_reported(args.inputs[0]):  # before a cluster starts: the user can still stop
        job = plan_large(args.model, source, args.out, args.engine, args.precision, args.z_factor,
                         args.ngff_version, rescale, args.hot_pixels, args.tta, args.classical_blend)
        job = resumable(job, args.overwrite)
    with dask_client(args.scheduler, args.scheduler_file, args.workers, args.threads_per_worker,
                     args.memory_limit) as client, warnings_reported(args.inputs[0]):
        if not args.quiet:
            print(f"dask dashboard: {client.dashboard_link}")
        result = run_large_job(client, job, tile=tuple(args.tile) if args.tile else None, overwrite=args.overwrite,
                               progress=not args.quiet)
    if args.classical_check and not result.blends:  # blended, the blend's own estimate replaces the check
        _compare_middle_plane(args, job)
    resumed = f" ({result.chunks_done_before} done before, resumed)" if result.chunks_done_before else ""
    spec = cached_model(job.ref).spec
    notes = (chosen_factor_note(rescale, job.factor, spec), source_note(job.hot_pixels, job.source),
             tta_note(job.ref.tta, spec.kind),
             result.blends and blend_note(result.blends, len(job.plan.images) > 1, args.classical_blend is None))
    note = ", ".join(n for n in notes if n)
    print(f"restored {args.inputs[0]} -> {Path(args.out)} ({result.chunks_total} chunks{resumed}"
          f"{f', {note}' if note else ''})")
    return 0

"""carekit predict: restore TIFFs with a model folder or any bioimage.io package."""

from __future__ import annotations

import re
from pathlib import Path

from ..outputs import extra_path
from ..models.weights import ENGINES, WEIGHT_PRIORITY
from .args import (add_classical_blend_arg, add_classical_check_arg, add_hot_pixels_arg, add_precision_arg,
                   add_rescale_arg, add_tta_arg, at_least_one)
from .predict_checks import compare_and_report, warnings_reported
from .predict_large import add_cluster_args, is_large, run_large


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="restore TIFFs with a trained model")
    p.add_argument("--model", required=True, help="model folder or bioimage.io package (.zip, folder, "
                   "bioimageio.yaml, *.bioimageio.yaml or rdf.yaml)")
    p.add_argument("inputs", nargs="+", help="input TIFFs, or one OME-Zarr/Zarr (restored on a dask cluster)")
    p.add_argument("--engine", choices=ENGINES, help="weights to run for packages (default: the first the package has "
                   f"of {', '.join(WEIGHT_PRIORITY)})")
    p.add_argument("--out", required=True, help="output folder (an .ome.zarr for large data)")
    p.add_argument("--axes", help="axes of the inputs if the files do not say, e.g. TYX")
    p.add_argument("--tile", type=at_least_one("tile"), nargs="+", help="tile size per spatial axis")
    p.add_argument("--z-factor", type=float, help="isotropic models: the stacks' Z/XY pixel-size ratio when the files "
                   "do not record it (must match the model's)")
    add_rescale_arg(p)
    add_precision_arg(p, "fp32", "default fp32 (reproduces the package's test outputs); bf16 and auto run the Keras "
                      "weights in mixed precision (|difference| up to about 0.05 in normalized units, 0.002 on "
                      "average).")
    add_classical_check_arg(p)
    add_classical_blend_arg(p)
    add_hot_pixels_arg(p)
    add_tta_arg(p)
    p.add_argument("--quiet", action="store_true")
    add_cluster_args(p)
    p.set_defaults(func=run)


def output_path(restored: Path, output_id: str) -> Path:
    """NAME_<output id>.tif: one file per output of a package with several outputs."""
    return restored.with_name(f"{restored.stem}_{re.sub(r'[^A-Za-z0-9_.-]', '_', output_id)}.tif")


def output_plan(inputs: list[str], out_dir: Path, extras: tuple[str, ...] = (),
                output_ids: tuple[str, ...] = ()) -> list[tuple[Path, Path]]:
    """(output file, input) for every file a command will write: the result under the input's name, plus
    NAME_extra.tif per extra output (scale, disagreement); for a package with several `output_ids`,
    NAME_<output id>.tif per output instead."""
    plan = []
    for path in map(Path, inputs):
        restored = out_dir / path.name
        if len(output_ids) > 1:
            plan += [(output_path(restored, name), path) for name in output_ids]
        else:
            plan += [(restored, path)] + [(extra_path(restored, extra), path) for extra in extras]
    return plan


def run(args) -> int:
    from ..models import load_model
    from ..models.augmentation import refuse_unless_augmentable
    from ..models.runner import PipelineRunner
    from ..predict.rescale import parse_rescale, refuse_unless_2d_denoising
    from ..safe_write import check_targets, prepare_output_folder

    rescale = parse_rescale(args.rescale)
    if is_large(args):
        return run_large(args, rescale)
    created = not Path(args.out).exists()
    out_dir = prepare_output_folder(args.out)
    try:
        model = load_model(args.model, engine=args.engine, precision=args.precision)
        if args.tta:  # once, before any file
            refuse_unless_augmentable(model)
        if args.classical_blend:  # once, before any file (a model's own blend is for the models it applies to)
            refuse_unless_2d_denoising(model, "--classical-blend")
        spec = model.spec
        extras = ("disagreement",) if spec.ensemble_members else ("scale",) if spec.probabilistic else ()
        output_ids = tuple(getattr(model, "output_ids", ()))
        check_targets(output_plan(args.inputs, out_dir, extras, output_ids), args.inputs)
        if isinstance(model, PipelineRunner):
            print("not a carekit package: running it through bioimageio.core with its own pre/postprocessing")
        _restore_files(model, args, out_dir, rescale)
    except BaseException:
        if created and not any(out_dir.iterdir()):  # a run that failed before writing leaves no folder behind
            out_dir.rmdir()
        raise
    return 0


def _restore_files(model, args, out_dir: Path, rescale) -> None:
    from ..io import read_image
    from ..models.augmentation import tta_note
    from ..predict import restore
    from ..predict.classical_blend import blend_note
    from ..predict.hot_pixels import replaced_note
    from ..predict.rescale import chosen_factor_note

    for path in args.inputs:
        image = read_image(path, args.axes)
        with warnings_reported(path):
            result = restore(model, image, tile=tuple(args.tile) if args.tile else None, progress=not args.quiet,
                             z_factor=args.z_factor, rescale=rescale, hot_pixels=args.hot_pixels,
                             classical_blend=args.classical_blend, tta=args.tta)
        extra = result.scale if result.scale is not None else result.disagreement
        notes = (chosen_factor_note(rescale, result.factor, model.spec),
                 replaced_note(args.hot_pixels, result.hot_pixels_replaced), tta_note(args.tta, model.spec.kind),
                 result.classical_blend and blend_note(result.classical_blend, extra is not None,
                                                       args.classical_blend is None))
        _write_result(result, out_dir, path, ", ".join(note for note in notes if note))
        if args.classical_check and not result.classical_blend:  # after the result is safe: the check only advises
            compare_and_report(model, image, result.factor, path, args.quiet, args.hot_pixels)


def _write_result(result, out_dir: Path, path: str, note: str | None = None) -> None:
    from ..io import write_image

    if result.outputs is not None and len(result.outputs) > 1:
        for name, output in result.outputs.items():
            target = write_image(output_path(out_dir / Path(path).name, name), output)
            print(f"restored {path} -> {target} (output {name!r})")
        return
    target = write_image(out_dir / Path(path).name, result.as_image())
    print(f"restored {path} -> {target}" + (f" ({note})" if note else ""))
    for name, extra in (("scale", result.scale), ("disagreement", result.disagreement)):
        if extra is not None:
            write_image(extra_path(out_dir / Path(path).name, name), extra, result.axes, result.pixel_size)

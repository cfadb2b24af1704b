"""carekit predict: restore TIFFs with a model folder or any bioimage.io package."""

from __future__ import annotations

from pathlib import Path

from ..outputs import extra_path
from ..zoo.load import ENGINES, ENGINE_WEIGHTS
from .args import at_least_one


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="restore TIFFs with a trained model")
    p.add_argument("--model", required=True, help="model folder or bioimage.io package (.zip, folder, rdf.yaml)")
    p.add_argument("inputs", nargs="+", help="input TIFFs")
    p.add_argument("--engine", choices=ENGINES, default=ENGINES[0], help=f"weights to run for packages (default {ENGINES[0]})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--axes", help="axes of the inputs if the files do not say, e.g. TYX")
    p.add_argument("--tile", type=at_least_one("tile"), nargs="+", help="tile size per spatial axis")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def output_plan(inputs: list[str], out_dir: Path, extras: tuple[str, ...] = ()) -> list[tuple[Path, Path]]:
    """(output file, input) for every file a command will write: the result under the input's name, plus
    NAME_extra.tif per extra output (scale, disagreement)."""
    plan = []
    for path in map(Path, inputs):
        plan += [(out_dir / path.name, path)] + [(extra_path(out_dir / path.name, extra), path) for extra in extras]
    return plan


def run(args) -> int:
    from ..io import read_image, write_image
    from ..predict import load_model, restore
    from ..safe_write import check_targets, prepare_output_folder

    out_dir = prepare_output_folder(args.out)
    model = load_model(args.model, engine=args.engine)
    spec = model.spec
    extras = ("disagreement",) if spec and spec.ensemble_members else ("scale",) if spec and spec.probabilistic else ()
    check_targets(output_plan(args.inputs, out_dir, extras), args.inputs)
    if spec is None:
        return _predict_foreign(args, out_dir)
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = restore(model, image, tile=tuple(args.tile) if args.tile else None, progress=not args.quiet)
        target = write_image(out_dir / Path(path).name, result.as_image())
        print(f"restored {path} -> {target}")
        for name, extra in (("scale", result.scale), ("disagreement", result.disagreement)):
            if extra is not None:
                write_image(extra_path(out_dir / Path(path).name, name), extra, result.axes, result.pixel_size)
    return 0


def _predict_foreign(args, out_dir: Path) -> int:
    from ..io import Image, read_image, write_image
    from ..zoo.load import predict_with_bioimageio

    print("not a carekit package: running it through bioimageio.core with its own pre/postprocessing")
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = predict_with_bioimageio(args.model, image.data, image.axes, ENGINE_WEIGHTS[args.engine])
        axes = ("C" if result.ndim > len([a for a in image.axes if a in "ZYX"]) else "") + "".join(
            a for a in image.axes if a in "ZYX")
        target = write_image(out_dir / Path(path).name, Image(result, axes, image.pixel_size))
        print(f"restored {path} -> {target}")
    return 0

"""carekit fiji install / run: the CARE Restore plugin in Fiji/ImageJ, and restoring TIFFs inside ImageJ."""

from __future__ import annotations

from pathlib import Path

from ..fiji.contract import BACKENDS, ENGINES
from .args import (add_classical_blend_arg, add_classical_check_arg, add_hot_pixels_arg, add_precision_arg,
                   add_rescale_arg, add_tta_arg, at_least_one)
from .predict import output_plan


def add_parser(sub) -> None:
    p = sub.add_parser("fiji", help="install the CARE Restore plugin into Fiji/ImageJ, or restore images inside ImageJ")
    fiji_sub = p.add_subparsers(dest="action", required=True)
    q = fiji_sub.add_parser("install", help="copy the plugin, helpers and macros into a Fiji.app or ImageJ folder")
    q.add_argument("--target", required=True, help="Fiji.app folder, or an ImageJ 1.x folder (plugins/ is created)")
    q.add_argument("--python", help="Python that runs the models (default: this one)")
    q.set_defaults(func=run_install)
    q = fiji_sub.add_parser("run", help="restore TIFFs inside ImageJ with the CARE Restore plugin (run_in_fiji)")
    q.add_argument("--model", required=True, help="bioimage.io package (.zip or folder)")
    q.add_argument("inputs", nargs="+")
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--axes", help="axes of the inputs if the files do not say")
    q.add_argument("--engine", choices=ENGINES, default=ENGINES[0])
    q.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0])
    q.add_argument("--tile", type=at_least_one("tile"), default=0, help="tile size per spatial axis (default: automatic)")
    add_precision_arg(q, "fp32", "as for predict.")
    add_rescale_arg(q)
    add_classical_check_arg(q)
    add_classical_blend_arg(q)
    add_hot_pixels_arg(q)
    add_tta_arg(q)
    q.add_argument("--no-uncertainty", action="store_true", help="leave out the scale channel of probabilistic models")
    q.add_argument("--python", help="Python for the model worker (default: this one)")
    q.add_argument("--fiji", help="local Fiji.app to use via PyImageJ (default: $FIJI_HOME, else ImageJ 1.x)")
    q.add_argument("--macro-before", help="ImageJ macro code run on the image before restoring")
    q.add_argument("--macro-after", help="ImageJ macro code run on the result")
    q.set_defaults(func=run_restore)


def run_install(args) -> int:
    from ..fiji.install import install

    result = install(args.target, python=args.python)
    print(f"installed CARE Restore into {result.target} ({result.kind}); models run with {result.python}\n"
          f"macro: run(\"CARE Restore\", \"model=[/path/model.zip] input=[/path/image.tif] output=[/path/out.tif]\");")
    return 0


def run_restore(args) -> int:
    from ..fiji.run import run_in_fiji
    from ..io import Image, read_image, write_image
    from ..predict.rescale import parse_rescale
    from ..safe_write import check_targets, prepare_output_folder

    rescale = parse_rescale(args.rescale)  # refused here rather than inside ImageJ, and written normalized
    out_dir = prepare_output_folder(args.out)
    check_targets(output_plan(args.inputs, out_dir), args.inputs)
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = run_in_fiji(args.model, image, engine=args.engine, backend=args.backend, tile=args.tile,
                             uncertainty=not args.no_uncertainty, python=args.python, fiji=args.fiji,
                             precision=args.precision, rescale=rescale, classical_check=args.classical_check,
                             hot_pixels=args.hot_pixels, classical_blend=args.classical_blend, tta=args.tta,
                             macro_before=args.macro_before, macro_after=args.macro_after)
        target = write_image(out_dir / Path(path).name, Image(result.values, "".join(result.dims),
                                                               result.attrs.get("pixel_size", {})))
        print(f"restored in ImageJ ({result.attrs['imagej']}): {path} -> {target}")
    return 0

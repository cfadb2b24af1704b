"""carekit demo: the end-to-end demo on built-in data."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="the end-to-end demo on built-in data")
    p.add_argument("--out", default="carekit-demo", help="output folder (default ./carekit-demo)")
    p.add_argument("--quick", action="store_true", help="a shorter version (a third of the training)")
    p.add_argument("--no-fiji", action="store_true", help="skip the ImageJ stage")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--task", choices=("restoration", "isotropic", "projection"), default="restoration",
                   help="restoration (default: denoising on HeLa, the full demo), isotropic (nuclei3d, Z x4) or "
                        "projection (HeLa frames on curved surfaces -> 2D)")
    p.add_argument("--from", dest="init_from", metavar="MODEL_OR_ZIP",
                   help="--task projection: start the 2D U-Net from this CARE model or package, e.g. "
                        "model-zoo/care-generalist-nuclei-denoising.zip")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.init_from and args.task != "projection":
        from ..errors import InputError

        raise InputError("--from applies to --task projection only")
    if args.task == "isotropic":
        from ..demo_isotropic import run_isotropic_demo

        run_isotropic_demo(Path(args.out), quick=args.quick, progress=not args.quiet)
        return 0
    if args.task == "projection":
        from ..demo_projection import run_projection_demo
        from .train_from import resolve

        start_from = resolve(args.init_from) if args.init_from else None
        run_projection_demo(Path(args.out), quick=args.quick, progress=not args.quiet, start_from=start_from)
        return 0
    from ..demo import run_demo

    run_demo(Path(args.out), quick=args.quick, progress=not args.quiet, with_fiji=not args.no_fiji)
    return 0

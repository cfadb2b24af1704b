"""carekit synth: write semi-synthetic or synthetic training pairs as TIFFs."""

from __future__ import annotations

from .args import add_source_args, data_description


def add_parser(sub) -> None:
    p = sub.add_parser("synth", help="write semi-synthetic or synthetic training pairs as TIFFs")
    add_source_args(p, pairs=False)
    p.add_argument("--out", required=True, help="output folder (gets low/ and high/)")
    p.add_argument("--ndim", type=int, choices=(2, 3), default=2, help="2D planes or 3D stacks from --builtin/--clean")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import workflows

    data = data_description(args)
    ndim = len(args.size) if args.synthetic else args.ndim
    lows, highs, pixel_size = workflows.training_pairs(data, ndim)
    out = workflows.write_pairs(lows, highs, args.out, "YX" if ndim == 2 else "ZYX", pixel_size)
    print(f"wrote {len(lows)} pairs to {out}/low and {out}/high (train with: carekit train --pairs {out}/low {out}/high ...)")
    return 0

"""carekit compare: which of two 2D denoising models restores your noisy images better, estimated without ground
truth (predict.model_comparison)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

NOT_COMPARED = "not compared"  # the tally's key for images the estimate cannot judge


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="which of two 2D denoising models restores noisy images better, estimated from "
                       "the images alone (no ground truth): e.g. the generalist and a model fine-tuned from it")
    p.add_argument("--model", required=True, nargs=2, metavar=("FIRST", "SECOND"),
                   help="two model folders or carekit packages, each run as `carekit predict` runs it (its own "
                   "rescale mode: the generalist's is search)")
    p.add_argument("inputs", nargs="+", help="noisy TIFFs, best ones neither model was trained on (those you will "
                   "restore): the central 512x512 px of each one's middle plane are compared")
    p.add_argument("--axes", help="axes of the inputs if the files do not say, e.g. TYX")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..io import read_image
    from ..predict.model_comparison import comparable, compare_models

    names = tuple(Path(m).name for m in args.model)
    if names[0] == names[1]:
        names = tuple(args.model)
    runners = comparable(*args.model)
    tally = Counter()
    for path in args.inputs:
        try:
            comparison = compare_models(*runners, read_image(path, args.axes))
        except InputError as err:  # this image cannot be judged (too small or flat for its noise model...)
            tally[NOT_COMPARED] += 1
            print(f"{path}: not compared: {err}")
            continue
        tally[comparison.better] += 1
        print(f"{path}: {comparison.summary(names)}")
    print(verdict(tally, names))
    return 0 if sum(tally.values()) > tally[NOT_COMPARED] else 2


def verdict(tally: Counter, names: tuple[str, str]) -> str:
    """The closing line: how many images each model restores better, and which to use."""
    counts = f"{names[0]} better on {tally[0]}, {names[1]} on {tally[1]}, level on {tally[None]}"
    if tally[NOT_COMPARED]:
        counts += f", not compared {tally[NOT_COMPARED]}"
    if tally[0] and tally[1]:
        return f"{counts}: neither restores every image better; compare their restorations by eye where they differ"
    if tally[0] or tally[1]:
        return f"{counts}: use {names[0 if tally[0] else 1]}"
    return f"{counts}: no difference the estimate can tell on these images"

"""carekit compare: which of two 2D denoising models restores your noisy images better, estimated without ground
truth (predict.model_comparison)."""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

from .args import add_hot_pixels_arg

NOT_COMPARED = "not compared"  # the tally's key for images the estimate cannot judge


def add_parser(sub) -> None:
    from ..data.crops import ESTIMATE_SIDE

    p = sub.add_parser("compare", help="which of two 2D denoising models restores noisy images better, estimated from "
                       "the images alone (no ground truth): e.g. the generalist and a model fine-tuned from it")
    p.add_argument("--model", required=True, nargs=2, metavar=("FIRST", "SECOND"),
                   help="two model folders or carekit packages, each run at its own rescale mode as `carekit "
                   "predict` runs it (the generalist's is search), the model alone (without the classical blend)")
    p.add_argument("inputs", nargs="+", help="noisy TIFFs or OME-Zarr/Zarr images, best ones neither model was "
                   f"trained on (those you will restore): the central {ESTIMATE_SIDE}x{ESTIMATE_SIDE} px of each "
                   "one's middle plane (the middle index of T, Z, C) are read and compared, nothing more. Exit status "
                   "0 when at least one image was compared")
    p.add_argument("--axes", help="axes of the inputs if the files do not say, e.g. TYX")
    add_hot_pixels_arg(p)
    p.set_defaults(func=run)


UNITS = ("differences in % of each image's noise variance: a good restoration's whole squared error is a few % of it, "
         "so 1% is a large difference")


def run(args) -> int:
    from ..predict.model_comparison import comparable_runners

    names = model_names(*args.model)
    runners = comparable_runners(*args.model)
    tally = Counter()
    print(UNITS)
    for path in args.inputs:
        better, line = judged_image(runners, names, path, partial(middle_crop, path, args.axes, args.hot_pixels))
        tally[better] += 1
        print(line)
    print(verdict(tally, names))
    return 0 if sum(tally.values()) > tally[NOT_COMPARED] else 2


def model_names(first: str, second: str) -> tuple[str, str]:
    """What the lines call the two models: their folder or file names, or the paths where those are the same."""
    names = tuple(Path(m).resolve().name or m for m in (first, second))
    return names if names[0] != names[1] else (first, second)


def judged_image(runners, names: tuple[str, str], path: str, read) -> tuple:
    """(0, 1, None (level) or NOT_COMPARED, the image's line) for the image `read()` returns."""
    from ..errors import InputError
    from ..predict.model_comparison import compare_models

    try:
        comparison = compare_models(*runners, read())
    except InputError as err:  # this image cannot be judged (too small or flat for its noise model...)
        return NOT_COMPARED, f"{path}: not compared: {err}"
    return comparison.better, f"{path}: {comparison.summary(names)}"


def middle_crop(path: str, axes: str | None, hot_pixels: str):
    """The part of an input the comparison judges, the central crop of its middle plane, read alone (a TIFF page by
    page, an OME-Zarr chunk by chunk): large images cost no more than small ones. With `hot_pixels` 'replace', read
    with its hot pixels replaced as `carekit predict --hot-pixels replace` replaces them."""
    from ..io import Image
    from ..ngff import open_source
    from ..data.crops import ESTIMATE_SIDE, middle_plane_crop
    from ..data.hot_pixel_images import REPLACE
    from ..predict.hot_pixels import source_without_hot_pixels

    source = open_source(path, axes)
    if hot_pixels == REPLACE:
        source = source_without_hot_pixels(source)
    return Image(middle_plane_crop(source.read, source.axes, source.shape, ESTIMATE_SIDE), "YX")


def verdict(tally: Counter, names: tuple[str, str]) -> str:
    """The closing line: how many images each model restores better, and which to use."""
    counts = f"{names[0]} better on {tally[0]}, {names[1]} on {tally[1]}, level on {tally[None]}"
    if tally[NOT_COMPARED]:
        counts += f", not compared {tally[NOT_COMPARED]}"
    if tally[0] and tally[1]:
        return f"{counts}: neither restores every image better; compare their restorations by eye where they differ"
    if tally[0] or tally[1]:
        return f"{counts}: use {names[0 if tally[0] else 1]}"
    if not tally[None]:
        return f"{counts}: no image could be compared"
    return f"{counts}: no difference the estimate can tell on these images"

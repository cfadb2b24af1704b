"""carekit evaluate: score restorations against ground truth (PSNR, SSIM, NRMSE) with classical baselines."""

from __future__ import annotations

import sys
import warnings


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score restorations against ground truth (PSNR, SSIM, NRMSE) with baselines")
    p.add_argument("--gt", required=True, help="folder of ground-truth TIFFs")
    p.add_argument("--method", action="append", required=True, metavar="NAME=FOLDER",
                   help="restored (or raw) images with the ground truth's file names; the first is the input "
                        "that --baselines denoise (repeat for each method)")
    p.add_argument("--baselines", action="store_true", help="also run Gaussian, NLM, TV, GAT+NLM on the first method")
    p.add_argument("--gain", type=float, help="camera gain for GAT (default: estimated from each input image)")
    p.add_argument("--read-noise", type=float, help="camera read noise for GAT (default: estimated from the data)")
    p.add_argument("--offset", type=float, help="camera offset for GAT (default: estimated from the data)")
    p.add_argument("--dataset", help="dataset name for the table (default: the ground-truth folder name)")
    p.add_argument("--out", required=True, help="report folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluate.workflow import evaluate_to_folder

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        result = evaluate_to_folder(args.gt, _method_folders(args.method), args.out, baselines=args.baselines,
                                    gain=args.gain, read_noise=args.read_noise, offset=args.offset,
                                    dataset=args.dataset)
    for warning in caught:  # ours as one line each (e.g. camera parameters that contradict the data)
        if issubclass(warning.category, UserWarning):
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    print(result.table)
    print(f"wrote {result.csv}, {result.markdown}, {', '.join(str(f) for f in result.figures)}")
    return 0


def _method_folders(items: list[str]) -> list[tuple[str, str]]:
    """--method NAME=FOLDER values as (name, folder) pairs."""
    from ..errors import InputError

    pairs = []
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"--method takes NAME=FOLDER, got {item!r}")
        pairs.append((name, folder))
    return pairs

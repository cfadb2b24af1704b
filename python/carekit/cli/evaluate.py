"""carekit evaluate: score restorations against ground truth (PSNR, SSIM, NRMSE) with classical baselines."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score restorations against ground truth (PSNR, SSIM, NRMSE) with baselines")
    p.add_argument("--gt", required=True, help="folder of ground-truth TIFFs")
    p.add_argument("--method", action="append", required=True, metavar="NAME=FOLDER",
                   help="restored (or raw) images with the ground truth's file names; the first is the input "
                        "that --baselines denoise (repeat for each method)")
    p.add_argument("--baselines", action="store_true", help="also run Gaussian, NLM, TV, GAT+NLM on the first method")
    p.add_argument("--gain", type=float, default=1.0, help="camera gain for GAT (default 1)")
    p.add_argument("--read-noise", type=float, default=2.0, help="camera read noise for GAT (default 2)")
    p.add_argument("--offset", type=float, default=100.0, help="camera offset for GAT (default 100)")
    p.add_argument("--dataset", help="dataset name for the table (default: the ground-truth folder name)")
    p.add_argument("--out", required=True, help="report folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluate.baselines import BASELINE_NAMES, check_camera
    from ..evaluate.report import comparison_figure, evaluate_folders, markdown_table, mean_and_scale, write_csv
    from ..io import list_tiffs, read_image

    methods = _evaluated_methods(args.method, args.baselines)
    camera = check_camera(args.gain, args.read_noise, args.offset)
    if args.baselines:
        from ..evaluate.baselines import run_baselines
        from ..io import Image, write_image

        raw_name = next(iter(methods))
        for path in list_tiffs(args.gt):
            raw = read_image(Path(methods[raw_name]) / path.name).data
            for name, result in run_baselines(raw, read_image(path).data, camera=camera).items():
                write_image(Path(args.out) / "baselines" / name / path.name, Image(result, "YX" if result.ndim == 2 else "ZYX"))
        for name in BASELINE_NAMES:
            if (Path(args.out) / "baselines" / name).is_dir():
                methods[name] = str(Path(args.out) / "baselines" / name)
    rows = evaluate_folders(args.gt, methods, args.dataset)
    out = Path(args.out)
    write_csv(rows, out / "results.csv")
    table = markdown_table(rows)
    (out / "results.md").write_text(table)
    first = list_tiffs(args.gt)[0]
    images = {name: mean_and_scale(read_image(Path(folder) / first.name))[0] for name, folder in methods.items()}
    raw_name = next(iter(images))
    figure = comparison_figure(images.pop(raw_name), images, read_image(first).data, out / "comparison.png",
                               title=first.name)
    print(table)
    print(f"wrote {out / 'results.csv'}, {out / 'results.md'}, {figure}")
    return 0


def _evaluated_methods(items: list[str], baselines: bool) -> dict[str, str]:
    """--method NAME=FOLDER values as {name: folder}; a name given twice, or one that --baselines also writes,
    is refused (one of the two would silently be lost)."""
    from ..errors import InputError
    from ..evaluate.baselines import BASELINE_NAMES
    from ..evaluate.report import unique_methods

    pairs = []
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"--method takes NAME=FOLDER, got {item!r}")
        pairs.append((name, folder))
    methods = unique_methods(pairs)
    clash = sorted(set(methods) & set(BASELINE_NAMES)) if baselines else []
    if clash:
        raise InputError(f"--baselines adds methods named {', '.join(BASELINE_NAMES)}; rename your --method "
                         f"{', '.join(clash)}")
    return methods

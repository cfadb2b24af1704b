"""Evaluation reports: per-image scores, a CSV, a Markdown table laid out like Hagen et al. Table 2 (rows =
datasets, columns = methods, PSNR and SSIM), and a figure (input | baselines | CARE | ground truth + line profile)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import list_tiffs, read_image
from ..outputs import extra_path
from ..normalize import affine_fit, normalize_ground_truth, normalize_percentile
from .metrics import coverage, score

COLUMNS = ("dataset", "image", "method", "psnr", "ssim", "nrmse", "coverage90")


def unique_methods(methods: dict | Iterable[tuple[str, object]]) -> dict:
    """Methods as {name: value}, from a dict or (name, value) pairs; a name given twice is refused (one of the
    two would silently be lost)."""
    pairs = list(methods.items()) if isinstance(methods, dict) else [tuple(pair) for pair in methods]
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"method names must be unique; given more than once: {', '.join(repeated)}")
    return dict(pairs)


def evaluate_images(ground_truth: list[np.ndarray], methods: dict | Iterable[tuple[str, list[np.ndarray]]],
                    dataset: str = "data", names: list[str] | None = None,
                    scales: dict[str, list[np.ndarray]] | None = None) -> list[dict]:
    """Score every method's images ({name: images} or (name, images) pairs with unique names) against the ground
    truth: one row per (image, method). For methods with per-pixel Laplace scales (probabilistic CARE),
    `coverage90` is the fraction of ground-truth pixels inside the predicted 90% interval (well calibrated: 0.9)."""
    names = names or [f"image{i:03d}" for i in range(len(ground_truth))]
    scales = scales or {}
    rows = []
    for method, images in unique_methods(methods).items():
        if len(images) != len(ground_truth):
            raise InputError(f"method {method!r} has {len(images)} images for {len(ground_truth)} ground-truth images")
        for index, (name, gt, image) in enumerate(zip(names, ground_truth, images)):
            row = {"dataset": dataset, "image": name, "method": method, **score(gt, image).as_dict(), "coverage90": ""}
            if method in scales:
                row["coverage90"] = coverage(gt, image, scales[method][index], 0.9)
            rows.append(row)
    return rows


def evaluate_folders(gt_dir: str | Path, method_dirs: dict | Iterable[tuple[str, str | Path]],
                     dataset: str | None = None) -> list[dict]:
    """Pair files by name between the ground-truth folder and each method's folder ({name: folder} or
    (name, folder) pairs with unique names), then score them; a method's Laplace scales (see `read_restoration`)
    give its coverage."""
    method_dirs = unique_methods(method_dirs)
    gt_paths = list_tiffs(gt_dir)
    if not gt_paths:
        raise InputError(f"no .tif files in the ground-truth folder {gt_dir}")
    methods, scales = {}, {}
    for method, folder in method_dirs.items():
        missing = [p.name for p in gt_paths if not (Path(folder) / p.name).exists()]
        if missing:
            raise InputError(f"{method}: no restored image for {', '.join(missing)} in {folder}")
        pairs = [read_restoration(Path(folder) / p.name) for p in gt_paths]
        methods[method] = [mean for mean, _ in pairs]
        if all(scale is not None for _, scale in pairs):
            scales[method] = [scale for _, scale in pairs]
    gts = [read_image(p).data for p in gt_paths]
    return evaluate_images(gts, methods, dataset or Path(gt_dir).name, [p.name for p in gt_paths], scales)


def mean_and_scale(image) -> tuple[np.ndarray, np.ndarray | None]:
    """Restorations saved with an uncertainty channel (C = mean, scale) give both; others only the image."""
    if "C" in image.axes and image.data.shape[image.axes.index("C")] == 2:
        c = image.axes.index("C")
        return np.take(image.data, 0, axis=c), np.take(image.data, 1, axis=c)
    return image.data, None


def read_restoration(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """A restored image and its Laplace scale, if any: from a C = (mean, scale) channel axis (Fiji outputs) or
    from the NAME_scale.tif that `carekit predict` writes next to NAME.tif. An ensemble's NAME_disagreement.tif
    is no scale and gives none."""
    mean, scale = mean_and_scale(read_image(path))
    sibling = extra_path(path, "scale")
    if scale is None and sibling.exists():
        scale = read_image(sibling).data
        if scale.shape != mean.shape:
            raise InputError(f"{sibling} has shape {scale.shape} but its image {Path(path).name} has {mean.shape}; "
                             "keep each NAME_scale.tif with the NAME.tif it was predicted with")
    return mean, scale


def write_csv(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: row[k] for k in COLUMNS} for row in rows)
    return path


def summary(rows: list[dict]) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    """(dataset, method) -> {metric: (mean, std)}."""
    return {key: {m: (float(np.mean([r[m] for r in group])), float(np.std([r[m] for r in group])))
                  for m in ("psnr", "ssim", "nrmse")} for key, group in _groups(rows).items()}


def markdown_table(rows: list[dict]) -> str:
    """Rows = datasets; per method a PSNR column and an SSIM column (mean ± std over images); best in bold."""
    stats = summary(rows)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    header = "| dataset | " + " | ".join(f"{m} PSNR | {m} SSIM" for m in methods) + " |"
    lines = [header, "| --- |" + " --- | --- |" * len(methods)]
    for dataset in datasets:
        present = [m for m in methods if (dataset, m) in stats]
        best_psnr = max(stats[(dataset, m)]["psnr"][0] for m in present)
        best_ssim = max(stats[(dataset, m)]["ssim"][0] for m in present)
        cells = []
        for method in methods:
            if (dataset, method) not in stats:
                cells += ["", ""]
                continue
            (p, ps), (s, ss) = stats[(dataset, method)]["psnr"], stats[(dataset, method)]["ssim"]
            p_text, s_text = f"{p:.2f} ± {ps:.2f}", f"{s:.3f} ± {ss:.3f}"
            cells += [f"**{p_text}**" if p == best_psnr else p_text, f"**{s_text}**" if s == best_ssim else s_text]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    calibrated = [r for r in rows if r.get("coverage90") not in ("", None)]
    if calibrated:
        lines.append("")
        for (dataset, method), group in _groups(calibrated).items():
            lines.append(f"Calibration, {dataset}, {method}: {np.mean([r['coverage90'] for r in group]):.3f} of "
                         "ground-truth pixels inside the predicted 90% interval (ideal 0.900).")
    return "\n".join(lines) + "\n"


def _groups(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"]), []).append(row)
    return groups


def comparison_figure(raw: np.ndarray, results: dict[str, np.ndarray], ground_truth: np.ndarray, path: str | Path,
                      title: str = "", profile_row: int | None = None) -> Path:
    """Input | each method | ground truth, all mapped onto the normalized ground truth (affine fit), with a
    line profile through the brightest row below (as in the semi-synthetic CARE paper's Fig. 4)."""
    from matplotlib.figure import Figure

    if ground_truth.ndim == 3:
        middle = ground_truth.shape[0] // 2
        raw, ground_truth = raw[middle], ground_truth[middle]
        results = {k: v[middle] for k, v in results.items()}
    gt = normalize_ground_truth(ground_truth)
    panels = {"input": affine_fit(raw, gt), **{k: affine_fit(v, gt) for k, v in results.items()}, "ground truth": gt}
    row = profile_row if profile_row is not None else int(np.argmax(np.percentile(gt, 99, axis=1)))
    n = len(panels)
    fig = Figure(figsize=(2.6 * n, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[2.2, 1])
    for index, (name, image) in enumerate(panels.items()):
        ax = fig.add_subplot(grid[0, index])
        if name == "input":  # the fit shrinks a very noisy input towards its mean: show it contrast-stretched
            image = np.clip(normalize_percentile(raw, 1, 99.8), 0, 1)
        ax.imshow(image, cmap="magma", vmin=0, vmax=1)
        ax.axhline(row, color="cyan", lw=0.8, alpha=0.7)
        ax.set_title(name, fontsize=11)
        ax.axis("off")
    profile = fig.add_subplot(grid[1, :])
    for name, image in panels.items():
        style = {"input": dict(color="0.7", lw=0.8), "ground truth": dict(color="k", lw=1.6, ls="--")}.get(name, dict(lw=1.1))
        profile.plot(image[row], label=name, **style)
    profile.set(xlabel="x (pixels)", ylabel="normalized intensity", title=f"line profile, row {row}")
    profile.legend(ncol=min(n, 6), fontsize=8)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path

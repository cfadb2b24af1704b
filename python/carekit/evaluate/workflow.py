"""The `carekit evaluate` workflow: pair each method's restorations with the ground truth by file name, optionally
run the classical baselines on the first method (the input), and write results.csv, results.md and comparison.png."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io import Image, list_tiffs, read_image, write_image
from .baselines import BASELINE_NAMES, check_camera, run_baselines
from .report import comparison_figure, evaluate_folders, markdown_table, mean_and_scale, unique_methods, write_csv


@dataclass
class Evaluation:
    table: str
    csv: Path
    markdown: Path
    figure: Path


def _evaluated_methods(methods: dict | Iterable[tuple[str, str | Path]], baselines: bool) -> dict[str, str | Path]:
    """{name: folder} from a dict or (name, folder) pairs; a name given twice, or one that the baselines also
    write, is refused (one of the two would silently be lost)."""
    methods = unique_methods(methods)
    clash = sorted(set(methods) & set(BASELINE_NAMES)) if baselines else []
    if clash:
        raise InputError(f"--baselines adds methods named {', '.join(BASELINE_NAMES)}; rename your --method "
                         f"{', '.join(clash)}")
    return methods


def evaluate_to_folder(gt_dir: str | Path, methods: dict | Iterable[tuple[str, str | Path]], out: str | Path, *,
                       baselines: bool = False, gain: float = 1.0, read_noise: float = 2.0, offset: float = 100.0,
                       dataset: str | None = None) -> Evaluation:
    """Score every method's folder against `gt_dir` (the first method is the input) and write the report into
    `out`. With `baselines`, Gaussian, NLM, TV and GAT+NLM (camera `gain`, `read_noise`, `offset`) denoise the
    input into out/baselines/NAME/ and join the comparison. Nothing is written when the arguments are invalid."""
    methods = dict(_evaluated_methods(methods, baselines))
    camera = check_camera(gain, read_noise, offset)
    out = Path(out)
    if baselines:
        methods.update(_write_baselines(gt_dir, methods[next(iter(methods))], out / "baselines", camera))
    rows = evaluate_folders(gt_dir, methods, dataset)
    csv_path = write_csv(rows, out / "results.csv")
    table = markdown_table(rows)
    (out / "results.md").write_text(table)
    return Evaluation(table, csv_path, out / "results.md", _figure(gt_dir, methods, out / "comparison.png"))


def _write_baselines(gt_dir: str | Path, raw_dir: str | Path, out: Path, camera: dict) -> dict[str, str]:
    """Each baseline's restorations of the input, one folder per baseline under `out`: {name: folder}."""
    for path in list_tiffs(gt_dir):
        raw = read_image(Path(raw_dir) / path.name).data
        for name, result in run_baselines(raw, read_image(path).data, camera=camera).items():
            write_image(out / name / path.name, Image(result, "YX" if result.ndim == 2 else "ZYX"))
    return {name: str(out / name) for name in BASELINE_NAMES if (out / name).is_dir()}


def _figure(gt_dir: str | Path, methods: dict, path: Path) -> Path:
    """The comparison figure for the first ground-truth image: input | other methods | ground truth."""
    first = list_tiffs(gt_dir)[0]
    images = {name: mean_and_scale(read_image(Path(folder) / first.name))[0] for name, folder in methods.items()}
    raw = images.pop(next(iter(images)))
    return comparison_figure(raw, images, read_image(first).data, path, title=first.name)

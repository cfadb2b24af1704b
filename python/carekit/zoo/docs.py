"""What a package shows people: its README (documentation) and its cover image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..config import MODEL_CONFIG_FILE, ModelRecord


def cover(raw: np.ndarray, restored: np.ndarray, path: Path) -> Path:
    """Input | restored side by side (800x400, 2:1), each shown between its 1st and 99.8th percentile; saved as a
    256-colour PNG (a noisy image as full-colour PNG exceeds the 500 KB bioimage.io allows for covers)."""
    from matplotlib.figure import Figure
    from PIL import Image as PILImage

    raw, restored = (image.max(axis=0) if image.ndim == 3 else image for image in (raw, restored))
    fig = Figure(figsize=(8, 4), dpi=100)
    axes = fig.subplots(1, 2)
    for ax, image, title in ((axes[0], raw, "input"), (axes[1], restored, "CARE")):
        lo, hi = np.percentile(image, [1, 99.8])
        ax.imshow(image, cmap="magma", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=14)
        ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.92, wspace=0.02)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    with PILImage.open(buffer) as rendered:
        rendered.convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def _recipe_note(record: ModelRecord) -> list[str]:
    """How the weights of an isotropic or axially upsampling package handle the Z zoom, for users without carekit."""
    if record.kind == "isotropic":
        return [f"- **Isotropic model**: the weights hold the whole recipe, so bioimageio.core and deepImageJ run it "
                f"as they are: a raw (Z, Y, X) stack in (normalized with the percentiles above), Z zoomed linearly by "
                f"{record.z_factor:g}, the 2D network on every XZ and every YZ plane, combined voxel by voxel as "
                "sqrt(max(xz, 0) * max(yz, 0)); round(Z * factor) planes out, whose Z pixel size is the input's "
                "divided by the factor. The whole stack goes through the graph at once (tile only Y and X); carekit "
                "(predict, the Fiji plugin) runs the attached 2D network tile by tile with bounded memory."]
    if record.z_factor > 1:
        return [f"- **Axial upsampling**: the weights zoom Z of the raw stack linearly by {record.z_factor:g} before "
                "the 3D network (round(Z * factor) planes out); the output's Z pixel size is the input's divided by "
                "the factor. carekit runs the attached bare network tile by tile."]
    return []


def readme(record: ModelRecord, name: str, description: str, evaluation: dict | None, formats: tuple[str, ...]) -> str:
    """The package documentation, with the sections bioimage.io reviewers look for (description, intended use,
    input/output, training, validation with measured metrics, how to run, limitations, citation, license)."""
    train = record.train
    lines = [
        f"# {name}", "", description, "",
        "## Model description", "",
        "A CARE network (content-aware image restoration, Weigert et al., Nature Methods 2018) trained with "
        f"carekit {__version__} on csbdeep's U-Net.", "",
        "## Intended use", "",
        "Restoring (denoising) fluorescence microscopy images that resemble the training data: same kind of "
        "structures, microscope and noise level.", "",
        "## Input and output", "",
        *_input_output(record),
        "", "## Training", "",
        f"- data: `{json.dumps(dict(record.data))}`",
        f"- network: U-Net depth {train.unet_depth}, {train.unet_first} first filters, kernel {train.unet_kern_size}",
        f"- training: {record.epochs_done} epochs x {train.steps_per_epoch} steps, batch {train.batch_size}, "
        f"patches {train.patch_size}, learning rate {train.learning_rate}, "
        f"loss {'Laplace' if train.probabilistic else train.loss.upper()}",
        f"- full configuration: `{MODEL_CONFIG_FILE}` (attached); training history: `history.png`", "",
        "## Validation", "",
        *_validation(evaluation),
        "", "The package's test tensors reproduce to 1e-4 with every weight format "
        f"({', '.join(formats)}), checked with bioimageio.core test_model.", "",
        "## How to run", "",
        "- Python: `carekit predict --model this_package.zip image.tif --out restored/` "
        "(engines: onnx, tensorflow, keras).",
        "- Fiji/ImageJ: `run(\"CARE Restore\", \"model=[/path/to/this_package.zip] engine=python\");` with the carekit "
        "Fiji plugin installed (`carekit fiji install`).",
        _deepimagej(formats),
        *_rescale_note(record),
        *_blend_note(record),
        *_recipe_note(record),
        "- Any bioimage.io consumer that runs ONNX or TensorFlow weights, e.g. bioimageio.core `predict`.", "",
        "## Limitations", "",
        "CARE learns the image content and noise it was trained on: use it on similar structures, microscope and "
        "noise level, and check against ground truth before quantitative use.", "",
        "## Citation", "",
        "Weigert et al. Content-aware image restoration: pushing the limits of fluorescence microscopy. "
        "Nature Methods 15, 1090-1097 (2018), doi:10.1038/s41592-018-0216-7", "",
        "## License", "",
        "The weights and files of this package: CC-BY-4.0.",
    ]
    return "\n".join(lines) + "\n"


def _input_output(record: ModelRecord) -> list[str]:
    train = record.train
    normalized = (f"normalized by the package (percentiles {train.norm_pmin} -> 0, {train.norm_pmax} -> 1 of each "
                  f"{'stack' if record.kind == 'projection' else 'image'}).")
    if record.kind == "projection":
        step = 2**max(train.unet_depth, record.projection_head_depth)
        return [f"- input: one channel, a stack with axes z/y/x: any number of planes (at least 3; trained on "
                f"{record.projection_planes}), y and x any multiple of {step}; {normalized}",
                "- output: the restored 2D projection (axes y/x) in those normalized units. A 3D head gives "
                "per-pixel weights over z (softmax), the weighted sum of the planes goes through a CARE U-Net.",
                "- weights: TensorFlow SavedModel and ONNX only. No Keras HDF5: the weighted sum over z is a custom "
                "Keras layer (carekit's WeightedZSum) that Keras cannot load without carekit's code."]
    return [f"- input: one channel, axes {'/'.join(train.axes.lower())}, any size that is a multiple of "
            f"{2**train.unet_depth} per axis; {normalized}",
            "- output: the restored image in those normalized units" + _output_channels(record)]


def _rescale_note(record: ModelRecord) -> list[str]:
    """How carekit rescales this model's inputs by default (ModelRecord.rescale), which other consumers do not."""
    if not record.rescale:
        return []
    how = {"search": "the scale estimated to restore each image best (downsampled or not)",
           "auto": "the training object scale"}[record.rescale]
    return [f"- carekit (Python and the Fiji plugin's python engine) restores it at {how} by default "
            f"(`--rescale {record.rescale}`; `--rescale 1` turns it off); bioimageio.core and deepImageJ run it at "
            "the image's own scale."]


def _blend_note(record: ModelRecord) -> list[str]:
    """That carekit mixes in classical denoising by default (ModelRecord.classical_blend), which others do not."""
    if not record.classical_blend:
        return []
    return ["- carekit also mixes the best classical denoiser into its restoration by default, in the share estimated "
            "best from the noisy image and only where that is estimated to help (`--classical-blend`; "
            "`--no-classical-blend` turns it off); bioimageio.core and deepImageJ run the model alone."]


def _deepimagej(formats: tuple[str, ...]) -> str:
    advice = ("use the ONNX weights" if "onnx" in formats
              else "this package has no ONNX weights: rebuild it with `carekit package --formats ... onnx`")
    return (f"- deepImageJ: {advice}. deepImageJ's TensorFlow engines stop at TensorFlow 2.10 and carekit's "
            "TensorFlow SavedModel is made with a newer TensorFlow; deepImageJ does not run Keras HDF5 weights.")


def _output_channels(record: ModelRecord) -> str:
    if record.kind == "ensemble":
        return (f"; an ensemble of {len(record.members)} probabilistic networks: channels are the Laplace mean and "
                "scale of each member (carekit combines them into the mixture mean and the disagreement D in [0, 1]).")
    if record.train.probabilistic:
        return ", plus a second channel with the per-pixel Laplace scale (probabilistic CARE)."
    return "."


def _validation(evaluation: dict | None) -> list[str]:
    if not evaluation:
        return ["Validate on your own data: restore images with known high-SNR ground truth and compare with "
                "`carekit evaluate` (PSNR/SSIM after CARE normalization)."]
    lines = ["Held-out semi-synthetic images, CARE normalization (ground truth 0.1/99.9 percentiles, prediction "
             "fitted by least squares), data range 1:", "",
             "| image | PSNR raw | PSNR CARE | SSIM raw | SSIM CARE |", "| --- | --- | --- | --- | --- |"]
    for row in evaluation.get("rows", []):
        lines.append(f"| {row['name']} | {row['raw']['psnr']:.2f} | {row['care']['psnr']:.2f} | "
                     f"{row['raw']['ssim']:.3f} | {row['care']['ssim']:.3f} |")
    return lines + list(evaluation.get("notes", []))  # further lines of the validation section (protocol, baselines)

"""Argument helpers shared by the commands: defaults read from the pydantic configs, the training-data options."""

from __future__ import annotations

import argparse
import typing

from pydantic import BaseModel

from ..config import SynthConfig
from ..data.builtin import DATASETS as BUILTIN_DATASETS
from ..precision import CHOICES as PRECISIONS
from ..synth.structures import STRUCTURE_KINDS


def builtin_names() -> str:
    """The built-in image sets for a help text: 2D ones, then those that are 2D planes or a 3D stack."""
    flat = [name for name, d in BUILTIN_DATASETS.items() if "Z" not in d.axes]
    stacks = [name for name, d in BUILTIN_DATASETS.items() if "Z" in d.axes]
    return f"{', '.join(flat)} (2D) or {', '.join(stacks)} (2D planes / 3D)"


def default(model: type[BaseModel], field: str):
    """The config's own default, so the CLI never repeats (and never drifts from) it."""
    return model.model_fields[field].default


def choices(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """The values a Literal config field accepts."""
    return typing.get_args(model.model_fields[field].annotation)


PRECISION_HELP = ("bf16: bfloat16 mixed precision, about 2x faster on CPUs with AVX512_BF16/AMX (a GPU uses its own "
                  "mixed precision); refused in one line on other CPUs; auto: bf16 where the hardware has it")


def add_precision_arg(parser: argparse.ArgumentParser, default: str | None, what: str) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=default, help=f"{what} {PRECISION_HELP}")


def add_rescale_arg(parser: argparse.ArgumentParser) -> None:
    from ..data.crops import ESTIMATE_SIDE
    from ..predict.rescale import MODEL, SEARCH_FACTORS

    factors = ", ".join(f"{f:g}" for f in SEARCH_FACTORS)
    parser.add_argument("--rescale", metavar="model|auto|search|FACTOR", default=MODEL, help="2D models: restore "
                        "each image downsampled in YX by FACTOR (>= 1; 1 is off) and upsample the result back; auto "
                        "does it only for objects clearly larger than the model's training scale, by the factor that "
                        f"brings them to it; search tries {factors} on the central {ESTIMATE_SIDE}x{ESTIMATE_SIDE} px "
                        "of the middle plane and keeps the one with the smallest error estimated from the noisy "
                        "image (about six restorations of that crop more). Default: model, the model's own mode "
                        "(the shipped generalist's is search, and so is that of a model fine-tuned from it that kept "
                        "its weights; other models are not rescaled)")


def add_hot_pixels_arg(parser: argparse.ArgumentParser, training: bool = False) -> None:
    """--hot-pixels for restoring, or (`training`) for self-supervised training on noisy images."""
    from ..data.hot_pixel_images import CHOICES, KEEP

    if training:
        help_text = ("hot (or dead) camera pixels in the noisy images, which self-supervised training learns as "
                     "signal: replace replaces them by the median of their 8 neighbours before training (and in the "
                     "--compare-on images); keep (default) trains on them as they are and warns when there are many")
    else:
        help_text = ("hot (or dead) camera pixels, which a model restores as spots: replace replaces them by the "
                     "median of their 8 neighbours before restoring; keep (default) leaves them and warns when there "
                     "are many")
    parser.add_argument("--hot-pixels", choices=CHOICES, default=KEEP, help=help_text)


def add_classical_blend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classical-blend", action=argparse.BooleanOptionalAction, default=None,
                        help="2D denoising models: mix the restoration with the best classical denoiser's (Gaussian, "
                        "NLM, TV, GAT+NLM) in the share estimated best from the noisy input alone, judged per channel "
                        "on a central crop of its middle plane (a few seconds per input on 2 CPU cores, plus the "
                        "classical denoiser on every plane), only where that is estimated to lower the error by 0.2%% "
                        "of the noise variance and 2 standard errors; replaces the classical check, whose warning it "
                        "gives (large data: whole YX planes per task where it mixes, planes up to 8192x8192). "
                        "Default: the model's own choice (the shipped generalist blends, and so does a model "
                        "fine-tuned from it that kept its weights; other models do not); --no-classical-blend turns "
                        "it off")


def add_tta_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tta", action="store_true", help="carekit's models but ensembles: test-time augmentation, "
                        "the restoration averaged over the input turned and flipped in YX, 8 ways (isotropic models: "
                        "flipped in their XZ/YZ planes, 4 ways): 8x (4x) the network's work, +0.01 to +0.4 dB (about "
                        "+0.2 on average) on the benchmark's images (a model trained on non-square patches never saw "
                        "them transposed: check images with a preferred direction, e.g. stripe noise, before relying "
                        "on it)")


def add_classical_check_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-classical-check", dest="classical_check", action="store_false",
                        help="2D denoising models: skip the comparison with classical denoising (Gaussian, NLM, TV, "
                        "GAT+NLM) that warns when one of them is estimated to do better on an input (from the noisy "
                        "input alone, on a central crop of its middle plane: about 3 s on 2 CPU cores)")


def at_least_one(what: str):
    """argparse type: a whole number >= 1 (0 must not fall back to a default)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{what} must be >= 1 (a positive whole number), got {text!r}")
        return value

    return parse


def add_source_args(parser: argparse.ArgumentParser, pairs: bool, required: bool = True) -> None:
    group = parser.add_argument_group("training data (choose one)")
    source = group.add_mutually_exclusive_group(required=required)
    if pairs:
        source.add_argument("--pairs", nargs=2, metavar=("LOW_DIR", "HIGH_DIR"),
                            help="registered low/high-SNR TIFFs with matching file names")
    source.add_argument("--builtin", metavar="NAME", help=f"built-in real high-SNR images: {builtin_names()}")
    source.add_argument("--clean", metavar="DIR", help="folder of your own high-SNR TIFFs to degrade semi-synthetically")
    source.add_argument("--synthetic", choices=STRUCTURE_KINDS, help="fully synthetic ground truth")
    group.add_argument("--n-images", type=int, default=8, help="number of synthetic images (default 8)")
    group.add_argument("--size", type=int, nargs="+", default=[256, 256], help="synthetic image size, 2 or 3 numbers")
    group.add_argument("--max-images", type=int, help="use at most this many clean images")
    _add_synth_args(parser)


def _add_synth_args(parser: argparse.ArgumentParser) -> None:
    synth = parser.add_argument_group("semi-synthetic degradation (for --builtin/--clean/--synthetic)")
    synth.add_argument("--photons", type=float, nargs="+", default=default(SynthConfig, "photons"),
                       help="peak photon counts, one noise level each")
    synth.add_argument("--psf", choices=choices(SynthConfig, "psf"), default=default(SynthConfig, "psf"))
    synth.add_argument("--psf-sigma", type=float, default=default(SynthConfig, "psf_sigma_px"),
                       help="Gaussian PSF sigma (pixels)")
    synth.add_argument("--na", type=float, default=default(SynthConfig, "na"), help="numerical aperture (widefield PSF)")
    synth.add_argument("--wavelength", type=float, default=default(SynthConfig, "wavelength_nm"),
                       help="emission wavelength in nm (widefield PSF)")
    synth.add_argument("--pixel-size-nm", type=float, default=default(SynthConfig, "pixel_size_nm"),
                       help="pixel size in nm (widefield PSF)")
    synth.add_argument("--read-noise", type=float, default=default(SynthConfig, "read_noise"),
                       help="camera read noise (counts)")
    synth.add_argument("--background", type=float, default=default(SynthConfig, "background_photons"),
                       help="background photons per pixel")
    synth.add_argument("--modulation", type=float, default=default(SynthConfig, "modulation"),
                       help="random intensity modulation strength in [0, 1)")
    synth.add_argument("--axial-subsample", type=int, default=default(SynthConfig, "axial_subsample"),
                       help="3D: keep every n-th plane (anisotropy)")
    synth.add_argument("--synth-seed", type=int, default=default(SynthConfig, "seed"))


def synth_config(args) -> SynthConfig:
    from ..config import validated

    return validated(SynthConfig, psf=args.psf, psf_sigma_px=args.psf_sigma, na=args.na, wavelength_nm=args.wavelength,
                     pixel_size_nm=args.pixel_size_nm, photons=args.photons, read_noise=args.read_noise,
                     background_photons=args.background, modulation=args.modulation,
                     axial_subsample=args.axial_subsample, seed=args.synth_seed)


def data_description(args) -> dict:
    from .. import workflows

    if getattr(args, "pairs", None):
        return workflows.data_from_pairs(*args.pairs)
    synth = synth_config(args)
    if args.synthetic:
        return workflows.data_from_structures(args.synthetic, tuple(args.size), args.n_images, synth)
    return workflows.data_from_clean(synth, folder=args.clean, builtin=args.builtin, max_images=args.max_images)



"""carekit selfsup / finetune: self-supervised denoising from noisy images, optionally from a pretrained model."""

from __future__ import annotations

import contextlib
import sys
import warnings

from ..config import SynthConfig, TrainConfig
from ..data.masking import SELF_SUPERVISED_METHODS
from .args import add_hot_pixels_arg, add_precision_arg, at_least_one, choices, default
from .start_comparison import add_compare_on_arg

COMMANDS = {
    "selfsup": "self-supervised denoising (Noise2Void / Noise2Self / R2R) from noisy images only",
    "finetune": "transfer learning: fine-tune a supervised model self-supervised on your noisy images",
}


def add_parser(sub) -> None:
    for name, text in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("--model", required=True, help="model folder to create")
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--noisy", help="folder of noisy TIFFs (no ground truth needed)")
        source.add_argument("--builtin", help="demo: semi-synthetic noisy versions of built-in images")
        p.add_argument("--pretrained", help="supervised CARE model folder or package (.zip) to start from, e.g. "
                       "model-zoo/care-generalist-nuclei-denoising.zip" +
                       (" (required)" if name == "finetune" else " (then this is transfer learning)"))
        p.add_argument("--method", choices=SELF_SUPERVISED_METHODS, default="r2r" if name == "finetune" else "n2v",
                       help="n2v/n2s: blind-spot masking; r2r: recorrupted pairs from an estimated noise model, "
                       "trains the network a supervised model is (default for finetune)")
        p.add_argument("--mask-fraction", type=float, default=0.01, help="n2v/n2s: fraction of pixels masked per patch")
        p.add_argument("--epochs", type=at_least_one("epochs"))
        p.add_argument("--steps", "--steps-per-epoch", type=int, help="steps per epoch")
        p.add_argument("--learning-rate", type=float, help="default: 4e-4 from scratch, the pretrained rate / 3 when fine-tuning")
        p.add_argument("--patience", type=int, default=10, help="early stopping patience (epochs)")
        p.add_argument("--batch-size", type=int)
        p.add_argument("--patch-size", type=int, nargs="+")
        p.add_argument("--axes", choices=choices(TrainConfig, "axes"))
        p.add_argument("--max-images", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--photons", type=float, nargs="+", default=default(SynthConfig, "photons"),
                       help="--builtin: photon levels")
        add_precision_arg(p, None, "training precision (default auto).")
        add_compare_on_arg(p)
        add_hot_pixels_arg(p, training=True)
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=run)


def _overrides(args) -> dict:
    overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps),
                                   ("learning_rate", args.learning_rate), ("batch_size", args.batch_size),
                                   ("axes", args.axes), ("seed", args.seed), ("precision", args.precision))
                 if v is not None}
    if args.patch_size:
        overrides["patch_size"] = tuple(args.patch_size)
    return overrides


def run(args) -> int:
    from .. import workflows
    from ..errors import InputError
    from .start_comparison import choose_on_images, prepared
    from .train_report import summary

    if args.command == "finetune" and not args.pretrained:
        raise InputError("finetune needs --pretrained MODEL (a supervised carekit model folder or package)")
    comparison = prepared(args.pretrained, args.compare_on, hot_pixels=args.hot_pixels)
    if args.builtin:
        from ..config import validated

        synth = validated(SynthConfig, photons=args.photons)
        data = workflows.data_from_noisy(builtin=args.builtin, synth=synth, max_images=args.max_images,
                                         hot_pixels=args.hot_pixels)
    else:
        data = workflows.data_from_noisy(folder=args.noisy, max_images=args.max_images, hot_pixels=args.hot_pixels)
    source, start_modes = (None, None), ""
    if args.pretrained:
        from .train_from import own_modes, resolve

        source = resolve(args.pretrained)
        start_modes = own_modes(source[0])
        data = {**data, "pretrained_from": args.pretrained}  # the path given, not the unpacked copy
    with _data_warnings_shown():
        result = workflows.selfsupervised(data, args.model, method=args.method, pretrained=source[0],
                                          pretrained_weights_file=source[1], mask_fraction=args.mask_fraction,
                                          patience=args.patience, progress=not args.quiet, **_overrides(args))
    print(summary(result, " (early stopping)", f"{args.method} validation loss", start_modes, args.pretrained,
                  compared=comparison is not None) + _replaced_note(result, args.hot_pixels))
    if comparison:
        print(choose_on_images(result, comparison))
    return 0


@contextlib.contextmanager
def _data_warnings_shown():
    """A TrainingHotPixelWarning as one line on stderr the moment it is raised (before training starts, so that the
    user can stop it); other warnings as Python shows them."""
    from ..data.hot_pixel_images import TrainingHotPixelWarning

    with warnings.catch_warnings():
        show = warnings.showwarning

        def shown(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, TrainingHotPixelWarning):
                print(f"warning: {message}", file=sys.stderr, flush=True)
            else:
                show(message, category, filename, lineno, file, line)

        warnings.showwarning = shown
        yield


def _replaced_note(result, hot_pixels: str) -> str:
    """The summary's line on the hot pixels replaced before training ('' unless --hot-pixels replace)."""
    from ..config import ModelRecord
    from ..data.hot_pixel_images import REPLACE

    if hot_pixels != REPLACE:
        return ""
    replaced = ModelRecord.load(result.model_dir).data["images"]["hot_pixels_replaced"]
    return f"\n  hot pixels: {replaced} replaced by their neighbours' median in the noisy images before training"

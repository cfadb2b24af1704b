"""carekit doctor: what this machine has and lacks, each with the command that fixes it."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="check Java, ImageJ, Jython, TensorFlow, GPU and built-in data")
    p.add_argument("--no-tensorflow", action="store_true", help="skip importing TensorFlow")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..doctor import report, run_checks

    checks = run_checks(with_tensorflow=not args.no_tensorflow)
    print(report(checks))
    return 0 if all(c.ok for c in checks) else 1

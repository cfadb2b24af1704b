"""What carekit predict reports beside the restoration, for files and for large data alike: out-of-range warnings,
one line each naming the input, and the comparison with classical denoising (predict.classical_check)."""

from __future__ import annotations

import contextlib
import sys
import warnings


def report_warnings(caught, path) -> None:
    """carekit's warnings at prediction as one line each on stderr, naming the input; other warnings as Python
    shows them."""
    from ..predict.domain_check import PredictionWarning

    for warning in caught:
        if issubclass(warning.category, PredictionWarning):
            print(f"warning: {path}: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


@contextlib.contextmanager
def warnings_reported(path):
    """Report (report_warnings) the warnings raised inside the block when it ends, also when it raises: warnings
    before an error are not lost."""
    from ..predict.domain_check import PredictionWarning

    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PredictionWarning)
            yield
    finally:
        report_warnings(caught, path)


def report_not_compared(error: Exception, path, quiet: bool) -> None:
    """An input the comparison could not judge: on stdout unless `quiet`; a comparison that failed: on stderr."""
    from ..errors import InputError
    from ..predict.classical_check import not_compared

    if not isinstance(error, InputError):
        print(f"{path}: {not_compared(error)}", file=sys.stderr)
    elif not quiet:
        print(f"{path}: {not_compared(error)}")


def compare_and_report(model, image, rescale, path, quiet: bool, hot_pixels: str) -> None:
    """Warn (one line on stderr) when a classical denoiser is estimated to do better on `image`; say how the model
    compares otherwise, unless `quiet`. Only carekit's 2D denoising models are compared."""
    from ..predict.classical_check import compare_with_classical, warn_if_worse
    from ..predict.rescale import is_2d_restoration

    if not is_2d_restoration(model):
        return
    try:
        comparison = compare_with_classical(model, image, rescale=rescale, hot_pixels=hot_pixels)
    except Exception as error:  # the check only advises: the restoration stands whatever goes wrong in it
        report_not_compared(error, path, quiet)
        return
    with warnings_reported(path):
        warn_if_worse(comparison)
    if not comparison.model_is_worse and not quiet:
        print(f"{path}: the model is {comparison.summary()}")

"""What carekit predict reports beside the restoration, for files and for large data alike: out-of-range warnings,
one line each naming the input, and the comparison with classical denoising (predict.classical_check)."""

from __future__ import annotations

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


def compare_and_report(model, image, rescale, path, quiet: bool) -> None:
    """Warn (one line on stderr) when a classical denoiser is estimated to do better on `image`; say how the model
    compares otherwise, unless `quiet`. Only carekit's 2D denoising models are compared."""
    from ..errors import InputError
    from ..predict.classical_check import compare_with_classical, is_2d_denoiser, warn_if_worse
    from ..predict.domain_check import PredictionWarning

    if not is_2d_denoiser(model):
        return
    try:
        comparison = compare_with_classical(model, image, rescale=rescale)
    except InputError as error:  # too small or too flat to estimate its noise
        if not quiet:
            print(f"{path}: not compared with classical denoising: {error}")
        return
    except Exception as error:  # the check only advises: the restoration stands whatever goes wrong in it
        print(f"{path}: not compared with classical denoising, the comparison failed: "
              f"{type(error).__name__}: {error}", file=sys.stderr)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PredictionWarning)
        warn_if_worse(comparison)
    report_warnings(caught, path)
    if not comparison.model_is_worse and not quiet:
        print(f"{path}: the model is {comparison.summary()}")

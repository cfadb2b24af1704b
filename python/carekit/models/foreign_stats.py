"""A bioimage.io package's preprocessing run on part of an image with the statistics of the whole image: how a
package that carekit did not make is run chunk by chunk on the distributed path without seams in its normalization.

Its preprocessing (e.g. zero_mean_unit_variance, scale_range) needs statistics ("measures": means, standard
deviations, quantiles) of the whole sample. `whole_image_stats` computes them with bioimageio.core's own calculator
on the whole plane/stack, once; `preprocess_with` applies the package's preprocessing to a chunk with those values
instead of the chunk's own (bioimageio.core's operators read them from the sample's `stat`), so a chunk is
normalized exactly as the whole image is in memory. `chunkwise_refusal` says why a package cannot run that way."""

from __future__ import annotations

import numpy as np


def _required(descr) -> tuple[set, set]:
    from bioimageio.core.proc_setup import get_requried_measures  # (sic) bioimageio.core's spelling

    required = get_requried_measures(descr)
    return set(required.pre), set(required.post)


def needs_whole_image_stats(descr) -> bool:
    """Whether the package's preprocessing computes statistics of its input (else chunks need nothing from the
    whole image)."""
    return bool(_required(descr)[0])


def chunkwise_refusal(descr, model_axes: list[str], several_planes: bool) -> str | None:
    """Why the package cannot run chunk by chunk on an image of one (`several_planes` False) or more planes/stacks,
    or None."""
    pre, post = _required(descr)
    if post:
        return ("its postprocessing needs statistics of the whole output, which no chunk knows before every chunk is "
                "predicted")
    if several_planes and any(m.scope == "dataset" for m in pre):
        return ("its preprocessing uses dataset statistics (over every image it is given), which carekit computes "
                "for one plane/stack at a time only: give an image of one plane/stack")
    spatial = {a for a in model_axes if a in ("z", "y", "x")}
    partial = sorted({type(m).__name__ for m in pre if m.axes is not None and not spatial <= {str(a) for a in m.axes}})
    if partial:
        return (f"its preprocessing takes statistics ({', '.join(partial)}) per row or plane of the image, which "
                "chunks would cut apart")
    whole = _whole_image_operators(descr, pre | post)
    if whole:
        return f"its processing ({', '.join(whole)}) works on the whole image at once, not block by block"
    for tensor in descr.outputs:
        channels = [a for a in tensor.axes if str(a.id) == "channel"]
        if channels and len(getattr(channels[0], "channel_names", [])) > 1:
            return f"its output {str(tensor.id)!r} has several channels; carekit writes one-channel outputs chunk-wise"
    if "channel" in model_axes and _input_channels(descr) > 1:
        return "its input has several channels; carekit feeds one-channel planes chunk-wise"
    return None


def _whole_image_operators(descr, measures: set) -> list[str]:
    """The package's pre/postprocessing operators that bioimageio.core runs on whole samples only (e.g. StarDist's
    or Cellpose's postprocessing)."""
    from bioimageio.core.proc_ops import BlockwiseOperator
    from bioimageio.core.proc_setup import setup_pre_and_postprocessing

    # placeholder values: only the operators' kinds are looked at, and with every measure given none computes them
    operators = setup_pre_and_postprocessing(descr, [], fixed_dataset_stats={m: 0.0 for m in measures})
    return [type(op).__name__ for op in (*operators.pre, *operators.post) if not isinstance(op, BlockwiseOperator)]


def _input_channels(descr) -> int:
    for axis in descr.inputs[0].axes:
        if str(axis.id) == "channel":
            return len(getattr(axis, "channel_names", [None]))
    return 1


def _sample(input_id, data: np.ndarray, model_axes: list[str], stat: dict | None = None):
    from bioimageio.core import Sample, Tensor

    return Sample(members={input_id: Tensor.from_numpy(data, dims=tuple(model_axes))}, stat=dict(stat or {}),
                  id="image")


def whole_image_stats(descr, input_id, data: np.ndarray, model_axes: list[str]) -> dict:
    """The measures the package's preprocessing needs, of `data` (the whole plane/stack in the model's axis order)."""
    from bioimageio.core.stat_calculators import StatsCalculator

    pre, _ = _required(descr)
    if not pre:
        return {}
    return StatsCalculator(pre).update_and_get_all(_sample(input_id, data, model_axes))


def preprocess_with(descr, input_id, data: np.ndarray, model_axes: list[str], stats: dict):
    """A bioimage.io Sample of `data` (model axis order) after the package's preprocessing, computed with `stats`
    (whole_image_stats of the whole image) instead of statistics of `data`."""
    from bioimageio.core.proc_setup import setup_pre_and_postprocessing

    sample = _sample(input_id, data, model_axes, stats)
    # every measure is given, so bioimageio.core adds no operator that would compute them from this part
    for operator in setup_pre_and_postprocessing(descr, [], fixed_dataset_stats=stats).pre:
        operator(sample)
    return sample

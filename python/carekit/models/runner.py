"""The one protocol every loaded model follows, whatever its source (carekit folder, carekit package, any
bioimage.io package): `spec` says how to feed it, `forward` runs it on a batch."""

from __future__ import annotations

import abc

import numpy as np

from .spec import NetworkSpec


class ModelRunner(abc.ABC):
    """A loaded network. restore() normalizes each plane with `spec`'s percentiles, cuts it into tiles with
    `spec.halo` of context and sizes that are multiples of `spec.divisor`, and calls `forward` on each tile."""

    spec: NetworkSpec

    @abc.abstractmethod
    def forward(self, batch: np.ndarray) -> np.ndarray:
        """float32 (batch, [z,] y, x, 1) in normalized units -> (batch, [z,] y, x, len(spec.output_channels))."""


class PipelineRunner(ModelRunner):
    """A package that brings its own pre/postprocessing and tiling (any bioimage.io model): restore() hands it whole
    images through `predict_image` instead of normalizing and tiling them. `output_ids` name its outputs."""

    output_ids: list[str]

    @abc.abstractmethod
    def predict_image(self, image: np.ndarray, axes: str) -> np.ndarray:
        """The output for `image` with `axes` (e.g. 'YX', 'ZYX', 'CYX'): the spatial axes in the image's order,
        after a leading channel axis when the model gives more than one channel."""

    @abc.abstractmethod
    def predict_outputs(self, image: np.ndarray, axes: str, progress: bool = True,
                        stats: dict | None = None) -> dict[str, np.ndarray]:
        """Every output of the model by id, each as predict_image gives the first (with a progress bar unless
        `progress` is False); `stats`: whole_image_stats of the larger image `image` is part of, used by the
        preprocessing instead of statistics of `image`."""

    @property
    @abc.abstractmethod
    def needs_whole_image_stats(self) -> bool:
        """Whether the model's preprocessing computes statistics of its input (whole_image_stats is empty if not)."""

    @abc.abstractmethod
    def whole_image_stats(self, image: np.ndarray, axes: str) -> dict:
        """The statistics the model's preprocessing computes over `image`."""

    @abc.abstractmethod
    def chunkwise_refusal(self, several_planes: bool) -> str | None:
        """Why the model cannot run chunk by chunk (with whole_image_stats) on an image of one or several
        planes/stacks, or None."""

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Each item of a (batch, [z,] y, x, channel) array through predict_image, channels last again."""
        outputs = []
        for item in np.moveaxis(np.asarray(batch), -1, 1):
            image, axes = (item[0], self.spec.axes) if len(item) == 1 else (item, "C" + self.spec.axes)
            out = self.predict_image(image, axes)
            outputs.append(np.moveaxis(out, 0, -1) if out.ndim > len(self.spec.axes) else out[..., None])
        return np.stack(outputs)

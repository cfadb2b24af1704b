"""Packages made by carekit (a description with a `config.carekit` block): run one weight format (ONNX, TensorFlow
SavedModel or Keras HDF5) on tiles that restore() prepares, as the model folder would."""

from __future__ import annotations

import numpy as np

from ..config import PackageCarekitBlock
from ..errors import InputError
from .package_files import OpenedPackage
from .runner import ModelRunner
from .spec import network_spec_from_block
from .weights import WEIGHT_PRIORITY, choose_weight_format, load_runtime


class CarekitPackage(ModelRunner):
    """A carekit bioimage.io package run with one weight format (`engine`, or the first of WEIGHT_PRIORITY that the
    package has and this machine can run); the runtime loads on the first forward call."""

    def __init__(self, package: OpenedPackage, engine: str | None = None, precision: str = "fp32",
                 threads: int | None = None, lean_memory: bool = False):
        """`precision` bf16 (or auto where the hardware has bf16) runs the package's float32 Keras weights in bf16
        mixed precision, whatever the engine: ONNX and SavedModel weights are float32 networks."""
        block = package.carekit_block()
        if block is None:
            raise InputError(f"{package.source} is not a carekit package (its description has no config.carekit block)")
        self.block = PackageCarekitBlock.read(block, package.source)
        self.spec = network_spec_from_block(self.block)
        self.root = package.root
        self.precision = "fp32"
        if precision != "fp32":
            from ..train.precision import choose

            self.precision = choose(precision)
        if self.precision != "fp32":
            engine = "keras"
        network = self.block.network_weights  # the bare network, when the weights hold a whole Z-zoom recipe
        self.weight_format = choose_weight_format(package.descr, engine, package.source, list(network) or None)
        if self.weight_format is None:
            raise InputError(f"{package.source} has none of the weight formats carekit runs {WEIGHT_PRIORITY}; "
                             "export the package again")
        self.weights_path = (package.checked_attachment(network[self.weight_format]) if network
                             else package.checked_weights(self.weight_format)[self.weight_format])
        self.threads, self.lean_memory = threads, lean_memory
        self._run = None

    def forward(self, batch: np.ndarray) -> np.ndarray:
        if self._run is None:
            self._run = load_runtime(self.weight_format, self.weights_path, self.precision, self.threads,
                                     self.lean_memory)
        return self._run(np.ascontiguousarray(batch, dtype=np.float32))

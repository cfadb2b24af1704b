"""Model types and their runners: one protocol (models.runner.ModelRunner: `spec` + `forward`) with adapters for
carekit model folders, carekit packages and any bioimage.io package; `load_model` picks the adapter and the weight
format. The TensorFlow / ONNX Runtime imports live here (and in train/) only."""

from .load import load_model

__all__ = ["load_model"]

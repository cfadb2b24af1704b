"""Restore images with a trained model (restore.py): normalization as in training, exact tiling with the
network's halo, progress. Models load through carekit.models.load_model, which restore() also takes paths for."""

from ..models import load_model
from .restore import Restoration, restore

__all__ = ["Restoration", "load_model", "restore"]

"""The generalist denoiser's data and training: the built-in image sets with a clean reference (or all but one, for
the leave-one-dataset-out protocol), degraded at random zoom, optics and noise (synth.generalist)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import TrainConfig
from .data import builtin
from .errors import InputError
from .synth.generalist import TEST_ONLY, GeneralistSettings, generalist_pairs, split

DATASETS = ("hela", "nuclei3d", "bbbc007", "mahotas")  # the image sets the generalist is tested on
# ... and trained on: nuclei3d's reference is a raw confocal plane whose own noise (~4% of its 99.9th percentile) a
# model would learn to reproduce. Without it in training the other left-out datasets scored higher in 11 of 12
# paired cases, +0.77 / +0.73 dB on average (seeds 0 / 1; benchmarks/results/generalist_ablation_all.md).
TRAINING_DATASETS = ("hela", "bbbc007", "mahotas")
# ... and not trained on by the shipped models nor used to choose any setting: the independent check of what was
# chosen on DATASETS (the recipe, the warning levels, rescale="auto"), added after those choices. Only a benchmark
# variant (with-gowt1) trains on it, to see what one more real dataset in training does.
UNSEEN_DATASETS = ("gowt1",)
# ... and one more, held out whole (synth.generalist.TEST_ONLY: not even a benchmark variant trains on it)
INDEPENDENT_DATASETS = TEST_ONLY


def splits(names=DATASETS) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """{dataset: (training images, held-out test images)} of built-in 2D image sets."""
    return {name: split(name, builtin.clean_images(name, ndim=2)[0]) for name in names}


def training_data(leave_out: str | None = None, settings: GeneralistSettings | None = None,
                  datasets: tuple[str, ...] = TRAINING_DATASETS):
    """(sources, targets, data description) from the training images of `datasets` except `leave_out` (the one a
    benchmark tests on)."""
    known = DATASETS + UNSEEN_DATASETS
    unknown = [n for n in (leave_out, *datasets) if n is not None and n not in known]
    if unknown:
        raise InputError(f"unknown dataset {unknown[0]!r}; choose from {', '.join(known)}")
    settings = settings or GeneralistSettings()
    names = [n for n in datasets if n != leave_out]
    if not names:
        raise InputError("no dataset is left to train on")
    lows, highs = generalist_pairs({n: train for n, (train, _) in splits(names).items()}, settings)
    return lows, highs, {"source": "generalist", "datasets": names, "left_out": leave_out,
                         "settings": settings.as_dict()}


OWN_RESCALE = "search"  # the generalist's own rescale mode (ModelRecord.rescale; train_generalist)
# and its own prediction modes (ModelRecord fields): rescale search, and the classical blend, which took its mean
# margin over the best baseline at 30 / 100 photons from -1.97 / -4.97 to +0.07 / -0.98 dB and never lowered PSNR
# (benchmarks/results/light_range.md, classical_blend*.md)
OWN_MODES = {"rescale": OWN_RESCALE, "classical_blend": True}


def train_generalist(model_dir: str | Path, config: TrainConfig, leave_out: str | None = None,
                     settings: GeneralistSettings | None = None, progress: bool = True,
                     datasets: tuple[str, ...] = TRAINING_DATASETS):
    """Train a (normally probabilistic) CARE model on generalist pairs in `model_dir`. It predicts with its
    OWN_MODES unless told otherwise: rescale 'search' (trained across scales, it is at least level with the best
    classical baseline in 9 of 10 unseen-dataset cases with it, 5 without: benchmarks/results/rescale_search.md) and
    the classical blend."""
    from .train.care import train_care

    lows, highs, info = training_data(leave_out, settings, datasets)
    return train_care(lows, highs, config, model_dir, data_info=info, progress=progress,
                      record_fields=dict(OWN_MODES))


def recipe(epochs: int = 100, steps_per_epoch: int = 40, seed: int = 0) -> TrainConfig:
    """The generalist's network and training settings (the shipped model and the benchmarks use the same):
    probabilistic, U-Net depth 2 with 32 filters, 64x64 patches, 4000 steps, fp32 ("auto" would train a different
    model where the CPU has bf16). With BBBC007 left out depth 2 beat depth 3 by 2.5 / 1.4 dB (3 / 10 photons) at
    320 steps and 2.5 / 1.5 dB at 1600 (benchmarks/results/generalist_ablation_bbbc007.md); with HeLa left out it
    lost 0.7 / 0.7 dB, with mahotas -1.0 / +1.1 (generalist-with-nuclei3d.md vs generalist-depth3-with-nuclei3d.md).
    It costs less per step on a CPU. 4000 steps instead of 1600 gained 0.27 dB on average over the left-out datasets
    (bf16, 6 paired cases; generalist-100x40-f32-bf16.md vs generalist-bf16.md), 0.29 with nuclei3d in training and
    0.27 in fp32 over all 8 (generalist-100x40-f32.md vs generalist.md)."""
    return TrainConfig(probabilistic=True, unet_depth=2, unet_first=32, patch_size=(64, 64), patches_per_image=16,
                       batch_size=16, epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed, precision="fp32")

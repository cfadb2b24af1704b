"""User-facing workflows: where training data comes from, and training from it (the façade the CLI calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import ModelRecord, SynthConfig, TrainConfig, validated
from .data.hot_pixel_images import KEEP, REPLACE, check_choice, training_images
from .errors import InputError
from .io import Image, list_tiffs, load_pairs, pair_folders, read_image, write_image
from .safe_write import prepare_output_folder

# fine-tuning learning rate = pretraining rate / 3: lower, so the pretrained features survive; at / 10 fine-tuning
# was too slow to beat training from scratch within 5-15 epochs (benchmarks/results/transfer.md)
FINETUNE_LR_DIVISOR = 3
# epochs that `train --resume` adds when not told
RESUME_EPOCHS = 10


def data_from_pairs(low_dir: str | Path, high_dir: str | Path) -> dict:
    return {"source": "pairs", "low": str(Path(low_dir).resolve()), "high": str(Path(high_dir).resolve())}


def data_from_clean(synth: SynthConfig, folder: str | Path | None = None, builtin: str | None = None,
                    max_images: int | None = None) -> dict:
    if (folder is None) == (builtin is None):
        raise InputError("give either a folder of high-SNR images or the name of built-in data")
    source = {"folder": str(Path(folder).resolve())} if folder else {"builtin": builtin}
    return {"source": "clean", **source, "max_images": max_images, "synth": synth.model_dump()}


def data_from_structures(structure: str, shape: tuple[int, ...], n_images: int, synth: SynthConfig) -> dict:
    return {"source": "synthetic", "structure": structure, "shape": list(shape), "n_images": n_images,
            "synth": synth.model_dump()}


def clean_images(data: dict, ndim: int) -> tuple[list[np.ndarray], dict]:
    """The clean (high-SNR) images a 'clean' or 'synthetic' data description refers to."""
    from .data import builtin
    from .synth.structures import synthetic_ground_truth

    if data["source"] == "synthetic":
        shape = tuple(data["shape"])
        if len(shape) != ndim:
            raise InputError(f"synthetic image shape {shape} does not match a {ndim}D model")
        return synthetic_ground_truth(data["structure"], shape, data["n_images"], seed=data["synth"]["seed"]), {}
    if data.get("builtin"):
        return builtin.clean_images(data["builtin"], ndim, data.get("max_images"))
    paths = _folder_tiffs(data)
    images = [read_image(p) for p in paths]
    bad = [f"{p.name} ({im.data.shape})" for p, im in zip(paths, images) if im.data.ndim != ndim]
    if bad:
        raise InputError(f"a {ndim}D model needs {ndim}D images; these are not: {', '.join(bad)}")
    return [im.data for im in images], images[0].pixel_size


def _folder_tiffs(data: dict) -> list[Path]:
    """The TIFFs of a data description's folder, at most its max_images; an empty folder is an error."""
    paths = list_tiffs(data["folder"])[: data.get("max_images")]
    if not paths:
        raise InputError(f"no .tif/.tiff files in {data['folder']}")
    return paths


def training_pairs(data: dict, ndim: int) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """(sources, targets, pixel size) for any data description (also used to resume training)."""
    from .synth.pairs import make_pairs

    if data["source"] == "pairs":
        lows, highs, axes = load_pairs(data["low"], data["high"])
        if len(axes) != ndim:
            raise InputError(f"the image pairs have axes {axes} but a {ndim}D model was asked for")
        return lows, highs, read_image(list_tiffs(data["low"])[0]).pixel_size
    clean, pixel_size = clean_images(data, ndim)
    lows, highs = make_pairs(clean, SynthConfig(**data["synth"]))
    return lows, highs, pixel_size


def write_pairs(lows: list[np.ndarray], highs: list[np.ndarray], out_dir: str | Path, axes: str,
                pixel_size: dict | None = None) -> Path:
    """Save pairs as out_dir/low/NNN.tif and out_dir/high/NNN.tif, ready for `carekit train --pairs`.

    `out_dir` must be new or empty: new pairs mixed with the files of an earlier run would pair wrongly."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        held = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in out_dir.iterdir())[:5])
        raise InputError(f"{out_dir} is not empty (holds {held}); new pairs would mix with the files there: "
                         "give a new or empty folder")
    prepare_output_folder(out_dir)
    for index, (low, high) in enumerate(zip(lows, highs)):
        name = f"{index:03d}.tif"
        write_image(out_dir / "low" / name, Image(low.astype(np.float32), axes, pixel_size or {}))
        write_image(out_dir / "high" / name, Image(high.astype(np.float32), axes, pixel_size or {}))
    return out_dir


def train(data: dict, model_dir: str | Path, config: TrainConfig | None = None, progress: bool = True,
          init_from: tuple[Path, Path] | None = None, **overrides):
    """Train a CARE model on the data a description names (see data_from_*), writing everything to `model_dir`;
    `init_from` = (model folder or unpacked package, its Keras weights) to start from (train_care)."""
    config = config or validated(TrainConfig, **overrides)
    lows, highs, pixel_size = training_pairs(data, len(config.axes))
    from .train.care import train_care

    return train_care(lows, highs, config, model_dir, data_info=data, pixel_size=pixel_size, progress=progress,
                      record_fields={"z_factor": _axial_subsample(data, config)}, init_from=init_from)


def _axial_subsample(data: dict, config: TrainConfig) -> int:
    """The axial subsampling of 3D training pairs (prediction zooms Z by it first), 1 when there is none."""
    return data.get("synth", {}).get("axial_subsample", 1) if config.axes == "ZYX" else 1


def projection_pairs(data: dict, planes: int) -> tuple[list[np.ndarray], list[np.ndarray], dict]:
    """(stacks, 2D targets, YX pixel size) for a projection model: registered pairs (a 3D low-SNR stack and its 2D
    ground truth with the same file name), or clean 2D images embedded on random curved surfaces of `planes`
    planes at the description's photon levels and camera (synth.surface)."""
    from .synth.surface import SurfaceSettings, surface_pairs

    if data["source"] == "pairs":
        pairs = [(read_image(low), read_image(high)) for low, high in pair_folders(data["low"], data["high"])]
        pixel_size = {a: v for a, v in pairs[0][0].pixel_size.items() if a in "YX"}
        return [low.data for low, _ in pairs], [high.data for _, high in pairs], pixel_size
    clean, pixel_size = clean_images(data, 2)
    synth = SynthConfig(**data["synth"])
    settings = SurfaceSettings(n_planes=planes, background_photons=synth.background_photons,
                               read_noise=synth.read_noise, gain=synth.gain, offset=synth.offset)
    stacks, targets = surface_pairs(clean, synth.photons, settings, seed=synth.seed)
    return stacks, targets, pixel_size


def train_projection(data: dict, model_dir: str | Path, config: TrainConfig, planes: int = 16,
                     progress: bool = True, init_unet: str | Path | None = None):
    """Train a joint surface projection + denoising model (stack in, 2D image out) on the described data;
    `init_unet`: Keras weights of a 2D CARE model with the same U-Net settings to start its 2D U-Net from."""
    stacks, targets, pixel_size = projection_pairs(data, planes)
    from .train.projection import train_projection as train

    return train(stacks, targets, config, model_dir, data_info={**data, "planes": planes}, pixel_size=pixel_size,
                 progress=progress, init_unet=init_unet)


def train_ensemble(data: dict, model_dir: str | Path, config: TrainConfig, members: int = 5, progress: bool = True):
    """Train an ensemble of `members` probabilistic CARE models on the described data."""
    if _axial_subsample(data, config) > 1:
        raise InputError("ensembles of axial-upsampling models are not supported (the members would not record the "
                         "Z zoom their inputs need): train one model with --axial-subsample, or drop it")
    lows, highs, pixel_size = training_pairs(data, len(config.axes))
    from .train.ensemble import train_ensemble as train

    return train(lows, highs, config, model_dir, members=members, data_info=data, pixel_size=pixel_size,
                 progress=progress)


def resume(model_dir: str | Path, epochs: int, progress: bool = True):
    """Continue training a model for `epochs` more epochs from its last checkpoint, on the same data."""
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    record = ModelRecord.load(model_dir)
    if not record.data:
        raise InputError(f"{model_dir} does not record its training data, so it cannot be resumed from the CLI")
    if record.kind == "projection":
        raise InputError(f"{model_dir} is a projection model; resuming those is not supported: train a new one")
    if record.data.get("source") == "selfsupervised":
        raise InputError(f"{model_dir} was trained self-supervised; resuming those is not supported yet: train it "
                         "again (carekit selfsup / finetune) with more --epochs")
    if record.kind == "isotropic":
        raise InputError(f"{model_dir} is an isotropic model; resuming those is not supported yet: train a new one "
                         "with more --epochs")
    lows, highs, pixel_size = training_pairs(record.data, len(record.train.axes))
    from .train.care import train_care

    return train_care(lows, highs, record.train, model_dir, pixel_size=pixel_size, resume=True, extra_epochs=epochs,
                      progress=progress)


def data_from_noisy(folder: str | Path | None = None, builtin: str | None = None, synth: SynthConfig | None = None,
                    max_images: int | None = None, hot_pixels: str = KEEP) -> dict:
    """Noisy images for self-supervised training: your own folder, or (for demos and tests) semi-synthetic
    noisy versions of built-in images whose clean originals are never shown to the network. `hot_pixels`: 'replace'
    replaces each image's hot (or dead) camera pixels by their neighbours' median before training; 'keep' trains on
    them as they are and warns when there are many (data.hot_pixel_images.training_images)."""
    if (folder is None) == (builtin is None):
        raise InputError("give either a folder of noisy images or the name of built-in data")
    check_choice(hot_pixels)
    if folder:
        return {"source": "noisy", "folder": str(Path(folder).resolve()), "max_images": max_images,
                "hot_pixels": hot_pixels}
    return {"source": "noisy", "builtin": builtin, "max_images": max_images,
            "synth": (synth or SynthConfig()).model_dump(), "hot_pixels": hot_pixels}


def noisy_images(data: dict, ndim: int) -> tuple[list[np.ndarray], int]:
    """The noisy training images a 'noisy' data description refers to, as training takes them (hot pixels replaced
    where it says so), and how many hot pixels were replaced."""
    if data.get("folder"):
        images = [read_image(p).data for p in _folder_tiffs(data)]
    else:
        from .synth.pairs import make_pairs

        clean, _ = clean_images({**data, "source": "clean"}, ndim)
        images = make_pairs(clean, SynthConfig(**data["synth"]))[0]
    return training_images(images, "ZYX"[-ndim:], data.get("hot_pixels", KEEP))


def selfsupervised(data: dict, model_dir: str | Path, config: TrainConfig | None = None, method: str = "n2v",
                   pretrained: str | Path | None = None, mask_fraction: float = 0.01, patience: int = 10,
                   progress: bool = True, pretrained_weights_file: str | Path | None = None, **overrides):
    """Self-supervised training (Noise2Void, Noise2Self or R2R) on noisy images only; with `pretrained` (a CARE
    model folder, or an unpacked package's folder with `pretrained_weights_file`), transfer learning from a supervised
    model (its architecture and normalization are kept; a probabilistic model's mean)."""
    if pretrained is not None:
        base = ModelRecord.load(pretrained).train
        overrides = {"axes": base.axes, "patch_size": base.patch_size,
                     "learning_rate": base.learning_rate / FINETUNE_LR_DIVISOR, **overrides}
    config = config or validated(TrainConfig, **overrides)
    noisy, replaced = noisy_images(data, len(config.axes))
    if data.get("hot_pixels") == REPLACE:
        data = {**data, "hot_pixels_replaced": replaced}
    from .train.selfsup import train_selfsupervised

    return train_selfsupervised(noisy, config, model_dir, method=method, mask_fraction=mask_fraction,
                                pretrained=pretrained, patience=patience, data_info=data, progress=progress,
                                pretrained_weights_file=pretrained_weights_file)

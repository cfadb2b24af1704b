"""Validated configuration, saved as `carekit.json` next to the weights so any model can be reloaded or fine-tuned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError
from .safe_write import write_text

CONFIG_VERSION = 1
RescaleMode = Literal["auto", "search"]  # as carekit.predict.rescale.AUTO and SEARCH (a test checks they agree)
MODEL_CONFIG_FILE = "carekit.json"
BEST_WEIGHTS = "weights_best.h5"  # a model folder's Keras weights: the best so far, and the last epoch's
LAST_WEIGHTS = "weights_last.h5"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SynthConfig(_Strict):
    """How a clean (high-SNR) image is degraded into a semi-synthetic low-SNR input.

    Photon numbers refer to the ground truth scaled so that its 99.9th percentile is 1.
    """

    psf: Literal["none", "gaussian", "widefield"] = "none"
    psf_sigma_px: float = Field(1.0, gt=0, description="Gaussian PSF sigma in pixels")
    na: float = Field(1.2, gt=0, description="numerical aperture (widefield PSF)")
    wavelength_nm: float = Field(520.0, gt=0, description="emission wavelength (widefield PSF)")
    pixel_size_nm: float = Field(100.0, gt=0, description="pixel size in the sample plane (widefield PSF)")
    n_immersion: float = Field(1.33, ge=1.0)
    photons: list[float] = Field([10.0], min_length=1, description="peak photon counts; one noise level per value")
    background_photons: float = Field(1.0, ge=0)
    read_noise: float = Field(2.0, ge=0, description="camera read noise sigma in counts")
    gain: float = Field(1.0, gt=0)
    offset: float = Field(100.0, ge=0)
    modulation: float = Field(0.0, ge=0, lt=1, description="strength of random smooth intensity modulation")
    modulation_px: float = Field(32.0, gt=0)
    axial_subsample: int = Field(1, ge=1, description="3D only: keep every n-th plane (anisotropy)")
    seed: int = 0

    @field_validator("photons")
    @classmethod
    def _positive_photons(cls, value: list[float]) -> list[float]:
        if any(p <= 0 for p in value):
            raise ValueError("photon levels must be positive")
        return value


DEFAULT_PATCH_SIZE = {"YX": (64, 64), "ZYX": (16, 64, 64)}


class TrainConfig(_Strict):
    """CARE network and training settings (passed on to csbdeep)."""

    model_config = ConfigDict(allow_inf_nan=False)

    axes: Literal["YX", "ZYX"] = "YX"
    patch_size: tuple[int, ...] = DEFAULT_PATCH_SIZE["YX"]
    patches_per_image: int = Field(64, ge=1)
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    epochs: int = Field(40, ge=1)
    steps_per_epoch: int = Field(100, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(4e-4, gt=0)
    unet_depth: int = Field(2, ge=1, le=5)
    unet_first: int = Field(32, ge=4)
    unet_kern_size: int = Field(3, ge=3)
    probabilistic: bool = False
    loss: Literal["mae", "mse"] = Field(
        "mae", description="loss of a non-probabilistic model: mae (CARE's: the conditional median) or mse (the "
                           "conditional mean, what PSNR rewards); probabilistic models fit a Laplace likelihood")
    norm_pmin: float = Field(1.0, ge=0, lt=50, description="input normalization: low percentile")
    norm_pmax: float = Field(99.8, gt=50, le=100, description="input normalization: high percentile")
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto | fp32 | bf16 (see carekit.precision); a trained model records the precision "
                            "that trained it (fp32, bf16, or fp16 on GPUs without bf16)")

    @model_validator(mode="before")
    @classmethod
    def _default_patch_for_axes(cls, values):
        if isinstance(values, dict) and values.get("patch_size") is None:
            values = {**values, "patch_size": DEFAULT_PATCH_SIZE.get(values.get("axes", "YX"), DEFAULT_PATCH_SIZE["YX"])}
        return values

    @model_validator(mode="after")
    def _loss_fits_network(self) -> "TrainConfig":
        if self.probabilistic and self.loss != "mae":
            raise ValueError(f"loss {self.loss!r} is for non-probabilistic models; a probabilistic one fits a "
                             "Laplace likelihood (leave loss at 'mae')")
        return self

    @model_validator(mode="after")
    def _patch_fits_network(self) -> "TrainConfig":
        if len(self.patch_size) != len(self.axes):
            raise ValueError(f"patch_size {self.patch_size} needs one entry per axis of {self.axes}")
        divisor = 2**self.unet_depth
        bad = [p for p in self.patch_size if p % divisor or p < 2 * divisor]
        if bad:
            raise ValueError(f"patch sizes must be multiples of 2**unet_depth={divisor} and at least {2 * divisor}, got {self.patch_size}")
        return self


PROJECTION_MIN_PLANES = 3  # a projection model refuses stacks with fewer planes (nothing to choose between)


class ModelRecord(_Strict):
    """Everything needed to rebuild, reload or fine-tune a trained model."""

    config_version: int = CONFIG_VERSION
    carekit_version: str
    name: str
    kind: Literal["care", "ensemble", "isotropic", "projection"] = "care"
    members: list[str] = Field(default_factory=list, description="ensemble: member model folders (relative)")
    train: TrainConfig
    data: dict = Field(default_factory=dict, description="where the training data came from (source, synth settings)")
    pixel_size: dict[str, float] = Field(default_factory=dict)
    epochs_done: int = 0
    start_validation_loss: float | None = Field(None, allow_inf_nan=False, description="fine-tuning: the starting "
                                                "weights' validation loss, what an epoch must beat to replace them")
    rescale: RescaleMode | None = Field(None, description="how prediction rescales this model's inputs unless told "
                                                  "otherwise (carekit.predict.rescale); None: it does not. A "
                                                  "fine-tuned model has its start's mode and domain while its "
                                                  "weights are best")
    classical_blend: bool = Field(False, description="whether prediction mixes in classical denoising where that is "
                                  "estimated to help (carekit.predict.classical_blend) unless told otherwise; like "
                                  "rescale, a fine-tuned model has its start's while its weights are best")
    domain: dict = Field(default_factory=dict, description="reference statistics of the training inputs and the "
                                                           "validation uncertainty (carekit.domain); empty if unknown")
    start_chosen_on_images: bool = Field(False, description="fine-tuning: `--compare-on` estimated the starting weights "
                                         "to restore the user's images better, so weights_best.h5 are theirs again "
                                         "(the fine-tuned best set aside as weights_fine_tuned.h5) until a resumed "
                                         "epoch beats every validation loss so far")
    projection_head_depth: int = Field(2, ge=1, le=4, description="projection: 3D head levels (pooling 1x2x2)")
    projection_head_filters: int = Field(8, ge=1, description="projection: 3D head filters at the first level")
    projection_head: Literal["unet", "coarse"] = Field("unet", description="projection: the 3D head, CSBDeep's encoder-decoder (unet) or weights over Z at 1/2**depth lateral resolution (coarse)")
    projection_planes: int = Field(0, ge=0, description="projection: planes of the training stacks")
    z_factor: float = Field(1.0, ge=1, allow_inf_nan=False,
                            description="isotropic: the Z/XY pixel-size ratio trained for; a 3D CARE model: its "
                                        "axial subsampling (prediction zooms Z by it first)")

    def save(self, model_dir: str | Path) -> Path:
        return write_text(Path(model_dir) / MODEL_CONFIG_FILE, self.model_dump_json(indent=2))

    @classmethod
    def load(cls, model_dir: str | Path) -> "ModelRecord":
        path = Path(model_dir) / MODEL_CONFIG_FILE
        if not path.exists():
            raise InputError(f"{model_dir} is not a carekit model directory (no {MODEL_CONFIG_FILE})")
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except ValidationError as err:
            details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in err.errors())
            raise InputError(f"{path} is not a valid carekit model config ({details})") from err
        except (ValueError, OSError) as err:  # JSON syntax, not UTF-8 text, unreadable
            raise InputError(f"{path} is not a valid carekit model config ({err})") from err


PACKAGE_BLOCK_VERSION = 5  # 2: domain, kind, z_factor; 3: network_weights; 4: rescale; 5: classical_blend


class PackageCarekitBlock(_Strict):
    """The `config.carekit` block of a carekit package's rdf.yaml: what carekit needs to run the package's network
    beyond the bioimage.io description. Written by zoo.package and read by models.carekit_package through this one
    model. `block_version` grows when a field is added or changes meaning; packages written before it existed are
    version 1."""

    model_config = ConfigDict(allow_inf_nan=False)

    block_version: int = Field(PACKAGE_BLOCK_VERSION, ge=1)
    version: str = Field(description="carekit version that wrote the package")
    axes: Literal["YX", "ZYX"]
    probabilistic: bool
    norm_pmin: float = Field(ge=0, lt=50)
    norm_pmax: float = Field(gt=50, le=100)
    halo: int = Field(ge=0, description="pixels of context per side the network needs (a multiple of step)")
    step: int = Field(ge=1, description="input sizes must be multiples of this (2**unet_depth)")
    output_channels: list[str] = Field(min_length=1)
    ensemble_members: int = Field(0, ge=0)
    domain: dict = Field(default_factory=dict, description="what the model was trained on (carekit.domain), for "
                                                           "out-of-range warnings; empty in older packages")
    kind: Literal["care", "isotropic", "projection"] = Field(
        "care", description="isotropic: a 2D network that carekit applies to the XZ and YZ planes of a Z-zoomed stack; "
                            "projection: input a stack (Z, Y, X), output `axes` (YX)")
    z_factor: float = Field(1.0, ge=1, description="Z zoom before the network (isotropic, or axial upsampling)")
    network_weights: dict[str, str] = Field(
        default_factory=dict, description="weight format -> attached file of the bare network, for packages whose "
                                          "weights hold the whole Z-zoom recipe (carekit tiles the bare network itself)")
    rescale: RescaleMode | None = Field(None, description="how carekit rescales inputs unless told otherwise "
                                                          "(ModelRecord.rescale)")
    classical_blend: bool = Field(False, description="whether carekit mixes in classical denoising unless told "
                                                     "otherwise (ModelRecord.classical_blend)")

    def for_rdf(self) -> dict:
        """The block as written into rdf.yaml: the lowest block_version that holds its content, so that an older
        carekit still reads a package that uses no newer field (network_weights is version 3, rescale 4, classical_blend
        5)."""
        if self.classical_blend:
            return self.model_dump()
        if self.rescale is not None:
            return {**self.model_dump(exclude={"classical_blend"}), "block_version": 4}
        if self.network_weights:
            return {**self.model_dump(exclude={"rescale", "classical_blend"}), "block_version": 3}
        return {**self.model_dump(exclude={"network_weights", "rescale", "classical_blend"}), "block_version": 2}

    @classmethod
    def read(cls, block, source) -> "PackageCarekitBlock":
        """The block as found in the rdf of `source`, or an InputError naming what is wrong with it."""
        version = block.get("block_version", 1) if isinstance(block, dict) else 1
        if isinstance(version, int) and version > PACKAGE_BLOCK_VERSION:
            raise InputError(f"{source} was packaged by a newer carekit (carekit block version {version}, this "
                             f"carekit reads up to {PACKAGE_BLOCK_VERSION}); update carekit")
        try:
            return cls.model_validate({"block_version": 1, **block} if isinstance(block, dict) else block)
        except ValidationError as err:
            details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'block'}: {e['msg']}" for e in err.errors())
            raise InputError(f"{source}: the carekit block of rdf.yaml is damaged ({details}); export the package "
                             "again") from err


def validated(model: type[BaseModel], **values) -> BaseModel:
    """Build a config from user values, turning pydantic's error into an InputError that names each bad field."""
    try:
        return model(**values)
    except ValidationError as err:
        details = "; ".join(f"{'.'.join(map(str, e['loc'])) or model.__name__}: {e['msg']}" for e in err.errors())
        raise InputError(f"invalid {model.__name__}: {details}") from err

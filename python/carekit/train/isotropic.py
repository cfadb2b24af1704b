"""Isotropic CARE training (Weigert et al. 2018): a 2D CARE network learns to undo axial blur and undersampling
from the lateral planes of the anisotropic stack itself, degraded along one lateral axis as the microscope degrades
Z (synth.isotropic); no isotropic ground truth is needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ModelRecord, TrainConfig
from ..domain import reference_statistics
from ..errors import InputError
from ..io import Image
from ..synth.isotropic import (axial_planes, axial_psf_gaussian, axial_psf_widefield, measured_psf_section,
                               training_planes, z_factor_from_pixel_size)
from .care import TrainResult, train_care
from .sample import save_sample_input

AXIAL_DOMAIN_PLANES = 16  # XZ and as many YZ planes of the zoomed training stack for the out-of-range reference


def axial_psf(kind: str, z_factor: float, sigma_xy_px: float = 0.5, na: float = 1.2, wavelength_nm: float = 520.0,
              pixel_size_nm: float = 100.0, n_immersion: float = 1.518, measured: np.ndarray | None = None):
    """The XZ section of the PSF the training planes are blurred with: 'gaussian' (sigma_z = z_factor / 2 lateral
    pixels, as anisotropy.axial_degrade), 'widefield' (from the optics), 'measured' (an array), or 'none'."""
    if kind == "none":
        return None
    if kind == "gaussian":
        return axial_psf_gaussian(z_factor / 2, sigma_xy_px)
    if kind == "widefield":
        return axial_psf_widefield(na, wavelength_nm, pixel_size_nm, n_immersion)
    if kind == "measured":
        if measured is None:
            raise InputError("a measured PSF needs the PSF image (--psf-file)")
        return measured_psf_section(measured)
    raise InputError(f"unknown axial PSF {kind!r}; choose gaussian, widefield, measured or none")


def train_isotropic(stack: Image | np.ndarray, model_dir: str | Path, config: TrainConfig | None = None,
                    z_factor: float | None = None, psf: np.ndarray | None = None, photons: float | None = None,
                    read_noise: float = 0.0, max_planes: int | None = None, data_info: dict | None = None,
                    progress: bool = True) -> TrainResult:
    """Train an isotropic model on the lateral planes of a (Z, Y, X) `stack` (an Image carries its pixel sizes).

    `z_factor` defaults to the stack's Z/XY pixel-size ratio; `psf` is an XZ section (see axial_psf), None blurs
    with the Gaussian of axial_psf('gaussian'). The model records kind 'isotropic' and the factor.
    """
    pixel_size = dict(stack.pixel_size) if isinstance(stack, Image) else {}
    data = stack.data if isinstance(stack, Image) else np.asarray(stack)
    if isinstance(stack, Image) and stack.axes != "ZYX":
        raise InputError(f"isotropic training needs one (Z, Y, X) stack, got axes {stack.axes!r}")
    factor = float(z_factor) if z_factor is not None else z_factor_from_pixel_size(pixel_size)
    if not factor > 1:
        raise InputError(f"the Z/XY factor must be greater than 1 (Z sampled more coarsely than XY), got {factor:g}")
    config = config or TrainConfig()
    if config.axes != "YX":
        raise InputError("an isotropic model is a 2D network: use axes YX")
    psf = axial_psf("gaussian", factor) if psf is None else psf
    sources, targets = training_planes(data, factor, psf, photons, read_noise, max_planes, seed=config.seed)
    info = {"source": "isotropic", "z_factor": factor, "photons": photons, "read_noise": read_noise,
            **(data_info or {})}
    stack_pixel_size = pixel_size
    if "X" in pixel_size:
        pixel_size = {"Z": pixel_size["X"], "Y": pixel_size.get("Y", pixel_size["X"]), "X": pixel_size["X"]}
    result = train_care(sources, targets, config, model_dir, data_info=info, pixel_size=pixel_size,
                        progress=progress, record_fields={"kind": "isotropic", "z_factor": factor})
    save_sample_input(model_dir, data, "ZYX", stack_pixel_size)  # packages test the whole recipe on a stack
    _record_axial_domain(Path(model_dir), data, factor, config)
    return result


def _record_axial_domain(model_dir: Path, stack: np.ndarray, factor: float, config: TrainConfig) -> None:
    """The out-of-range reference of an isotropic model: the statistics of the XZ and YZ planes of its Z-zoomed
    training stack, what prediction compares (predict.isotropic.warn_isotropic_input), not of the degraded lateral
    planes it trained on."""
    record = ModelRecord.load(model_dir)
    planes = [plane for group in axial_planes(stack, factor, AXIAL_DOMAIN_PLANES) for plane in group]
    record.domain = {**record.domain, **reference_statistics(planes, config.norm_pmin, config.norm_pmax)}
    record.save(model_dir)

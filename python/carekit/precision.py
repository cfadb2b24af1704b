"""Numeric precision of training and prediction: fp32, or 16-bit mixed precision where the hardware has it.

One setting, `auto | fp32 | bf16`:
- fp32: float32 everywhere (what packages are tested with).
- bf16: bfloat16 mixed precision (weights, loss and outputs stay float32). Needs a CPU with AVX512_BF16 or AMX
  instructions; elsewhere TensorFlow would emulate bf16 (no dependable speed-up), so carekit says so in one line
  and uses fp32. On a GPU it selects the GPU's mixed precision: bf16 from compute capability 8.0 (Ampere) on,
  else fp16.
- auto: bf16 where the hardware has it, fp32 otherwise (silently). Training defaults to auto, prediction to fp32.
- Training 3D (volumetric) networks on a CPU always uses fp32: TensorFlow's oneDNN bf16 Conv3D gradients turn NaN
  now and then (measured on AVX512_BF16 cores: 2 of 40 steps of a small 3D U-Net), which stops the training;
  asking for bf16 there says so in one line.

TensorFlow-free: this module only decides; train/precision.py applies the decision to Keras models.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import InputError

CHOICES = ("auto", "fp32", "bf16")
RECORDED = ("fp32", "bf16", "fp16")  # what a trained model records; fp16 = mixed precision on a GPU without bf16
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# For tests on CPUs without bf16 only: allow bf16 anyway (TensorFlow emulates it: correct results, no speed-up).
EMULATION_ENV = "CAREKIT_ALLOW_EMULATED_BF16"
GPU_BF16_CAPABILITY = (8, 0)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty where /proc/cpuinfo does not exist)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    return any(flag in (cpu_flags() if flags is None else flags) for flag in BF16_CPU_FLAGS)


def emulation_allowed() -> bool:
    return os.environ.get(EMULATION_ENV, "") == "1"


def resolve(requested: str, gpu_capability: tuple[int, int] | None, cpu_bf16: bool,
            emulation: bool = False, volumetric_training: bool = False) -> tuple[str, str | None]:
    """(precision to use: fp32 | bf16 | fp16, a one-line warning or None) for a request on given hardware.

    `gpu_capability` is the CUDA compute capability of the GPU TensorFlow uses (None without a GPU);
    `volumetric_training`: the request is for training a 3D network (fp32 on a CPU, see the module docstring)."""
    if requested not in CHOICES + ("fp16",):
        raise InputError(f"unknown precision {requested!r}; choose one of {', '.join(CHOICES)}")
    if requested == "fp32":
        return "fp32", None
    if gpu_capability is not None:
        has_bf16 = tuple(gpu_capability) >= GPU_BF16_CAPABILITY and requested != "fp16"
        return ("bf16" if has_bf16 else "fp16"), None
    if volumetric_training:
        return "fp32", (None if requested == "auto" else
                        f"{requested} training of 3D networks on a CPU is unreliable (TensorFlow's bf16 Conv3D "
                        "gradients turn NaN now and then), so carekit uses fp32")
    if cpu_bf16:
        return "bf16", None
    if requested == "auto":
        return "fp32", None
    if emulation:
        return "bf16", f"bf16 emulated on a CPU without bf16 instructions ({EMULATION_ENV}=1, meant for tests)"
    return "fp32", (f"{requested} needs a CPU with bf16 instructions ({' or '.join(BF16_CPU_FLAGS)}) or a GPU; "
                    "this machine has neither, so carekit uses fp32")


def announce(warning: str | None) -> None:
    """Print a precision warning as one line on stderr."""
    if warning:
        print(f"carekit: {warning}", file=sys.stderr, flush=True)

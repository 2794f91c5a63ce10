"""bf16 + channels_last on CPUs that have it natively, fp32 channels_last elsewhere.

A CPU with AVX-512 BF16 / AMX runs a 3x3 conv about 3x faster in bf16 channels_last than in
fp32 NCHW (measured on the development machine, idle: 227 -> 691 GFLOP/s; 7x on an AMX Xeon);
a CPU without native bf16 runs it *slower* (emulated, 13x on an AVX2 EPYC), where fp32
channels_last still wins (2.1x there, 1.4x on the AMX Xeon). The mode follows from oneDNN's
native-bf16 check alone, not from timing: a timed choice flipped between processes on a loaded
machine, and then two runs of the same photos (the Ray engine beside the local one, a resumed
run beside an uninterrupted one) wrote different bytes. :func:`probe` still times the three
modes, for ``bench`` and the training log. ``DEOCCLUDE_BF16=0`` forces fp32 NCHW (the exact
reference numbers). CUDA keeps its own AMP path.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)

ENV = "DEOCCLUDE_BF16"
MARGIN = 1.2  # probe's "best": faster than fp32 NCHW by this much (noise on a loaded machine)


def _cpu_has_bf16() -> bool:
    """oneDNN's own check for native bf16 (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _time(fn, repeats: int = 3) -> float:  # noqa: ANN001 - a zero-argument callable
    fn()  # warm-up: oneDNN builds its kernel on the first call
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@dataclass(frozen=True)
class Mode:
    """How CPU networks run: memory layout and compute dtype."""

    channels_last: bool = False
    bf16: bool = False  # autocast to bf16 (always with channels_last: oneDNN's bf16 kernels want it)

    def __str__(self) -> str:
        return "bf16 channels_last" if self.bf16 else "fp32 channels_last" if self.channels_last else "fp32 NCHW"


FP32 = Mode()


@functools.lru_cache(maxsize=1)
def probe() -> dict[str, float | bool | str]:
    """Time a 64-channel 3x3 conv at 64x64, batch 4: fp32 NCHW, fp32 channels_last, bf16 channels_last.

    Returns the three times in seconds (bf16 only where oneDNN reports native bf16: emulated
    bf16 measured 13x slower than fp32 on an AVX2 EPYC), ``native``, the ``best`` mode by these
    times (the fastest one that beats fp32 NCHW by :data:`MARGIN`) and the ``chosen`` one
    (:func:`native_mode`, what the networks run in). About 0.1 s; cached per process.
    """
    native = _cpu_has_bf16()
    x = torch.randn(4, 64, 64, 64)
    conv = nn.Conv2d(64, 64, 3, padding=1).eval()
    # Module.to takes memory_format (documented); torch's typed overloads leave it out
    conv_cl = conv.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x_cl = x.contiguous(memory_format=torch.channels_last)
    conv_nchw = nn.Conv2d(64, 64, 3, padding=1).eval()
    with torch.no_grad():
        times = {
            "fp32_s": _time(lambda: conv_nchw(x)),
            "fp32_cl_s": _time(lambda: conv_cl(x_cl)),
            "bf16_cl_s": float("inf"),
        }
        if native:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                times["bf16_cl_s"] = _time(lambda: conv_cl(x_cl))
    best = FP32
    if times["bf16_cl_s"] * MARGIN < min(times["fp32_s"], times["fp32_cl_s"]):
        best = Mode(True, True)
    elif times["fp32_cl_s"] * MARGIN < times["fp32_s"]:
        best = Mode(True, False)
    return {"native": native, **times, "best": str(best), "chosen": str(native_mode())}


@functools.lru_cache(maxsize=1)
def native_mode() -> Mode:
    """bf16 channels_last where oneDNN has native bf16, else fp32 channels_last: the same answer in
    every process on a machine (see the module docstring)."""
    return Mode(True, _cpu_has_bf16())


def cpu_mode(requested: bool | None = None) -> Mode:
    """The layout / dtype CPU networks run in.

    ``requested``: False = fp32 NCHW (the exact reference numbers); True or None =
    :func:`native_mode` (bf16 channels_last where native, else fp32 channels_last). None first
    reads ``$DEOCCLUDE_BF16``: ``0`` = fp32 NCHW.
    """
    if requested is None and os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return FP32
    if requested is False:
        return FP32
    return native_mode()


def mode_for(device: torch.device | str, requested: bool | None = None) -> Mode:
    """:func:`cpu_mode` on a CPU; CUDA always gets :data:`FP32` here (it has its own half path)."""
    return cpu_mode(requested) if torch.device(device).type == "cpu" else FP32


def autocast(enabled: bool) -> contextlib.AbstractContextManager:
    """CPU bf16 autocast when ``enabled``, else nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def channels_last(module: ModuleT, enabled: bool) -> ModuleT:
    """``module`` in channels_last memory format when ``enabled`` (oneDNN's fast layout for bf16)."""
    if not enabled:
        return module
    return module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # as in probe()


def as_channels_last(x: torch.Tensor, enabled: bool) -> torch.Tensor:
    """A 4-D tensor in channels_last when ``enabled``; anything else as given."""
    return x.contiguous(memory_format=torch.channels_last) if enabled and x.ndim == 4 else x


__all__ = ["ENV", "FP32", "Mode", "probe", "cpu_mode", "mode_for", "autocast", "channels_last", "as_channels_last"]

"""Which device a run trains on: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

``auto`` picks CUDA when a GPU is present (under ``torchrun``, the GPU of the process's local
rank), else Apple's MPS when present, else the CPU.  A device that is not there is refused with
one line saying what is, instead of failing at the first tensor copy::

    --device cuda:1: this machine has 1 CUDA device (cuda:0)
"""
from __future__ import annotations

import os
import re

import torch

CHOICES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The :class:`torch.device` that ``name`` means on this machine; ValueError if absent."""
    name = str(name).strip().lower()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))  # set by torchrun
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ValueError("--device mps: Apple's MPS backend is not available on this machine")
        return torch.device("mps")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if not m:
        raise ValueError(f"--device must be one of {CHOICES}, got {name!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this machine has no CUDA device (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    count = torch.cuda.device_count()
    index = int(m[1]) if m[1] is not None else local_rank % count
    if index >= count:
        names = ", ".join(f"cuda:{i}" for i in range(count))
        raise ValueError(f"--device {name}: this machine has {count} CUDA "
                         f"device{'s' if count > 1 else ''} ({names})")
    return torch.device("cuda", index)


def to_device(tensors: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    """Every tensor of a batch dict on ``device`` (no copy for tensors already there)."""
    return {k: v.to(device, non_blocking=True) for k, v in tensors.items()}

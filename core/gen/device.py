"""Which torch device a command runs on."""

from __future__ import annotations

import torch

from gen.errors import GenError, UsageError
from gen.specs import DEVICE


def resolve_device(name: str, local_rank: int | None = None,
                   what: str = "device") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; asking for an absent device is an error, and
    a name that is not a device is one naming ``what`` (the option or field it came from).

    In a multi-process run (``local_rank`` given) each process on a machine takes its own GPU,
    ``cuda:LOCAL_RANK``.
    """
    check_device_name(name, what)
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenError(f"{what} is {name!r} but no CUDA device is available")
    if name == "mps" and not has_mps:
        raise GenError(f"{what} is 'mps' but MPS is not available")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise GenError(f"{what} is {name!r} but this machine has "
                       f"{torch.cuda.device_count()} CUDA device(s), cuda:0 and up")
    if local_rank is not None and name.startswith("cuda"):
        if name != "cuda":
            raise GenError(f"{what} is {name!r}, but in a multi-process run each process "
                           "takes cuda:LOCAL_RANK: use train.device=cuda or auto")
        if local_rank >= torch.cuda.device_count():
            raise GenError(f"process {local_rank} of this machine has no GPU of its own "
                           f"({torch.cuda.device_count()} visible): lower --nproc_per_node")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    if local_rank is not None and name == "mps":
        raise GenError("multi-process runs need CUDA (nccl) or the CPU (gloo), not mps")
    return torch.device(name)


def check_device_name(name: object, what: str = "device") -> str:
    """``name`` if it names a device kind gen knows, else a `UsageError` naming ``what``."""
    if not isinstance(name, str) or not DEVICE.match(name):
        raise UsageError(f"{what}: expected auto, cpu, mps, cuda or cuda:N, got {name!r:.60}")
    return name

"""Which torch device a command runs on."""

from __future__ import annotations

import torch

from gen.errors import GenError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; asking for an absent device is an error.

    In a multi-process run (``local_rank`` given) each process on a machine takes its own GPU,
    ``cuda:LOCAL_RANK``.
    """
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenError(f"train.device is {name!r} but no CUDA device is available")
    if name == "mps" and not has_mps:
        raise GenError("train.device is 'mps' but MPS is not available")
    if local_rank is not None and name.startswith("cuda"):
        if name != "cuda":
            raise GenError(f"train.device is {name!r}, but in a multi-process run each process "
                           "takes cuda:LOCAL_RANK: use train.device=cuda or auto")
        if local_rank >= torch.cuda.device_count():
            raise GenError(f"process {local_rank} of this machine has no GPU of its own "
                           f"({torch.cuda.device_count()} visible): lower --nproc_per_node")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    if local_rank is not None and name == "mps":
        raise GenError("multi-process runs need CUDA (nccl) or the CPU (gloo), not mps")
    return torch.device(name)

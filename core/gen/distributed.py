"""Data parallelism over torch.distributed, for runs launched by torchrun.

Each rank holds a full replica of every network and trains on its own shard of each global
batch; gradients are averaged across ranks before every optimizer step, the all-reduce-mean
that DistributedDataParallel performs. gen does it in `Model.optimize` rather than by wrapping
the networks in ``nn.parallel.DistributedDataParallel`` because the wrapper needs the family to
call it instead of its own networks, and because it supports neither the double backward of a
gradient penalty (pytorch/pytorch#63929) nor a network that is run but frozen for part of a
step (a GAN's discriminator during the generator's update) without extra flags. The steps of a
family must therefore follow the same path on every rank, which the built-in ones do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from gen.errors import GenError
from gen.launch import launch, launched_world_size


@dataclass
class World:
    """This process's place in the group, with the few collectives the trainer needs."""

    rank: int
    size: int
    _control: Any = None  # a gloo group for CPU flags, so a GPU run never syncs for them

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def join(cls, device: torch.device, timeout_s: float = 1800) -> World:
        """Join the process group torchrun described in the environment."""
        if not dist.is_available():
            raise GenError("this torch build has no torch.distributed; cannot train on "
                           f"{launched_world_size()} processes")
        where = launch()
        rank, size = where.rank, where.size
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
        control = dist.new_group(backend="gloo") if backend != "gloo" else dist.group.WORLD
        return cls(rank, size, control)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def average_gradients(self, optimizer: torch.optim.Optimizer) -> None:
        """Replace each gradient of ``optimizer``'s parameters by its mean over ranks, in one
        all-reduce over a flat buffer."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if not grads:
            return
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat.div_(self.size)
        for grad, mean in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
            grad.copy_(mean)

    def broadcast_modules(self, modules: dict[str, torch.nn.Module]) -> None:
        """Make every replica start from rank 0's parameters and buffers."""
        for module in modules.values():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scalar losses averaged over ranks (each rank saw an equal share of the batch)."""
        if not values:
            return values
        stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
        dist.all_reduce(stacked)
        stacked /= self.size
        return dict(zip(values, stacked, strict=True))

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on some rank (a stop request, say)."""
        t = torch.tensor([int(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self._control)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj, group=self._control)
        return out

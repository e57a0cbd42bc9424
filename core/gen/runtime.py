"""How a model's optimisation steps run: numeric precision and data parallelism.

Families call `Model.optimize(name, loss)` instead of ``backward()`` and ``step()`` themselves,
so the core can add loss scaling and gradient averaging without any family knowing about
either. The default runtime is plain fp32 in one process.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from gen.distributed import World

Precision = Literal["fp32", "bf16", "fp16"]
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Runtime:
    """Precision and parallelism of one training run.

    bf16 and fp16 autocast the forward passes of each step; fp16 also scales each loss before
    its backward pass, one scaler per optimizer (a GAN's two losses differ in scale), and skips
    a step whose gradients overflowed, as `torch.amp.GradScaler` does. With ``grad_clip`` each
    update's gradient norm is clipped to it (after averaging over processes and unscaling).

    With ``track_grad_norms`` set (the trainer sets it for the steps it logs), each update
    also keeps the L2 norm of its gradients, unscaled and averaged over processes, in
    ``grad_norms[name]``: computed from gradients the backward pass made anyway, as a tensor,
    so no extra backward and no device sync until the log line reads it. Under fp16 a step the
    scaler skips for overflow logs an infinite norm.
    """

    def __init__(self, device: torch.device | str = "cpu", precision: Precision = "fp32",
                 world: World | None = None, grad_clip: float | None = None):
        self.device = torch.device(device)
        self.precision = precision
        self.world = world
        self.grad_clip = grad_clip
        self._scalers: dict[str, torch.amp.GradScaler] = {}
        self.track_grad_norms = False
        self.grad_norms: dict[str, torch.Tensor] = {}

    def autocast(self) -> AbstractContextManager:
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    def optimize(self, name: str, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """One update of ``optimizer`` on ``loss``: zero, backward, average, (unscale,) step."""
        optimizer.zero_grad(set_to_none=True)
        scaler = self._scaler(name)
        # Backward outside autocast: its ops take the dtypes the forward pass chose.
        with torch.autocast(self.device.type, enabled=False):
            (loss if scaler is None else scaler.scale(loss)).backward()
        if self.world is not None:
            # Before the scaler's overflow check, so every rank sees the same gradients and
            # takes (or skips) the same step.
            self.world.average_gradients(optimizer)
        if self.track_grad_norms or self.grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)  # the true gradient; step() skips an overflow
            if self.grad_clip is not None:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            else:
                norm = _grad_norm(optimizer)
            if self.track_grad_norms:
                self.grad_norms[name] = norm
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)
            scaler.update()

    def _scaler(self, name: str) -> torch.amp.GradScaler | None:
        if self.precision != "fp16":
            return None
        if name not in self._scalers:
            self._scalers[name] = torch.amp.GradScaler(self.device.type)
        return self._scalers[name]

    def state_dict(self) -> dict[str, Any]:
        return {"scalers": {k: s.state_dict() for k, s in self._scalers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler_state in state.get("scalers", {}).items():
            scaler = self._scaler(name)
            if scaler is not None:
                scaler.load_state_dict(scaler_state)


def _grad_norm(optimizer: torch.optim.Optimizer) -> torch.Tensor:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"]
             if p.grad is not None]
    if not grads:
        return torch.zeros(())
    # Norm of the per-tensor norms (torch.nn.utils.get_total_norm needs torch >= 2.6).
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))

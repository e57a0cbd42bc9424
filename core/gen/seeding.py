"""Seeds and RNG states: every random stream a model might draw from, set, saved and restored.

Checkpoints store `rng_state()` so a resumed run draws exactly what an uninterrupted one would;
`preserved_rng` lets work inside training (an evaluation) run without moving any stream.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any

import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:
        return
    np.random.seed(seed)


def rng_state() -> dict[str, Any]:
    """Every RNG a model might draw from, in a form `weights_only` loading accepts."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:  # numpy is optional for torch; nothing to save then
        return state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = [kind, torch.from_numpy(keys.astype("int64")), pos, has_gauss, cached]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if "numpy" in state:
        import numpy as np

        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


@contextmanager
def preserved_rng():
    """Run a block (an evaluation during training, say) without moving any RNG stream: every
    state is saved before and restored after, so the run continues exactly as without it."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value

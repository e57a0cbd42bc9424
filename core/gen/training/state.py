"""A run's training state as a checkpoint holds it, and back: the model (with its weight
average), its learning-rate schedules, the runtime's loss scalers, the data stream's position
and every RNG stream."""

from __future__ import annotations

from typing import Any

from gen.distributed import World
from gen.errors import CheckpointError
from gen.run.layout import RunDir
from gen.seeding import rng_state, seed_everything, set_rng_state
from gen.specs import RunSpec
from gen.training.session import Session


def payload(s: Session, model_name: str, spec: RunSpec) -> dict[str, Any]:
    """What a checkpoint of session ``s`` holds (the caller adds the step and other ranks'
    RNG states)."""
    return {
        "model": model_name,
        "spec": spec.model_dump(mode="json"),
        "data_info": s.data.as_dict(),
        "state": s.model.state_dict(),
        "schedules": s.schedules.state_dict(),
        "runtime": s.model.runtime.state_dict(),
        "data": s.stream.state_dict(),
        "rng": rng_state(),
    }


def restore(ckpt: dict[str, Any], s: Session, run: RunDir, seed: int, say) -> int:
    """Load checkpoint ``ckpt`` into session ``s``; the step it was taken at. Random streams
    carry over when the process count is the checkpoint's; otherwise each process is seeded
    anew (and ``say`` tells the user)."""
    world = s.world
    try:
        s.model.load_state_dict(ckpt["state"])
        s.schedules.load_state_dict(ckpt.get("schedules", {}))
        s.model.runtime.load_state_dict(ckpt.get("runtime", {}))
        s.stream.load_state_dict(ckpt["data"])
        step = ckpt["step"]
        ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
        size = world.size if world else 1
        if len(ranks) == size:
            set_rng_state(ranks[world.rank if world else 0])
        else:
            # Another process count than the checkpoint's: the data order is global and
            # carries over, but the random streams cannot.
            if world is None:
                set_rng_state(ranks[0])
            else:
                seed_rank(seed, step, world)
            if world is None or world.is_main:
                say(f"resuming on {size} process(es) a run checkpointed on {len(ranks)}: "
                    "random draws (noise, dropout) will differ from an uninterrupted run")
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"the checkpoint in {run.checkpoints} does not fit this model: {exc}"
        ) from None
    return step


def seed_rank(seed: int, step: int, world: World) -> None:
    """Give each process its own random stream (noise, dropout), reproducible from the seed."""
    seed_everything((seed * 1_000_003 + step) * 1_009 + world.rank + 1)

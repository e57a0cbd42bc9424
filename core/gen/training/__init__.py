"""The training loop and everything a run writes: run directory, checkpoints, metrics."""

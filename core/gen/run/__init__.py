"""The run directory, owned by one package.

Storage (`layout`, `lock`, `checkpoints`, `metrics_log`, `resume`) knows nothing of the
training loop or of scores; `handle.Run` is the read side users get from `gen.load_run`.
"""

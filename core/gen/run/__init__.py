"""The run directory, owned by one package.

Storage (`layout`, `lock`, `checkpoints`, `metrics_log`, `resume`) knows nothing of the
training loop or of scores; the user's `Run` (sample, evaluate, encode) is `gen.handle`, above
both this package and `gen.evaluation`.
"""

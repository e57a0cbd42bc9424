"""metrics.jsonl lines, truncation on resume, and TensorBoard scalars when it is installed."""

import json
import sys
import types

from gen.run.metrics_log import MetricsLog, truncate_after


def test_lines_are_written_and_truncated_after_a_step(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    for step in (1, 2, 3):
        log.write({"step": step, "loss": 1.0 / step})
    log.close()
    with open(tmp_path / "m.jsonl", "a") as f:
        f.write('{"step": 4, "lo')  # a line cut short by a kill
    truncate_after(tmp_path / "m.jsonl", 2)
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


def test_tensorboard_scalars_when_the_extra_is_installed(tmp_path, monkeypatch):
    calls = []

    class FakeWriter:
        def __init__(self, folder):
            calls.append(("init", folder))

        def add_scalar(self, key, value, step):
            calls.append((key, value, step))

        def close(self):
            calls.append(("close",))

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    log = MetricsLog(tmp_path / "m.jsonl", tmp_path / "tb")
    log.write({"step": 5, "d_loss": 0.5, "note": "text is skipped"})
    log.close()
    assert calls == [("init", str(tmp_path / "tb")), ("d_loss", 0.5, 5), ("close",)]

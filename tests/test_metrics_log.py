"""metrics.jsonl lines, truncation on resume, and the copies the trackers get."""

import json

import torch

from gen.run.metrics_log import MetricsLog, truncate_after
from gen.tracking.base import scalars


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


def test_each_record_goes_to_the_trackers_as_a_copy_of_its_line(tmp_path):
    got = []

    class Sink:
        def log(self, step, record):
            got.append((step, record))

        def image(self, step, name, image):
            got.append((step, name, image.shape))

    log = MetricsLog(tmp_path / "m.jsonl", Sink())
    record = {"step": 5, "d_loss": 0.5, "note": "text"}
    log.write(record)
    record["d_loss"] = 9.0  # the caller's dict is not the trackers'
    log.write_grid(5, torch.zeros(4, 1, 8, 8))
    log.close()
    assert got == [(5, {"step": 5, "d_loss": 0.5, "note": "text"}),
                   (5, "samples", (22, 22, 3))]  # 2 x 2 images of 8x8, padding 2, RGB


def test_the_trackers_tags_keep_scores_measured_differently_apart():
    line = {"step": 4, "d_loss": 0.5, "ok": True}
    assert scalars(line) == {"d_loss": 0.5}
    training = {"step": 4, "eval_fid": 30.0, "evaluation": {
        "metric": "fid", "value": 30.0, "extractor": "lenet", "images": 500}}
    assert scalars(training) == {"eval/fid": 30.0}
    evaluate = {"step": 4, "evaluation": {
        "metric": "fid", "value": 20.0, "extractor": "inception", "images": 50000,
        "fid_convention": "clean-fid", "sampling": {"sampler": "ddim", "steps": 50}}}
    assert scalars(evaluate) == {"evaluate/fid/inception-n50000-clean-fid-ddim50": 20.0}
    nll = {"step": 4, "evaluation": {"metric": "nll", "value": 80.0, "bits_per_dim": 1.2,
                                     "split": "test"}}
    assert scalars(nll) == {"evaluate/nll/test": 80.0, "evaluate/nll/test_bits_per_dim": 1.2}
    coverage = {"step": 4, "coverage": {"classes_covered": 7, "kl": 0.3, "note": "x"}}
    assert scalars(coverage) == {"coverage/classes_covered": 7.0, "coverage/kl": 0.3}

"""Two CPU processes (gloo) train a PixelCNN to the weights one process reaches over the same
global batch: a non-linear network with Adam, where a wrong shard or an unaveraged gradient
would show at once. The step draws no random numbers (static binarisation), so only float
summation order differs."""

import subprocess
import sys

from gen.run.checkpoints import load_checkpoint

TOLERANCE = 1e-5  # absolute, on every weight after 6 Adam steps at lr 1e-3


def train(out, nproc):
    args = ["train", "pixelcnn", "--quiet", "--out", str(out), "--nproc", str(nproc),
            "--set", "train.device=cpu", "--set", "train.steps=6", "--set", "train.batch_size=16",
            "--set", "data.image_size=8", "--set", "data.limit=64", "--set", "model.hidden=8",
            "--set", "model.blocks=2", "--set", "model.output_hidden=8",
            "--set", "train.sample_every=100", "--set", "train.checkpoint_every=3"]
    result = subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return load_checkpoint(out / "checkpoints" / "latest.pt")


def largest_difference(a, b):
    return max((a[k] - w).abs().max().item() for k, w in b.items() if w.is_floating_point())


def test_two_processes_train_the_weights_of_one(tmp_path):
    two, one = train(tmp_path / "two", 2), train(tmp_path / "one", 1)
    assert two["step"] == one["step"] == 6
    assert largest_difference(two["state"]["modules"]["net"], one["state"]["modules"]["net"]) \
        < TOLERANCE
    # ... while three steps move the weights by far more than that
    midway = load_checkpoint(tmp_path / "one" / "checkpoints" / "step-000003.pt")
    assert largest_difference(midway["state"]["modules"]["net"],
                              one["state"]["modules"]["net"]) > 100 * TOLERANCE

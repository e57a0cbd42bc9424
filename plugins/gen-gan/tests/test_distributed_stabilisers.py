"""ADA and LeCam under `gen train --nproc 2` (gloo on the CPU): their statistics are summed over
every process's share of the batch, so all processes move p and the anchors alike, and a
multi-process run resumed from its checkpoint reaches the state of one that was not stopped."""

import subprocess
import sys

import torch

from gen.run.checkpoints import load_checkpoint

BATCH = 16  # the global batch: 8 images per process


MODEL = ["--set", f"train.batch_size={BATCH}", "--set", "data.image_size=8",
         "--set", "data.limit=64", "--set", "model.backbone=mlp", "--set", "model.latent_dim=4",
         "--set", "model.g_hidden=[8]", "--set", "model.d_hidden=[8]",
         "--set", "model.ada_target=0.6", "--set", "model.ada_interval=4",
         "--set", "model.lecam_weight=0.3"]


def train(out, steps, resume=False):
    """A run of ``steps``; ``resume`` continues it (its spec is the run's: only the step count
    and cadence may be given)."""
    args = ["train", "hinge", "--quiet", "--out", str(out), "--nproc", "2",
            "--set", "train.device=cpu", "--set", f"train.steps={steps}",
            "--set", "train.sample_every=100", "--set", "train.checkpoint_every=3",
            "--set", "train.log_every=3", *(["--resume"] if resume else MODEL)]
    result = subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return load_checkpoint(out / "checkpoints" / "latest.pt")


def test_ada_counts_every_process_s_images_and_a_resumed_run_equals_an_uninterrupted_one(
        tmp_path):
    straight = train(tmp_path / "straight", 6)
    ada = straight["state"]["modules"]["ada"]
    # 6 updates at interval 4: the current interval holds 2 updates of the *global* batch (one
    # process's share alone would count 8 per update)
    assert ada["updates"].item() == 6
    assert ada["seen"].item() == 2 * BATCH
    assert straight["state"]["modules"]["lecam"]["updates"].item() == 6

    train(tmp_path / "resumed", 3)
    resumed = train(tmp_path / "resumed", 6, resume=True)
    assert resumed["step"] == straight["step"] == 6
    for name, state in straight["state"]["modules"].items():
        for key, tensor in state.items():
            assert torch.equal(resumed["state"]["modules"][name][key], tensor), f"{name}.{key}"

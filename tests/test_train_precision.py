"""The loop's per-optimizer lr schedule, --fast-cpu, --init-from a weights file, and the probe's modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import TINY_S_FLAGS
from deocclude import precision
from deocclude.train.loop import Trainer


def test_schedule_scales_each_optimizers_own_lr() -> None:
    """D at lr_d and G at lr both drop by the factor; neither is overwritten by config.lr."""
    trainer = Trainer.__new__(Trainer)
    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    trainer.optimizers = {
        "generator": torch.optim.Adam(g.parameters(), lr=2e-4),
        "discriminator": torch.optim.Adam(d.parameters(), lr=5e-5),
    }
    for opt in trainer.optimizers.values():
        for group in opt.param_groups:
            group.setdefault("base_lr", group["lr"])
    from deocclude.inpaint.config import InpaintTrainConfig

    trainer.config = InpaintTrainConfig(lr=2e-4, lr_d=5e-5, lr_drop_at=0.5, lr_drop_factor=0.1)
    assert trainer._set_lr(0.1) == pytest.approx(2e-4)
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(5e-5)
    trainer._set_lr(0.6)
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2e-5)
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(5e-6)


def test_inpaint_task_gives_the_discriminator_lr_d() -> None:
    from deocclude.inpaint.config import InpaintTrainConfig
    from deocclude.inpaint.task import InpaintTask

    task = InpaintTask(InpaintTrainConfig(lr=3e-4, lr_d=1e-4))
    opts = task.build_optimizers(
        {"generator": torch.nn.Linear(2, 2), "discriminator": torch.nn.Linear(2, 2)}, task.config
    )
    assert opts["generator"].param_groups[0]["lr"] == 3e-4 and opts["discriminator"].param_groups[0]["lr"] == 1e-4


def test_probe_modes_and_the_fp32_override(monkeypatch: pytest.MonkeyPatch) -> None:
    result = precision.probe()
    assert result["best"] in ("fp32 NCHW", "fp32 channels_last", "bf16 channels_last")
    assert result["native"] or result["best"] != "bf16 channels_last"  # emulated bf16 is never chosen
    # what runs does not depend on timing: native bf16 decides, the same in every process
    assert result["chosen"] == ("bf16 channels_last" if result["native"] else "fp32 channels_last")
    assert precision.cpu_mode() == precision.native_mode() == precision.cpu_mode(True)
    monkeypatch.setenv(precision.ENV, "0")
    assert precision.cpu_mode() == precision.FP32
    assert precision.cpu_mode(False) == precision.FP32
    assert precision.mode_for("cpu", False) == precision.FP32


def test_segmenter_fast_path_matches_fp32() -> None:
    """The probe's mode changes S's probabilities by little (fp32 channels_last: ~1e-6; bf16: ~1e-2)."""
    from deocclude.segment.inference import Segmenter

    x = torch.rand(2, 3, 128, 128)
    ref = Segmenter(fast=False).probabilities(x)
    fast = Segmenter(fast=True)
    tol = 5e-2 if fast.mode.bf16 else 1e-4
    assert (fast.probabilities(x) - ref).abs().max() < tol


def test_fast_cpu_run_and_init_from_weights_file(tmp_path: Path, utkface_root: Path) -> None:
    """--fast-cpu trains and exports in the default layout; --init-from takes an exported file."""
    from deocclude.cli import main
    from deocclude.segment.inference import S_FILE

    first = tmp_path / "a"
    common = ["train", "segment", "--batch-size", "2", "--train-split", "val", "--train-limit", "4", "--val-limit", "2",
              "--num-workers", "0", "--size", "64", "--max-minutes", "0", *TINY_S_FLAGS]
    assert main([*common, "--out", str(first), "--max-steps", "1", "--fast-cpu"]) == 0
    log = [json.loads(line) for line in (first / "log.jsonl").read_text().splitlines()]
    assert log[0]["cpu_mode"] == str(precision.cpu_mode(True))
    weights = first / "final" / "weights.safetensors"
    second = tmp_path / "b"
    assert main([*common, "--out", str(second), "--max-steps", "1", "--init-from", str(weights)]) == 0
    a, _ = S_FILE.load(weights)
    b, _ = S_FILE.load(second / "final" / "weights.safetensors")
    assert b.config == a.config

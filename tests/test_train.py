"""The shared training loop: config flags, checkpoints, a short real run with --resume."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from conftest import TINY_S_FLAGS
from deocclude.segment.config import SegmentTrainConfig, UNetConfig
from deocclude.train.checkpoint import load_checkpoint, save_checkpoint
from deocclude.train.config import (
    TrainConfig,
    add_config_flags,
    apply_overrides,
    load_config,
    overrides_from_args,
    save_config,
)


@dataclass(frozen=True)
class _Inner:
    width: int = 4
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class _Cfg(TrainConfig):
    inner: _Inner = _Inner()
    name: str = "x"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_flags(parser, _Cfg)
    return parser.parse_args(argv)


def test_flags_follow_dataclass_fields_and_only_given_ones_override() -> None:
    args = _parse(["--lr", "0.5", "--inner.width", "7", "--inner.sizes", "3", "4", "5", "--amp", "false", "--resume"])
    overrides = overrides_from_args(args, _Cfg)
    assert overrides == {"lr": 0.5, "amp": False, "resume": True, "inner": {"width": 7, "sizes": (3, 4, 5)}}
    base = _Cfg(batch_size=3, name="saved")
    cfg = apply_overrides(base, overrides)
    assert cfg.batch_size == 3 and cfg.name == "saved"  # untouched fields keep the base value
    assert cfg.inner == _Inner(7, (3, 4, 5)) and cfg.lr == 0.5 and cfg.amp is False


def test_config_json_round_trip(tmp_path: Path) -> None:
    cfg = SegmentTrainConfig(model=UNetConfig(stem_width=8), lr=3e-4)
    save_config(cfg, tmp_path / "c.json")
    assert load_config(SegmentTrainConfig, tmp_path / "c.json") == cfg


def test_checkpoint_round_trip_restores_model_and_optimizer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(8, 3)).square().mean().backward()
        opt.step()
    save_checkpoint(tmp_path / "ckpt", {"net": net}, {"optimizer.net": opt}, {"step": 3})
    net2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt2 = torch.optim.Adam(net2.parameters(), lr=1.0)
    loop = load_checkpoint(tmp_path / "ckpt", {"net": net2}, {"optimizer.net": opt2}, torch.device("cpu"))
    assert loop == {"step": 3}
    for a, b in zip(net.state_dict().values(), net2.state_dict().values()):
        assert torch.equal(a, b)
    assert opt2.param_groups[0]["lr"] == 1e-2
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(s1[k][name], s2[k][name])
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.rglob("*.pt"))  # no pickles




def test_two_step_real_run_then_resume(tmp_path: Path, utkface_root: Path) -> None:
    from deocclude.cli import main
    from deocclude.segment.inference import S_FILE

    out = tmp_path / "run"
    common = [
        "train",
        "segment",
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--train-split",
        "val",
        "--train-limit",
        "8",
        "--val-limit",
        "2",
        "--num-workers",
        "0",
        "--log-every-steps",
        "1",
        "--size",
        "64",
        *TINY_S_FLAGS,
    ]
    assert main([*common, "--max-steps", "2"]) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["event"] == "train"] == [1, 2]
    end = log[-1]
    assert end["event"] == "end" and end["step"] == 2 and 0.0 <= end["occluded_iou"] <= 1.0
    assert list((out / "grids").glob("val_*.png"))
    first = (out / "checkpoint" / "models.safetensors").read_bytes()

    # Resume: the saved config is the base, only --max-steps changes; training continues at step 3.
    assert main(["train", "segment", "--out", str(out), "--resume", "--max-steps", "4"]) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["event"] == "train"] == [1, 2, 3, 4]
    assert json.loads((out / "config.json").read_text())["max_steps"] == 4
    assert (out / "checkpoint" / "models.safetensors").read_bytes() != first
    net, info = S_FILE.load(out / "final" / "weights.safetensors")
    size = info.size
    assert size == 64 and net.config.stem_width == 8

    # The one bundler on the real run folder: the CLI writes the fp16 file with the run's provenance.
    assert main(["train", "bundle", str(out), "-o", str(tmp_path / "s.safetensors")]) == 0
    _, bundled = S_FILE.load(tmp_path / "s.safetensors")
    assert bundled.provenance is not None and (bundled.provenance.run, bundled.provenance.steps) == ("run", 4)
    assert bundled.provenance.trained_with_commit == log[0]["commit"] and "occluded_iou" in bundled.provenance.val


def test_train_rejects_missing_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deocclude.cli import main

    monkeypatch.setenv("DEOCCLUDE_DATA", str(tmp_path / "nowhere"))
    assert main(["train", "segment", "--out", str(tmp_path / "r"), "--max-steps", "1"]) == 2


def test_sigterm_finishes_the_run_with_validation_and_export(tmp_path: Path, utkface_root: Path) -> None:
    """Stopping a run (SIGTERM, or Ctrl-C) ends it like its budget would: export and "end" logged."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "deocclude", "train", "segment", "--out", str(out), "--batch-size", "2",
           "--train-split", "val", "--train-limit", "8", "--val-limit", "2", "--num-workers", "0",
           "--log-every-steps", "1", "--size", "64", "--max-steps", "100000", *TINY_S_FLAGS]
    proc = subprocess.Popen(cmd, env={**os.environ, "DEOCCLUDE_DATA": str(utkface_root.parents[1])},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = out / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.is_file() and '"event": "train"' in log.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[-1]["event"] == "end" and records[-1]["step"] < 100000
    assert (out / "final" / "weights.safetensors").is_file()

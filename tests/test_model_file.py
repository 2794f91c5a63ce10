"""The one model-file API: the bundled files' tensors, the metadata converter, the one bundler, the card.

The digests below are of the bundled files' tensors as they were before issue 18 rewrote
their metadata (``tools/convert_model_metadata.py``); a rewrite that touched a tensor, or a
new bundled file, must change this table on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import load_tool as _tool
from deocclude.errors import DeoccludeError
from deocclude.inpaint.api import G_FILE
from deocclude.inpaint.config import GeneratorConfig, InpaintTrainConfig
from deocclude.model_file import Provenance, read_metadata, tensors_sha256
from deocclude.paths import REPO_DIR, WEIGHTS_DIR
from deocclude.reconstruct.inference import R_FILE
from deocclude.reconstruct.regressor_config import ReconstructTrainConfig, RegressorConfig
from deocclude.segment.config import SegmentTrainConfig, UNetConfig
from deocclude.segment.inference import S_FILE
from deocclude.train.bundle import bundle
from deocclude.train.config import save_config

TENSORS_BEFORE_METADATA_REWRITE = {  # and of every file bundled since
    "face_detect_rfb_faceplugin.safetensors": "437b10a4024b9293ba21b3398f7893a17a85292670e6f7700d81471de21b7996",
    "face_landmark68_faceplugin.safetensors": "9984808dbdf1247e203482ae335ed92412ea137578c7c14b8948d1bbd123e6cd",
    "face_model.safetensors": "86f8be06dea39fb7605348c4b8a828000f8517cd610e17bbc9860e91fac78d25",
    "identity_arcface_faceplugin.safetensors": "4051e68e0f0071be539488bb94087d9a1c739e0dd6b1c4a9f44d4287e0789dfa",
    "identity_dlib_resnet.safetensors": "d110bf8dfc6952e346b174c1553b97fc8e1ae50d8d18ea74906a2ba1c35de1bf",
    # campaign leg 4 since 2026-12-05, session 8 (MODEL_CARD)
    "inpaint_g.safetensors": "3715bdbff3698a04c83640a6449b2f7aefa3a0ba225c4299620af1d3709586c7",
    "reconstruct_r.safetensors": "37efc419567087d74b64d03df7fc2a29aa665ab65a7e030180e633ef2e06366c",
    # the face parser, run parser4, since 2026-12-05 session 10 (MODEL_CARD)
    "segment_s.safetensors": "62d9115c875c9933b7119ee15ee82eaa407ee3cc1afd82cb76a9ffb67806fa06",
}
TINY_S = UNetConfig(
    stem_width=8, stage_widths=(8, 8, 16, 16), blocks_per_stage=(1, 1, 1, 1), decoder_widths=(16, 8, 8, 8, 8)
)
TINY_R = RegressorConfig(stem_width=8, stage_widths=(8, 16, 16, 32))
TINY_G = GeneratorConfig(widths=(8, 8, 16), bottleneck_blocks=2, bottleneck_dilations=(1, 2), attention_after=1)


@pytest.mark.parametrize("name", sorted(TENSORS_BEFORE_METADATA_REWRITE))
def test_bundled_tensors_are_bit_identical_to_before_the_metadata_rewrite(name: str) -> None:
    assert tensors_sha256(WEIGHTS_DIR / name) == TENSORS_BEFORE_METADATA_REWRITE[name]


@pytest.mark.parametrize(
    ("network_file", "run"), [(S_FILE, "parser4"), (R_FILE, "reconstruct-r2"), (G_FILE, "g_leg4")]
)
def test_bundled_networks_load_and_carry_the_one_provenance(network_file, run: str) -> None:
    net, info = network_file.load()
    assert info.size == 128 and info.provenance is not None and info.provenance.run == run
    assert info.provenance.steps and info.provenance.minutes
    assert all(p.dtype == torch.float32 for p in net.parameters())


def _old_s_file(path: Path) -> Path:
    """An S file as segment/bundle.py wrote it before issue 18 (flat provenance keys)."""
    torch.manual_seed(0)
    from deocclude.segment.model import UNet

    return S_FILE.save(UNet(TINY_S), path, 64, extra={
        "training_run": "segment-x", "training": json.dumps({"step": 10, "epochs": 0.5, "images": 160, "minutes": 1.5}),
        "val": json.dumps({"clean_iou": 0.5}), "bundled_at_commit": "abc1234", "trained_with_commit": "def5678",
        "data": "tiny"})


def test_converter_moves_flat_keys_into_provenance_and_leaves_tensors_alone(tmp_path: Path) -> None:
    convert = _tool("convert_model_metadata")
    path = _old_s_file(tmp_path / "s.safetensors")
    before, loaded_before = tensors_sha256(path), S_FILE.load(path)[0].state_dict()
    assert convert.convert(path, {"run": "from-the-card"}) is True
    assert tensors_sha256(path) == before
    assert sorted(read_metadata(path)) == ["config", "format", "provenance", "size"]
    info = S_FILE.read(path)[0]
    assert info.provenance == Provenance(
        run="from-the-card",
        steps=10,
        epochs=0.5,
        images=160,
        minutes=1.5,
        val={"clean_iou": 0.5},
        trained_with_commit="def5678",
        bundled_at_commit="abc1234",
        data="tiny",
        inputs={},
        note=info.provenance.note,
    )
    assert "from MODEL_CARD.md: run" in info.provenance.note
    loaded_after = S_FILE.load(path)[0].state_dict()
    assert all(torch.equal(loaded_before[k], loaded_after[k]) for k in loaded_before)
    assert convert.convert(path, {}) is False  # idempotent


def test_converter_refuses_to_drop_a_key_it_does_not_know(tmp_path: Path) -> None:
    convert = _tool("convert_model_metadata")
    from deocclude.segment.model import UNet

    path = S_FILE.save(UNet(TINY_S), tmp_path / "s.safetensors", 64, extra={"mystery": "1"})
    with pytest.raises(SystemExit, match="mystery"):
        convert.convert(path, {})


def _finished_run(folder: Path, network_file, net: torch.nn.Module, config, metadata_extra: dict[str, str]) -> Path:
    """A run folder as the loop leaves it: fp32 export with the task's metadata, config.json, log.jsonl."""
    network_file.save(net, folder / "final" / "weights.safetensors", config.size, extra=metadata_extra, half=False)
    save_config(config, folder / "config.json")
    records = [{"event": "start", "step": 0, "commit": "aaa1111"}, {"event": "start", "step": 3, "commit": "bbb2222"},
               {"event": "end", "step": 7, "epochs": 0.25, "images": 28, "minutes": 0.5,
                                               "weights": "x", "val_metric": 0.125}]
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def _nets():
    from deocclude.inpaint.generator import Generator
    from deocclude.reconstruct.regressor import Regressor
    from deocclude.segment.model import UNet

    torch.manual_seed(0)
    return [
        ("S", S_FILE, UNet(TINY_S).eval(), SegmentTrainConfig(model=TINY_S, size=64), {}, torch.rand(1, 3, 64, 64)),
        (
            "R",
            R_FILE,
            Regressor(TINY_R).eval(),
            ReconstructTrainConfig(model=TINY_R, size=64),
            {},
            torch.rand(1, 3, 64, 64),
        ),
        (
            "G",
            G_FILE,
            Generator(TINY_G).eval(),
            InpaintTrainConfig(generator=TINY_G, size=32),
            {"uses_prior": "true"},
            torch.rand(1, 7, 32, 32),
        ),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["S", "R", "G"])
def test_one_bundler_for_every_recipe(tmp_path: Path, index: int) -> None:
    _, network_file, net, config, extra, x = _nets()[index]
    run = _finished_run(tmp_path / "run-x", network_file, net, config, extra)
    path, provenance = bundle(run, tmp_path / "bundled.safetensors")
    loaded, info = network_file.load(path)
    assert info.size == config.size and info.provenance == provenance
    assert (provenance.run, provenance.steps, provenance.epochs, provenance.images, provenance.minutes) == (
        "run-x",
        7,
        0.25,
        28,
        0.5,
    )
    assert provenance.val == {"val_metric": 0.125} and provenance.data
    assert provenance.trained_with_commit == "aaa1111, bbb2222"  # the run was resumed with newer code
    assert {k: v for k, v in read_metadata(path).items() if k != "provenance"} == read_metadata(
        run / "final" / "weights.safetensors"
    )
    assert all(t.dtype == torch.float16 for t in read_tensors_raw(path) if t.is_floating_point())
    with torch.no_grad():
        assert torch.allclose(net(x), loaded(x), atol=5e-2)


def read_tensors_raw(path: Path) -> list[torch.Tensor]:
    from deocclude.model_file import read_tensors

    return list(read_tensors(path, "test", as_float32=False)[1].values())


def test_bundler_takes_the_training_commit_from_the_command_line_for_old_runs(tmp_path: Path) -> None:
    _, network_file, net, config, extra, _ = _nets()[0]
    run = _finished_run(tmp_path / "old-run", network_file, net, config, extra)
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        {"event": "start", "step": 0}, {"event": "end", "step": 7, "images": 28, "minutes": 0.5})))
    assert bundle(run, tmp_path / "a.safetensors")[1].trained_with_commit == "unknown"
    assert bundle(run, tmp_path / "b.safetensors", commit="0123abc")[1].trained_with_commit == "0123abc"


def test_bundler_says_when_the_run_has_not_finished(tmp_path: Path) -> None:
    with pytest.raises(DeoccludeError, match="not finished"):
        bundle(tmp_path)


def test_model_card_quotes_the_provenance_the_files_carry() -> None:
    lines = subprocess.run([sys.executable, str(REPO_DIR / "tools" / "model_card_provenance.py")], capture_output=True,
                           text=True, check=True, env={"PYTHONPATH": str(REPO_DIR / "src")}).stdout.splitlines()
    card = (REPO_DIR / "MODEL_CARD.md").read_text()
    assert len(lines) == 3
    for line in lines:
        assert line in card, f"MODEL_CARD.md lacks (rerun tools/model_card_provenance.py): {line}"

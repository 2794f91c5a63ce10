"""``deocclude eval``: the metric functions on hand-made images, the command's error paths,
and one small end-to-end run of the sunglasses protocol on the shared data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from deocclude.cli import build_parser, main
from deocclude.errors import DeoccludeError
from deocclude.evaluate import PROTOCOLS, protocol_module
from deocclude.evaluate.config import BUNDLED_G, Table1Config, parse_g_weights
from deocclude.evaluate.masks import mask_agreement, oracle_fill_mask, own_occlusion, true_occlusion
from deocclude.evaluate.metrics import MeanTable, pixel_scores


def rectangle(rows: slice, cols: slice, size: int = 32) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[rows, cols] = 1
    return mask


def test_mask_agreement_of_two_overlapping_rectangles() -> None:
    found = rectangle(slice(0, 10), slice(0, 10))  # 100 px
    true = rectangle(slice(5, 15), slice(0, 10))  # 100 px, 50 shared
    own = rectangle(slice(0, 5), slice(0, 4))  # hair over 20 of the 50 found-but-not-true pixels
    r = mask_agreement(found[None], true[None], own[None])
    assert r["iou"][0] == pytest.approx(50 / 150)
    assert r["precision"][0] == pytest.approx(0.5)
    assert r["recall"][0] == pytest.approx(0.5)
    assert r["precision_with_own"][0] == pytest.approx(70 / 100)


def test_precision_with_the_soft_edge_counts_the_rim_under_a_faint_occluder() -> None:
    """M_O's rim on the occluder's blended edge (opacity 0.1-0.5: tinted, not in T) is right, not wrong."""
    found = rectangle(slice(4, 16), slice(4, 16))  # 144 px: T (100 px) and a 1 px rim (44 px)
    true = rectangle(slice(5, 15), slice(5, 15))
    edge = rectangle(slice(4, 16), slice(4, 16)) - true  # the blended edge: tinted, under T's threshold
    edge[4, 4:16] = 0  # its top row is not tinted: 12 rim pixels stay wrong
    r = mask_agreement(found[None], true[None], tinted=(true + edge)[None])
    assert r["precision"][0] == pytest.approx(100 / 144)
    assert r["precision_tinted"][0] == pytest.approx(132 / 144)


def test_mask_agreement_is_nan_where_undefined_and_perfect_on_equal_masks() -> None:
    true = rectangle(slice(2, 9), slice(3, 30))
    r = mask_agreement(np.stack([true, np.zeros_like(true)]), np.stack([true, true]))
    assert r["iou"].tolist()[0] == r["precision"].tolist()[0] == r["recall"].tolist()[0] == 1.0
    assert math.isnan(r["precision"][1]) and r["recall"][1] == 0.0 and r["iou"][1] == 0.0


def test_true_and_oracle_masks_follow_opacity_and_surface() -> None:
    alpha = np.array([[0.05, 0.3, 0.6, 1.0]], np.float32)
    surface = np.array([[1.0, 1.0, 1.0, 0.0]], np.float32)
    assert true_occlusion(alpha, surface).tolist() == [[False, False, True, False]]
    assert oracle_fill_mask(alpha, surface).tolist() == [[0.0, 1.0, 1.0, 0.0]]  # the faint rim too, never off the face
    assert own_occlusion(np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 0.0]])).tolist() == [[False, True, False]]


def test_pixel_scores_on_known_images() -> None:
    clean = torch.rand(2, 3, 32, 32)
    region = torch.from_numpy(rectangle(slice(8, 24), slice(8, 24)))[None, None].expand(2, 1, -1, -1)
    same = pixel_scores(clean, clean, region)
    assert same["l1"] == pytest.approx([0.0, 0.0]) and (same["psnr"] > 80).all()
    assert same["ssim"] == pytest.approx([1.0, 1.0], abs=1e-4)
    grey = torch.full((1, 3, 32, 32), 0.5)
    off = pixel_scores(grey + 0.1 * region[:1], grey, region[:1])  # off by 0.1 inside the region only
    assert off["l1"][0] == pytest.approx(0.1, abs=1e-6) and off["psnr"][0] == pytest.approx(20.0, abs=1e-3)
    assert math.isnan(pixel_scores(clean[:1], clean[:1], torch.zeros(1, 1, 32, 32))["l1"][0])


def test_mean_table_skips_nan_and_counts_faces() -> None:
    table = MeanTable()
    table.add("a", {"l1": np.array([0.1, np.nan]), "id_cos": np.array([0.5, 0.7])})
    table.add("a", {"l1": np.array([0.3]), "id_cos": np.array([0.9])})
    assert table.summary() == {"a": {"l1": 0.2, "n": 2, "id_cos": 0.7}}


def test_g_weights_and_config_errors(tmp_path: Path) -> None:
    assert parse_g_weights(None) == (BUNDLED_G,)
    assert parse_g_weights(["none"]) == ()
    assert parse_g_weights(["new=a/b.safetensors", "c.safetensors"]) == (("new", "a/b.safetensors"),
                                                                        ("G (c.safetensors)", "c.safetensors"))
    with pytest.raises(DeoccludeError, match="LABEL=PATH"):
        parse_g_weights(["=x"])
    with pytest.raises(DeoccludeError, match="no weights file"):
        Table1Config("sunglasses", g_weights=(("x", str(tmp_path / "missing.safetensors")),))
    with pytest.raises(DeoccludeError, match="--limit"):
        Table1Config("mixed", limit=0)


def test_missing_protocol_module_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROTOCOLS, "nowhere", "deocclude.evaluate.not_written_yet")
    with pytest.raises(DeoccludeError, match="not available in this installation"):
        protocol_module("nowhere")


def test_eval_without_the_shared_data_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DEOCCLUDE_DATA", str(tmp_path / "no_data"))
    code = main(["eval", "--protocol", "sunglasses", "--limit", "2", "--output-dir", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "the evaluation needs the UTKFace test split at" in err and "set DEOCCLUDE_DATA" in err
    assert not (tmp_path / "out").exists()


def test_a_bad_pipeline_override_is_a_one_line_error_before_any_data(tmp_path: Path, capsys) -> None:
    code = main(["eval", "--protocol", "mixed", "--limit", "2", "--set", "rim_depth=fast",
                 "--output-dir", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "rim_depth" in err and "not JSON" in err
    assert not (tmp_path / "out").exists()


def test_exact_command_lists_the_options_that_differ_from_their_defaults() -> None:
    from deocclude.commands.eval import _PARSER, exact_command

    argv = ["eval", "--protocol", "mixed", "--limit", "5", "--g-weights", "G (bundled)=w.safetensors", "--no-grid"]
    args = build_parser().parse_args(argv)
    command = exact_command(_PARSER[0], args)
    assert command == "deocclude eval --protocol mixed --limit 5 --g-weights 'G (bundled)=w.safetensors' --no-grid"
    assert build_parser().parse_args(__import__("shlex").split(command)[1:]) == args


def test_eval_sunglasses_end_to_end(utkface_root: Path, tmp_path: Path, one_torch_thread) -> None:
    out = tmp_path / "results"
    code = main(["eval", "--protocol", "sunglasses", "--limit", "4", "--output-dir", str(out),
                 "--grid", str(tmp_path / "grid.png"), "--quiet"])
    assert code == 0
    report = json.loads((out / "eval_sunglasses.json").read_text())
    assert report["command"].startswith("deocclude eval --protocol sunglasses --limit 4")
    assert (out / "eval_sunglasses.md").read_text().startswith("```bash\ndeocclude eval --protocol sunglasses")
    assert report["faces"] == 4 and report["categories"] == {"eyewear": 4}
    rows = {(r["mask"], r["method"]): r for r in report["rows"]}
    assert set(rows) == {("none", "occluded input (no de-occlusion)"),
                         ("oracle", "OpenCV Telea"), ("oracle", "OpenCV Navier-Stokes"), ("oracle", "G (bundled)"),
                         ("oracle", "I_R Poisson blend"), ("automatic (S + R)", "OpenCV Telea"),
                         ("automatic (S + R)", "I_R Poisson blend"), ("automatic (S + R)", "G (bundled)"),
                         ("none", "floor: eyes blacked"), ("none", "floor: mouth blacked")}
    for key, row in rows.items():
        assert row["n"] == 4 and -1 <= row["id_cos"] <= 1 and -1 <= row["arc_cos"] <= 1
        if not key[1].startswith("floor"):  # the floors are identity rows only
            assert 0 <= row["l1"] <= 1 and -1 <= row["ssim"] <= 1 and 0 < row["psnr"] < 100
    eyes = rows[("none", "floor: eyes blacked")]
    assert eyes["arc_cos"] < 0.95 and eyes["id_dist"] > 0  # blacking the eyes out costs identity, by both networks
    occluded, telea = rows[("none", "occluded input (no de-occlusion)")], rows[("oracle", "OpenCV Telea")]
    assert telea["l1"] < occluded["l1"] and telea["psnr"] > occluded["psnr"]  # filling sunglasses beats keeping them
    mask = report["mask"]
    assert mask["n"] == 4 and all(0 <= mask[k] <= 1 for k in ("iou", "precision", "recall", "precision_with_own"))
    assert mask["recall"] > 0.5  # S and R find most of a pair of sunglasses
    assert report["paper_table1_different_data"]["rows"]["ours"]["psnr"] == 28.902
    assert (tmp_path / "grid.png").stat().st_size > 0

"""Downstream evaluations: LFW verification under occlusion and the Figure-9 privacy analysis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deocclude.cli import main
from deocclude.errors import DeoccludeError
from deocclude.evaluate.embeddings import cosine
from deocclude.evaluate.figures import draw_histogram, histogram_counts, summarize
from deocclude.evaluate.lfw import Pair, best_threshold, limit_pairs, read_pairs, verification_accuracy
from deocclude.evaluate.occlude_photos import OCCLUDED, mask_scores
from deocclude.evaluate.privacy import OTHER_PERSON, lfw_threshold
from deocclude.evaluate.privacy import markdown as privacy_markdown
from deocclude.imageio import read_image


def _unit(angle_deg: float) -> np.ndarray:
    a = np.radians(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


def test_best_threshold_known_answer():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    same = np.array([True, True, False, True, False, False])
    t, acc = best_threshold(scores, same)
    assert (t, acc) == (0.6, pytest.approx(5 / 6))  # accept >= 0.6: one different pair (0.7) wrong
    t, acc = best_threshold(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False]))
    assert (t, acc) == (0.8, 1.0)  # the lowest threshold that separates perfectly
    t, acc = best_threshold(np.array([0.5, 0.4]), np.array([False, False]))
    assert acc == 1.0 and t > 0.5  # nobody accepted


def test_verification_accuracy_uses_the_other_folds_threshold():
    # hand-made 2-D embeddings: a pair's cosine = cos(angle between them)
    angles = {  # fold: [(angle a, angle b, same)]
        1: [(0, 10, True), (0, 20, True), (0, 60, False), (0, 80, False)],  # cos .985 .940 | .5 .17
        2: [(0, 5, True), (0, 45, True), (0, 30, False), (0, 90, False)],  # cos .996 .707 | .866 0
    }
    a, b, same, fold = [], [], [], []
    for k, rows in angles.items():
        for x, y, s in rows:
            a.append(_unit(x))
            b.append(_unit(y))
            same.append(s)
            fold.append(k)
    scores = cosine(np.array(a), np.array(b))
    result = verification_accuracy(scores, np.array(same), np.array(fold))
    # fold 1's threshold comes from fold 2: its best is 3/4, first reached at cos 45 = .707 (the 30° different
    # pair is accepted); on fold 1 that threshold is right 4/4.
    # fold 2's threshold comes from fold 1: the lowest perfect one there is cos 20 = .940; on fold 2 it rejects
    # the 45° same pair: 3/4
    assert result["thresholds"][1] == pytest.approx(np.cos(np.radians(45)))
    assert result["thresholds"][2] == pytest.approx(np.cos(np.radians(20)))
    assert result["per_fold"] == {1: 1.0, 2: 0.75}
    assert result["accuracy_mean"] == pytest.approx(0.875) and result["accuracy_std"] == pytest.approx(0.125)
    fixed = verification_accuracy(scores, np.array(same), np.array(fold), {1: 0.0, 2: 0.99})
    assert fixed["per_fold"] == {1: 0.5, 2: 0.75}  # everyone accepted on fold 1; only the 5° pair on fold 2


def test_limit_pairs_is_balanced():
    pairs = [Pair(f, f"{f}{s}{i}", "x", s) for f in (1, 2) for s in (True, False) for i in range(5)]
    chosen = limit_pairs(pairs, 4)
    assert sorted((p.fold, p.same) for p in chosen) == [(1, False), (1, True), (2, False), (2, True)]
    assert limit_pairs(pairs, None) == pairs


def test_summary_and_histogram():
    values = np.arange(1, 101, dtype=float) / 100  # 0.01 .. 1.00
    s = summarize(values, threshold=0.9)
    assert s["n"] == 100 and s["mean"] == pytest.approx(0.505)
    assert s["p10"] == pytest.approx(np.percentile(values, 10)) and s["p50"] == pytest.approx(0.505)
    assert s["p90"] == pytest.approx(0.901) and s["share_above_threshold"] == pytest.approx(0.11)
    assert summarize(np.array([]))["n"] == 0
    edges, counts = histogram_counts({"a": np.array([0.0, 0.1, 0.9]), "b": np.array([1.0])}, bins=2)
    assert edges.tolist() == [0.0, 0.5, 1.0]
    assert counts["a"].tolist() == [2, 1] and counts["b"].tolist() == [0, 1]
    picture = draw_histogram({"before": values, "after": values ** 0.5}, "test", threshold=0.9)
    assert picture.dtype == np.uint8 and picture.shape == (400, 720, 3) and picture.min() < 100


def test_mask_scores():
    truth = np.zeros((2, 4, 4), np.float32)
    truth[0, :2] = 1  # 8 px
    found = np.zeros((2, 4, 4), bool)
    found[0, :1] = True  # 4 px, all inside
    found[1, 0, 0] = True  # no true hole: left out
    s = mask_scores(found, truth)
    assert s == {"n": 1, "iou": 0.5, "precision": 1.0, "recall": 0.5}


def test_read_pairs(tmp_path: Path):
    (tmp_path / "pairs.txt").write_text("2 1\nA 1 2\nB 1 C 3\nD 4 5\nE 1 F 1\n")
    pairs = read_pairs(tmp_path)
    assert pairs[0] == Pair(1, "A/A_0001.jpg", "A/A_0002.jpg", True)
    assert pairs[1] == Pair(1, "B/B_0001.jpg", "C/C_0003.jpg", False)
    assert [p.fold for p in pairs] == [1, 1, 2, 2]


def test_missing_data_is_one_line_error(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("DEOCCLUDE_DATA", str(tmp_path / "nowhere"))
    assert main(["eval", "--protocol", "lfw", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deocclude: error: LFW data not found") and "\n" not in err
    assert main(["eval", "--protocol", "privacy", "--output-dir", str(tmp_path)]) == 2
    assert "run `deocclude eval --protocol lfw` first" in capsys.readouterr().err
    assert main(["eval", "--protocol", "privacy", "--threshold", "0.9", "--output-dir", str(tmp_path)]) == 2
    assert "or pass --arcface-threshold" in capsys.readouterr().err  # each network needs its threshold
    assert main(["eval", "--protocol", "privacy", "--threshold", "0.9", "--arcface-threshold", "0.3",
                 "--output-dir", str(tmp_path)]) == 2
    assert "UTKFace data not found" in capsys.readouterr().err


def test_privacy_thresholds_per_network(tmp_path: Path):
    clean = {"clean": {"thresholds": {"1": 0.90, "2": 0.92}}}
    (tmp_path / "eval_lfw.json").write_text(json.dumps({"results": clean}))  # from before ArcFace
    assert lfw_threshold(tmp_path) == pytest.approx(0.91)
    with pytest.raises(DeoccludeError) as info:
        lfw_threshold(tmp_path, "arcface")
    message = str(info.value)
    assert "no results_arcface" in message and "rerun `deocclude eval --protocol lfw`" in message
    assert "--arcface-threshold" in message and "\n" not in message
    arcface = {"clean": {"thresholds": {"1": 0.30, "2": 0.34}}}
    (tmp_path / "eval_lfw.json").write_text(json.dumps({"results": clean, "results_arcface": arcface}))
    assert lfw_threshold(tmp_path, "arcface") == pytest.approx(0.32)


def test_privacy_markdown_reads_dlib_only_reports():
    row = {"n": 2, "mean": 0.95, "p10": 0.94, "p50": 0.95, "p90": 0.96, "share_above_threshold": 1.0}
    old = {"faces": 2, "crop_size": 128, "seed": 1, "types": ["mask"], "same_identity_threshold": 0.905,
           "threshold_source": "--threshold", "device": "cpu", "seconds": 1.0, "histograms": [],
           "results": {"mask": {OCCLUDED: row}, OTHER_PERSON: row}, "found_mask_vs_true_occlusion": {}}
    text = privacy_markdown(old)
    assert "## dlib-ResNet" in text and "ArcFace-class" not in text and "share ≥ 0.905" in text
    assert "| — (floor) | other person (clean) |" in text


def test_tiny_end_to_end(data_root: Path, tmp_path: Path, monkeypatch, one_torch_thread):
    if not (data_root / "faces" / "lfw" / "pairs.txt").is_file():
        pytest.skip(f"LFW data not found under {data_root / 'faces' / 'lfw'}")
    if not (data_root / "faces" / "utkface" / "landmarks.npz").is_file():
        pytest.skip(f"UTKFace data not found under {data_root / 'faces' / 'utkface'}")
    monkeypatch.setenv("DEOCCLUDE_CACHE", str(tmp_path / "cache"))
    common = ["--output-dir", str(tmp_path), "--device", "cpu", "--quiet", "--types", "sunglasses"]
    assert main(["eval", "--protocol", "lfw", "--limit", "4", "--grid", str(tmp_path / "lfw.png"), *common]) == 0
    lfw = json.loads((tmp_path / "eval_lfw.json").read_text())
    assert lfw["pairs"] == 4 and lfw["same_pairs"] == 2 and lfw["folds"] == [1, 2]
    rows = lfw["results"]["sunglasses"]
    assert {"occluded", "ours (S + R + Telea)", "oracle mask + Telea"} <= set(rows)
    assert all(0.0 <= r["accuracy_mean"] <= 1.0 for r in rows.values())
    for results in (lfw["results"], lfw["results_arcface"]):  # both identity networks, with the floors
        assert {"clean", "eyes blacked", "mouth blacked", "sunglasses"} <= set(results)
        assert set(results["sunglasses"]) == set(rows)
    # ArcFace separates people: a different pair scores far below a same pair (dlib gives both ~0.85)
    arc = lfw["results_arcface"]["clean"]
    assert arc["same_cos_mean"] - arc["different_cos_mean"] > 0.3
    markdown = (tmp_path / "eval_lfw.md").read_text()
    assert "## ArcFace-class" in markdown and "floor: eyes blacked" in markdown
    assert (tmp_path / "eval_lfw.md").read_text().startswith("```bash\ndeocclude eval --protocol lfw")
    assert (tmp_path / "lfw.png").is_file() and lfw["grid"] == str(tmp_path / "lfw.png")
    # the privacy run picks up each network's LFW clean threshold from eval_lfw.json
    assert main(["eval", "--protocol", "privacy", "--limit", "4", "--no-grid", *common]) == 0
    privacy = json.loads((tmp_path / "eval_privacy.json").read_text())
    gap = {}
    for suffix in ("", "_arcface"):  # dlib under the keys it always had, ArcFace beside it
        clean_thresholds = list(lfw["results" + suffix]["clean"]["thresholds"].values())
        assert privacy["same_identity_threshold" + suffix] == pytest.approx(np.mean(clean_thresholds))
        results = privacy["results" + suffix]
        assert {OTHER_PERSON, "eyes blacked", "mouth blacked"} <= set(results)  # the floors
        assert set(results["sunglasses"]) == set(privacy["methods"])
        occluded = results["sunglasses"][OCCLUDED]
        assert occluded["n"] == 4 and occluded["mean"] <= 1.0 and "share_above_threshold" in occluded
        gap[suffix] = occluded["mean"] - results[OTHER_PERSON]["mean"]
    # the occluded face is still its owner's, the other person is not: dlib puts the two ~0.1 apart, ArcFace far more
    assert gap["_arcface"] > 3 * max(gap[""], 0.0) and gap["_arcface"] > 0.3
    text = (tmp_path / "eval_privacy.md").read_text()
    assert "## dlib-ResNet" in text and "## ArcFace-class" in text
    for key in ("same_identity_threshold", "same_identity_threshold_arcface"):
        assert f"share ≥ {privacy[key]:.3f}" in text
    assert text.count("| — (floor) | other person (clean) |") == 2
    picture = read_image(tmp_path / "eval_privacy_sunglasses.png")
    assert picture.shape[0] == 2 * 400  # one histogram per network, stacked
    assert privacy.get("grid") is None and "--no-grid" in privacy["command"]

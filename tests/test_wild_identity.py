"""Issue 16: the wild identity do-no-harm benchmark on a few real pairs (benchmarks/wild_identity.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from deocclude.paths import REPO_DIR


def _benchmark():  # noqa: ANN202 - the benchmark module (benchmarks/ is not a package)
    path = REPO_DIR / "benchmarks" / "wild_identity.py"
    spec = importlib.util.spec_from_file_location("wild_identity", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wild_identity"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deepface(wild_root: Path) -> Path:
    folder = wild_root / "deepface"
    if not (folder / "pairs.csv").is_file():
        pytest.skip(f"wild identity pairs not found at {folder / 'pairs.csv'}")
    return folder


def test_the_core_function_scores_a_few_real_pairs(deepface: Path) -> None:
    """Two genuine pairs and one impostor: the do-nothing row must tell them apart on ArcFace, and
    an unchanged photo must keep its embedding exactly (the pipeline's pixels are all that may move it)."""
    bench = _benchmark()
    pairs = bench.read_wild_pairs(deepface)
    chosen = [p for p in pairs if p.same][:2] + [p for p in pairs if not p.same][:1]
    summary = bench.evaluate(deepface, chosen, synthetic=False)
    assert summary["pairs_scored"] == 3
    baseline = summary["rows"]["arcface"]["original vs original"]
    assert baseline["genuine_cos_mean"] > baseline["impostor_cos_mean"] + 0.2
    assert set(summary["rows"]["dlib"]) == {"original vs original", "de-occluded vs original",
                                            "de-occluded vs de-occluded"}
    for photo in summary["per_photo"]:
        assert 0.0 <= photo["changed_share"] <= 1.0
        assert photo["changed"] == (photo["changed_share"] > 0)
        if not photo["changed"]:
            assert photo["arcface_cos_to_original"] == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= summary["changed_share_mean_of_changed"] <= 1.0
    for row in summary["rows"]["arcface"].values():
        assert 0.0 <= row["accuracy"] <= 1.0 and np.isfinite(row["threshold"])

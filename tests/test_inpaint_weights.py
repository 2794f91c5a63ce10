"""The bundled G weights: load, and fill real test faces better than a trivial mean-colour fill."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deocclude.inpaint.api import DEFAULT_WEIGHTS, G_FILE, inpaint


def _test_faces(root: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(aligned 128 crop, sunglasses hole) for the first ``count`` test faces: real pixels, synthetic glasses."""
    from deocclude.faces.align import align_face
    from deocclude.faces.mesh import mesh_mask
    from deocclude.synth import EyewearConfig, OcclusionSynthesizer, SynthConfig

    with open(root / "index.csv", newline="") as fh:
        names = [r["file"] for r in csv.DictReader(fh) if r["split"] == "test"][:count]
    lm = np.load(root / "landmarks.npz")
    pos = {n: i for i, n in enumerate(lm["names"].tolist())}
    synth = OcclusionSynthesizer(
        SynthConfig(categories=("eyewear",), eyewear=EyewearConfig(p_bank=0.0, lens_weights=(0, 0, 1.0))), "test"
    )
    out = []
    for k, name in enumerate(names):
        image = cv2.cvtColor(cv2.imread(str(root / "images" / name)), cv2.COLOR_BGR2RGB)
        aligned = align_face(image, lm["points"][pos[name]], 128)
        occ = synth(aligned.crop.astype(np.float32) / 255.0, aligned.landmarks, np.random.default_rng(k), "eyewear")
        hole = (occ.alpha * mesh_mask(aligned.landmarks, 128, 128)) > 0.1
        out.append((aligned.crop, (occ.image * 255 + 0.5).astype(np.uint8), hole))
    return out


@pytest.fixture(scope="module")
def bundled() -> Path:
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"no bundled G weights at {DEFAULT_WEIGHTS}")
    return DEFAULT_WEIGHTS


def test_bundled_weights_are_small_fp16_and_load(bundled: Path) -> None:
    assert bundled.stat().st_size < 25e6
    from safetensors import safe_open

    with safe_open(str(bundled), framework="pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys() if f.get_tensor(k).is_floating_point())
    net, info = G_FILE.load(bundled)
    size = info.size
    assert size == 128 and net(torch.zeros(1, 7, 64, 64)).shape == (1, 3, 64, 64)


def test_bundled_weights_beat_mean_colour_fill_on_real_faces(bundled: Path, utkface_root: Path) -> None:
    faces = _test_faces(utkface_root, 6)
    ours, trivial = [], []
    for clean, occluded, hole in faces:
        result = inpaint(occluded, hole.astype(np.uint8))
        assert np.array_equal(result[~hole], occluded[~hole])
        visible = occluded[~hole].reshape(-1, 3).mean(0)
        ours.append(np.abs(result[hole].astype(np.float32) - clean[hole]).mean())
        trivial.append(np.abs(visible[None] - clean[hole].astype(np.float32)).mean())
    assert np.mean(ours) < 0.8 * np.mean(trivial), (ours, trivial)

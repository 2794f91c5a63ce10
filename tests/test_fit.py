"""The teacher fit on real validation faces (skips without ../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deocclude.cli import main
from deocclude.reconstruct.face_model import FaceModel
from deocclude.reconstruct.fit import FitConfig, evaluate_fit, fit_teacher
from deocclude.reconstruct.utkface import aligned_batch, load_index

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def val_batch(utkface_root):
    index = load_index(utkface_root)
    ids = index.select("val", min_visible=0.9)[:6]
    return aligned_batch(index, ids, 128)


def test_fit_beats_the_mean_face_by_far(val_batch) -> None:
    torch.manual_seed(0)
    model = FaceModel.load()
    images, landmarks, masks = val_batch
    result = fit_teacher(model, images, landmarks, masks, FitConfig())
    base = evaluate_fit(model, model.layout.zeros(len(images)), images, landmarks, masks)
    assert result.x.shape == (6, 257) and torch.isfinite(result.x).all()
    # landmarks: well below the mean face's error, and about a pixel at N = 128
    assert float(result.landmark_error.mean()) < 0.3 * float(base["landmark_error"].mean())
    assert float(result.landmark_error.max()) < 1.5
    # pixels: the fitted albedo + light explain the visible face far better than the mean face
    assert float(result.photometric_error.mean()) < 0.7 * float(base["photometric_error"].mean())
    assert float(result.photometric_error.mean()) < 0.1


def test_non_robust_baseline_takes_an_occluded_photo(val_batch) -> None:
    """The baseline is the same call on an occluded image, its landmarks and its mask."""
    model = FaceModel.load()
    images, landmarks, masks = (t[:2].clone() for t in val_batch)
    images[:, :, 40:70, 20:108] = 0.0  # a black band over the eyes
    masks[:, 40:70, 20:108] = 0.0
    result = fit_teacher(model, images, landmarks, masks, FitConfig(steps=20))
    assert torch.isfinite(result.x).all() and float(result.photometric_error.mean()) < 0.15


def test_fit_command_writes_a_resumable_cache(utkface_root, tmp_path, capsys) -> None:
    out = tmp_path / "teacher.npz"
    args = ["fit", "--splits", "val", "--limit", "3", "--steps", "10", "-o", str(out)]
    assert main(args) == 0
    data = np.load(out)
    assert data["x"].shape == (3, 257) and len(set(data["names"].tolist())) == 3
    assert set(data["split"].tolist()) == {"val"}
    assert main(args) == 0  # resuming: nothing left to do
    assert "3 faces already" in capsys.readouterr().out
    assert np.load(out)["x"].shape == (3, 257)

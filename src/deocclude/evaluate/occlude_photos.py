"""Shared by the downstream evaluations (LFW verification, Figure-9 privacy analysis).

Occlude aligned crops with the synthesizer's held-out occluders (one seeded draw per face,
a pure function of (seed, face key)) and restore them by every method we compare; the
identity networks are in :mod:`deocclude.evaluate.embeddings`, the summaries and pictures in
:mod:`deocclude.evaluate.figures`.

Methods (the keys of :func:`restore` and of the result tables):

- ``occluded``: the occluded crop itself, nothing removed;
- ``ours (S + R + I_R blend)``: what ``deocclude run`` does by default: the mask
  M_O = M_R ⊙ (1 − M_F) found by S and R (extended past M_R), filled with R's render I_R
  Poisson-blended in;
- ``ours (S + R + Telea)``: the same mask filled by OpenCV Telea;
- ``ours (S + R + G)``: the same mask filled by the bundled G (``--fill g``);
- ``oracle mask + Telea``: the classical baseline given the true occlusion
  (A ⊙ mesh > 0.1, as in ``benchmarks/inpaint_eval.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deocclude.errors import DeoccludeError

if TYPE_CHECKING:
    from deocclude.fills import Fill

DEFAULT_SEED = 20261125
OCCLUDED = "occluded"
OURS_PRIOR = "ours (S + R + I_R blend)"
OURS_TELEA = "ours (S + R + Telea)"
OURS_G = "ours (S + R + G)"
ORACLE_TELEA = "oracle mask + Telea"
METHODS = (OCCLUDED, OURS_PRIOR, OURS_TELEA, OURS_G, ORACLE_TELEA)

# Occlusion types: the synthesizer categories drawn, in order, one layer each.
# "mixed" draws one category of the synthesizer's whole list (uniformly) per face.
OCCLUSION_TYPES: dict[str, tuple[str, ...]] = {
    "sunglasses": ("sunglasses",),
    "mask": ("mask",),
    "hand": ("hand",),
    "mixed": ("mixed",),
    "sunglasses+mask": ("sunglasses", "mask"),
}


def add_option(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> None:
    """``parser.add_argument`` unless another protocol module already added the flag.

    The LFW and privacy modules (and the other ``deocclude eval`` protocols) add their
    options to one parser; shared options (``--limit``, ``--device``...) mean the same thing.
    """
    if any(flag in parser._option_string_actions for flag in flags):  # noqa: SLF001 - argparse has no public lookup
        return
    title = "lfw / privacy options"
    groups = [g for g in parser._action_groups if g.title == title]  # noqa: SLF001 - as above
    (groups[0] if groups else parser.add_argument_group(title)).add_argument(*flags, **kwargs)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options the LFW and privacy protocols share (``deocclude eval`` owns --limit, --seed, --device...)."""
    add_option(parser, "--types", default=None,
               help="lfw / privacy: occlusion types (lfw default sunglasses,mask,hand,mixed; privacy default "
                    "sunglasses,mask,sunglasses+mask)")


def run_options(args: argparse.Namespace, protocol: str) -> dict:
    """The shared options of ``deocclude eval`` with their defaults filled in for the downstream protocols.

    ``results``: the output folder (histograms, and where privacy finds eval_lfw.json); ``grid``: the
    example picture (dataset faces: default ``out/eval_<protocol>.png``, outside the repository) or None.
    """
    grid = (
        None
        if getattr(args, "no_grid", False)
        else (getattr(args, "grid", None) or Path("out") / f"eval_{protocol}.png")
    )
    seed = getattr(args, "seed", None)
    return {"results": Path(getattr(args, "output_dir", None) or Path("benchmarks") / "results"), "grid": grid,
            "seed": DEFAULT_SEED if seed is None else seed, "device": getattr(args, "device", "auto"),
            "batch_size": max(int(getattr(args, "batch_size", 16) or 16), 1), "show": not getattr(args, "quiet", False)}


def parse_types(text: str | None, default: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``--types a,b`` as a tuple, checked against ``allowed``."""
    if not text:
        return default
    kinds = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in kinds if t not in allowed]
    if bad or not kinds:
        raise DeoccludeError(f"--types: unknown {bad or text!r}; choose from {', '.join(allowed)}")
    return kinds


def progress(items: Iterable, total: int, description: str, enabled: bool = True) -> Iterable:
    """A rich progress bar over ``items`` (plain iteration when disabled)."""
    if not enabled:
        return items
    from rich.progress import track

    return track(items, total=total, description=description, transient=False)


def require_folder(path, what: str) -> None:  # noqa: ANN001 - a Path
    if not path.exists():
        raise DeoccludeError(f"{what} not found: {path} (set DEOCCLUDE_DATA to the shared data folder)")


# ---------------------------------------------------------------------------- occlusion
class Occluder:
    """Seeded synthetic occlusions of aligned crops, per occlusion type (held-out occluders).

    ``sunglasses`` uses the configuration of the paper's sunglasses protocol
    (``deocclude.synth.protocols``) and the face's generator seeded exactly as that protocol
    seeds it, so on UTKFace test faces (key = index) it reproduces the protocol's set.
    ``sunglasses+mask`` is literally the face's ``sunglasses`` occlusion with its ``mask``
    occlusion drawn over it (same draws), so the three rows can be compared face by face.
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        from deocclude.synth import OcclusionSynthesizer, SynthConfig
        from deocclude.synth.protocols import protocol_config

        self.seed = seed
        configs = {"sunglasses": protocol_config("sunglasses"), "mixed": protocol_config("mixed"),
                   "mask": SynthConfig(categories=("mask",)), "hand": SynthConfig(categories=("hand",))}
        self._configs = configs
        self._synth: dict[str, OcclusionSynthesizer] = {}
        self._factory = OcclusionSynthesizer

    def synthesizer(self, layer: str):  # noqa: ANN201 - an OcclusionSynthesizer
        if layer not in self._synth:
            try:
                self._synth[layer] = self._factory(self._configs[layer], split="test")
            except ValueError as exc:  # e.g. hands need the occluder bank of the shared data
                raise DeoccludeError(f"occlusion type {layer!r} is not available: {exc}") from exc
        return self._synth[layer]

    def __call__(self, crop: np.ndarray, landmarks: np.ndarray, kind: str, key: int) -> tuple[np.ndarray, np.ndarray]:
        """Occlude one uint8 crop; returns (occluded uint8 crop, occluder alpha A float32)."""
        if kind not in OCCLUSION_TYPES:
            raise DeoccludeError(f"unknown occlusion type {kind!r}; known: {', '.join(OCCLUSION_TYPES)}")
        image = crop.astype(np.float32) / 255.0
        alpha = np.zeros(crop.shape[:2], np.float32)
        for layer in OCCLUSION_TYPES[kind]:
            synth = self.synthesizer(layer)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(key)]))
            category = None if layer == "mixed" else synth.categories[0]
            occlusion = synth(image, landmarks, rng, category)
            image = occlusion.image
            alpha = 1.0 - (1.0 - alpha) * (1.0 - occlusion.alpha)
        return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8), alpha


def oracle_hole(alpha: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The true occlusion of the face as a binary hole: A ⊙ mesh > 0.1 (as the inpainting benchmark)."""
    from deocclude.faces.mesh import mesh_mask
    from deocclude.inpaint.data import HOLE_THRESHOLD

    size = alpha.shape[0]
    return ((alpha * mesh_mask(landmarks, size, size)) > HOLE_THRESHOLD).astype(np.float32)


# ---------------------------------------------------------------------------- restoration
@dataclass
class Restorer:
    """Runs S + R once per crop and fills the found mask by the I_R blend, G and Telea.

    The oracle mask is filled by Telea too."""

    device: str = "auto"
    batch_size: int = 32

    def __post_init__(self) -> None:
        from deocclude.evaluate.fills import AutomaticPipeline
        from deocclude.fills import make_fill
        from deocclude.pipeline import DeoccluderConfig

        self.pipeline = AutomaticPipeline(DeoccluderConfig(device=self.device, batch_size=self.batch_size))
        self.telea, self.blend = make_fill("telea"), make_fill("prior")
        self.g: Fill | None
        try:
            self.g = make_fill("g", device=self.pipeline.device)
        except DeoccludeError:  # G's weights are not installed: the G row is left out
            self.g = None

    @property
    def has_g(self) -> bool:
        return self.g is not None

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(m for m in METHODS if m != OURS_G or self.has_g)

    def __call__(self, occluded: np.ndarray, holes: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Restored crops per method for a chunk of occluded crops (B, N, N, 3) and oracle holes (B, N, N).

        Also returns the found occlusion masks M_O (B, N, N) bool.
        """
        from deocclude.face_batch import tensor_to_images

        batch = self.pipeline(occluded).batch
        fills = {OURS_PRIOR: (self.blend if batch.render is not None else self.telea, batch),
                 OURS_TELEA: (self.telea, batch), ORACLE_TELEA: (self.telea, batch.with_occlusion(holes))}
        if self.g is not None:
            fills[OURS_G] = (self.g, batch)
        out = {OCCLUDED: occluded} | {method: tensor_to_images(fill(b)) for method, (fill, b) in fills.items()}
        assert batch.occlusion is not None  # face_batch stacks M_O for every face (zeros where one failed)
        return {m: out[m] for m in self.methods}, batch.occlusion > 0.5


def mask_scores(found: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean IoU / precision / recall of found occlusion masks vs the true holes (faces with a hole)."""
    truth = truth > 0.5
    inter = (found & truth).sum((1, 2)).astype(np.float64)
    union = (found | truth).sum((1, 2))
    ok = truth.any((1, 2))
    if not ok.any():
        return {"n": 0}
    return {"n": int(ok.sum()),
            "iou": float((inter[ok] / np.maximum(union[ok], 1)).mean()),
            "precision": float((inter[ok] / np.maximum(found.sum((1, 2))[ok], 1)).mean()),
            "recall": float((inter[ok] / truth.sum((1, 2))[ok]).mean())}


def chunks(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))

"""Shared by the downstream evaluations (LFW verification, Figure-9 privacy analysis).

Occlude aligned crops with the synthesizer's held-out occluders (one seeded draw per face,
a pure function of (seed, face key)), restore them by every method we compare, embed them
with the dlib-ResNet identity network, and summarise, plot and show the results.

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

import cv2
import numpy as np

from deocclude.errors import DeoccludeError

if TYPE_CHECKING:
    from deocclude.fills import Fill
    from deocclude.identity.arcface import ArcFaceMobile
    from deocclude.identity.network import DlibFaceResNet

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


# ---------------------------------------------------------------------------- identity
IDENTITY_NETWORKS = ("dlib", "arcface")
"""Every identity row is reported with both: dlib-ResNet (128-D; any two faces score ≈ 0.85) and
the ArcFace-class MobileFaceNet (512-D, unrelated faces ≈ 0: deocclude/identity/arcface.py)."""


class Embedder:
    """Identity embeddings of uint8 canonical crops, in batches, on one device.

    ``network``: ``dlib`` (the whole-crop dlib-ResNet chip) or ``arcface`` (the 5-point
    112 × 112 chip from the canonical landmarks: deocclude/identity/arcface_align.py).
    """

    def __init__(self, device: str = "auto", batch_size: int = 64, network: str = "dlib") -> None:
        from deocclude.device import resolve_device

        if network not in IDENTITY_NETWORKS:
            raise DeoccludeError(f"unknown identity network {network!r} (use {' or '.join(IDENTITY_NETWORKS)})")
        self.device = resolve_device(device)
        self.batch_size, self.name = batch_size, network
        self.network: DlibFaceResNet | ArcFaceMobile
        if network == "dlib":
            from deocclude.identity.weights import load_identity_network

            self.network = load_identity_network(device=self.device)
        else:
            from deocclude.identity.arcface import load_arcface

            self.network = load_arcface(device=self.device)

    def _embed(self, crops: np.ndarray):  # noqa: ANN202 - a (B, D) tensor
        if self.name == "dlib":
            from deocclude.identity.embed import face_embedding
            from deocclude.identity.network import DlibFaceResNet

            assert isinstance(self.network, DlibFaceResNet)  # what __init__ loads for "dlib"
            return face_embedding(np.ascontiguousarray(crops), self.network)
        from deocclude.face_batch import images_to_tensor
        from deocclude.identity.arcface import ArcFaceMobile
        from deocclude.identity.arcface_align import arcface_embedding

        assert isinstance(self.network, ArcFaceMobile)  # what __init__ loads for "arcface"
        return arcface_embedding(images_to_tensor(crops).to(self.device), network=self.network)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(crops), self.batch_size):
                out.append(self._embed(crops[i:i + self.batch_size]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 128 if self.name == "dlib" else 512), np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (B, D) arrays."""
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)


def chunks(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


# ---------------------------------------------------------------------------- summaries and pictures
def summarize(values: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """Mean, std, p10, p50, p90 (and the share at or above ``threshold``) of a 1-D distribution."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return {"n": 0}
    out = {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
           "p10": float(np.percentile(v, 10)), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
    if threshold is not None:
        out["share_above_threshold"] = float((v >= threshold).mean())
    return out


def histogram_counts(series: dict[str, np.ndarray], bins: int = 40, lo: float | None = None,
                     hi: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Common bin edges over every series (range = their joint min..max unless given) and the counts of each."""
    joined = np.concatenate([np.asarray(v, np.float64).ravel() for v in series.values()])
    lo = float(joined.min()) if lo is None else lo
    hi = float(joined.max()) if hi is None else hi
    if hi <= lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    return edges, {name: np.histogram(np.clip(v, lo, hi), edges)[0] for name, v in series.items()}


PALETTE = ((200, 60, 40), (40, 110, 200), (40, 160, 70), (150, 80, 170), (230, 150, 20))  # RGB


def draw_histogram(series: dict[str, np.ndarray], title: str, threshold: float | None = None,
                   bins: int = 40, size: tuple[int, int] = (720, 400)) -> np.ndarray:
    """An RGB uint8 plot of overlaid step histograms (one colour per series, legend with means).

    Drawn with OpenCV (matplotlib is not a dependency); a dashed vertical line marks ``threshold``.
    """
    width, height = size
    left, right, top, bottom = 50, 20, 40, 50
    img = np.full((height, width, 3), 255, np.uint8)
    values = dict(series)
    lo = min(float(np.min(v)) for v in values.values())
    hi = max(float(np.max(v)) for v in values.values())
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.02 * (hi - lo) + 1e-6
    edges, counts = histogram_counts(values, bins, lo - pad, hi + pad)
    peak = max(1, max(int(c.max()) for c in counts.values()))
    pw, ph = width - left - right, height - top - bottom
    def x_of(v: float) -> int:
        return int(round(left + (v - edges[0]) / (edges[-1] - edges[0]) * pw))
    def y_of(c: float) -> int:
        return int(round(top + ph - c / peak * ph))
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    for tick in np.linspace(edges[0], edges[-1], 6):
        cv2.line(img, (x_of(tick), top + ph), (x_of(tick), top + ph + 5), (0, 0, 0), 1)
        cv2.putText(img, f"{tick:.2f}", (x_of(tick) - 16, top + ph + 20), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "cosine to the clean face", (left, height - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, str(peak), (5, top + 10), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "faces", (5, top + 25), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, c) in enumerate(counts.items()):
        colour = PALETTE[k % len(PALETTE)]
        points = [(x_of(edges[0]), y_of(0))]
        for i, n in enumerate(c):
            points += [(x_of(edges[i]), y_of(n)), (x_of(edges[i + 1]), y_of(n))]
        points.append((x_of(edges[-1]), y_of(0)))
        cv2.polylines(img, [np.array(points, np.int32)], False, colour, 2, cv2.LINE_AA)
        label = f"{name}: mean {np.mean(values[name]):.3f}"
        cv2.putText(img, label, (left + 10, top + 18 + 18 * k), font, 0.45, colour, 1, cv2.LINE_AA)
    if threshold is not None:
        x = x_of(threshold)
        for y in range(top, top + ph, 8):
            cv2.line(img, (x, y), (x, min(y + 4, top + ph)), (90, 90, 90), 1)
        cv2.putText(img, f"dashed line: same-identity threshold {threshold:.3f}", (left + pw - 300, height - 10), font,
                    0.45, (90, 90, 90), 1, cv2.LINE_AA)
    return img


def example_rows(count: int, done: int, total: int, per_call: int = 2) -> list[int]:
    """Indices of the next ``per_call`` grid examples, spread over ``count`` faces.

    ``done`` of ``total`` rows are drawn already."""
    return sorted({(done + k) * count // max(total, 1) for k in range(per_call) if done + k < total})


def image_grid(rows: list[list[np.ndarray]], labels: list[str], cell: int = 128) -> np.ndarray:
    """Rows of RGB crops under a header of column labels (uint8 RGB)."""
    header = 22
    cols = max(len(r) for r in rows)
    grid = np.full((header + cell * len(rows), cell * cols, 3), 255, np.uint8)
    for j, label in enumerate(labels[:cols]):
        cv2.putText(grid, label, (j * cell + 3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    for i, row in enumerate(rows):
        for j, crop in enumerate(row):
            if crop.shape[0] != cell:
                crop = cv2.resize(crop, (cell, cell), interpolation=cv2.INTER_AREA)
            grid[header + i * cell:header + (i + 1) * cell, j * cell:(j + 1) * cell] = crop
    return grid


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def mask_table(masks: dict[str, dict]) -> str:
    """Markdown: the found occlusion masks' IoU / precision / recall per occlusion type."""
    rows = [[k, str(v.get("n", 0)), *(f"{v[x]:.3f}" if x in v else "—" for x in ("iou", "precision", "recall"))]
            for k, v in masks.items()]
    return ("Occlusion mask found by S + R (M_O) vs the true occlusion (A ⊙ mesh > 0.1), per face, mean:\n\n"
            + markdown_table(["occlusion", "faces", "IoU", "precision", "recall"], rows))

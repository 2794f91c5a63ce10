"""Seeded evaluation protocols: ``sunglasses`` (paper §4.3), ``mixed`` (all occluders), ``facemask`` and
``eyeglasses``.

``facemask`` (issue 17) is real-world face masks: half surgical (white / light blue, pleated),
half KN95 (white, pointed), each with its band under the jaw, ear loops and the shadow along
its top edge (:mod:`deocclude.synth.facemask`). ``eyeglasses`` (session 9) is thin real-looking
eyeglasses with clear lenses, temples and reflections (:mod:`deocclude.synth.glasses`): whether a
pair is removed whole, frame by frame, and the eyes behind the lenses kept. All run over the 1,000
UTKFace ``test`` faces with the synthesizer's ``test`` split (held out bank items, textures, hair donors and
procedural parameter ranges). Each face's
occlusion is a pure function of (protocol seed, face index), drawn only from numpy
Generators, so the same seed gives byte-identical sets on any machine with the same data
folder. :func:`write_protocol` stores a set as PNGs + ``index.csv`` for other tools.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deocclude.synth.compose import Occlusion
from deocclude.synth.config import EyewearConfig, SynthConfig
from deocclude.synth.synthesizer import OcclusionSynthesizer

DEFAULT_SEED = 20261125
PROTOCOLS = ("sunglasses", "mixed", "facemask", "eyeglasses")
# Written out, not derived from synth.config.CATEGORIES: new categories must not reshuffle a
# published protocol (the mixed set is the same bytes as before the realistic kinds came).
MIXED_CATEGORIES = ("mask", "eyewear", "hand", "cup", "microphone", "phone", "hat", "scarf_cloth",
                    "food", "object", "hair", "blob")
FACEMASK_CATEGORIES = ("surgical_mask", "kn95_mask")
EYEGLASSES_CATEGORIES = ("thin_glasses",)


def protocol_config(name: str) -> SynthConfig:
    """The synthesis config of a protocol."""
    if name == "sunglasses":
        # one drawn pair of opaque-ish sunglasses per face (no emoji glasses, no clear lenses)
        return SynthConfig(categories=("eyewear",),
                           eyewear=EyewearConfig(p_bank=0.0, lens_weights=(0.0, 0.0, 1.0), dark_opacity=(0.75, 1.0)))
    if name == "mixed":
        return SynthConfig(categories=MIXED_CATEGORIES)
    if name == "facemask":
        return SynthConfig(categories=FACEMASK_CATEGORIES)
    if name == "eyeglasses":
        return SynthConfig(categories=EYEGLASSES_CATEGORIES)
    raise ValueError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")


def protocol_categories(name: str, count: int, seed: int, available: tuple[str, ...]) -> list[str]:
    """Category of each face: ``eyewear`` for sunglasses; balanced and shuffled for mixed and facemask."""
    if name == "sunglasses":
        return ["eyewear"] * count
    cats = np.array(available)[np.arange(count) % len(available)]
    return cats[np.random.default_rng([seed, 1]).permutation(count)].tolist()


@dataclass(frozen=True)
class ProtocolSample:
    """One face of a protocol: its clean item (tensors) and the occlusion drawn on it."""

    index: int
    name: str
    item: dict
    occlusion: Occlusion

    def coverage(self) -> float:
        """Fraction of the face mesh occluded: sum(A * mesh) / sum(mesh)."""
        mesh = self.item["mesh_mask"][0].numpy()
        return float((self.occlusion.alpha * mesh).sum() / max(mesh.sum(), 1.0))


def iterate_protocol(name: str, faces, seed: int = DEFAULT_SEED, limit: int | None = None,
                     synthesizer: OcclusionSynthesizer | None = None) -> Iterator[ProtocolSample]:
    """Yield the protocol's samples over ``faces`` (a UTKFaceFaces of the test split)."""
    synth = synthesizer or OcclusionSynthesizer(protocol_config(name), split="test")
    n = len(faces) if limit is None else min(limit, len(faces))
    cats = protocol_categories(name, len(faces), seed, synth.categories)
    for i in range(n):
        item = faces[i]
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        occ = synth(item["image"].permute(1, 2, 0).numpy(), item["landmarks"].numpy(), rng, cats[i])
        yield ProtocolSample(i, item["name"], item, occ)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_protocol(name: str, out_dir: str | Path, faces, seed: int = DEFAULT_SEED, limit: int | None = None,
                   progress: bool = True) -> dict:
    """Write a protocol set to ``out_dir``; returns its coverage statistics.

    Layout: ``clean/``, ``occluded/`` (RGB PNG), ``alpha/`` (A), ``occlusion/`` (A * mesh),
    ``face_mask/`` (M_F (1 - A)), ``mesh_mask/`` (8-bit PNGs, value = round(255 x)),
    ``index.csv`` (id, name, category, source, coverage) and ``meta.json``.
    """
    from deocclude.imageio import write_image

    out = Path(out_dir)
    subdirs = ("clean", "occluded", "alpha", "occlusion", "face_mask", "mesh_mask")
    for sub in subdirs:
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows, cover = [], []
    samples: Iterable[ProtocolSample] = iterate_protocol(name, faces, seed, limit)
    total = len(faces) if limit is None else min(limit, len(faces))
    if progress:
        from rich.progress import track

        samples = track(samples, total=total, description=f"writing {name} protocol")
    for s in samples:
        stem = f"{s.index:04d}"
        mesh = s.item["mesh_mask"][0].numpy()
        face = s.item["face_mask"][0].numpy()
        write_image(out / "clean" / f"{stem}.png", _u8(s.item["image"].permute(1, 2, 0).numpy()))
        write_image(out / "occluded" / f"{stem}.png", _u8(s.occlusion.image))
        write_image(out / "alpha" / f"{stem}.png", _u8(s.occlusion.alpha))
        write_image(out / "occlusion" / f"{stem}.png", _u8(s.occlusion.alpha * mesh))
        write_image(out / "face_mask" / f"{stem}.png", _u8(face * (1 - s.occlusion.alpha)))
        write_image(out / "mesh_mask" / f"{stem}.png", _u8(mesh))
        c = s.coverage()
        cover.append((s.occlusion.category, c))
        rows.append({"id": stem, "name": s.name, "category": s.occlusion.category, "source": s.occlusion.source,
                     "coverage": f"{c:.4f}"})
    with open(out / "index.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "name", "category", "source", "coverage"])
        w.writeheader()
        w.writerows(rows)
    stats = coverage_stats(cover)
    (out / "meta.json").write_text(json.dumps({"protocol": name, "seed": seed, "count": len(rows),
                                               "size": int(s.item["image"].shape[-1]) if rows else None,
                                               "coverage": stats}, indent=1))
    return stats


def coverage_stats(cover: list[tuple[str, float]]) -> dict:
    """Mean / 10th / 90th percentile of mesh coverage, overall and per category."""
    def summary(v: list[float]) -> dict:
        a = np.asarray(v, dtype=np.float64)
        return {"n": int(a.size), "mean": round(float(a.mean()), 4), "p10": round(float(np.percentile(a, 10)), 4),
                "p90": round(float(np.percentile(a, 90)), 4)} if a.size else {"n": 0}

    out = {"all": summary([c for _, c in cover])}
    for cat in sorted({k for k, _ in cover}):
        out[cat] = summary([c for k, c in cover if k == cat])
    return out

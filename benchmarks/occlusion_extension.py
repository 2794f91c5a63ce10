"""How much of an occluder past the face surface M_R the automatic mask removes, with and
without the extension of masks/extend.py (the paper's §4.5 "hovering face" limitation).

Over the ``mixed`` protocol's UTKFace test faces (every occluder category, held-out items;
the synth gives the true occluder alpha over the whole crop), S and R give the automatic
M_O once; the pipeline's mask is then made with ``extend`` off and on (on: the extension past M_R and the
band of a lower-face occluder, masks/frame.py). Truth: T = alpha >
0.1 on real photo pixels; T_out = T outside M_R. Per category, pixels summed over faces:

- recall_outside: |M ∩ T_out| / |T_out|, the share of the occluder past M_R that is removed;
- added_precision: of the pixels the extension adds (after the pipeline's 2 px dilation),
  the share that is truly occluder; added_on_hair: the share on the person's own hair
  (UTKFace hair masks, not occluder), the "eats the hair" failure;
- iou: |M ∩ T| / |M ∪ T| of the whole removal mask;
- l1_outside: mean |restored − clean| (0–1) over every real pixel outside M_R after the
  Telea fill, which counts both occluder left behind and clean background damaged;
- and on the same faces without a synthetic occluder, the pixels the extension adds
  (false alarms, but for the photos' own glasses, hands, ...).

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/occlusion_extension.py --limit 240

Writes benchmarks/results/occlusion_extension.json and prints a markdown table. UTKFace
pixels never enter the repository: ``--grid out/extension_synthetic.png`` draws faces to
the git-ignored out/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRUTH_THRESHOLD = 0.1  # as inpaint/data.py's HOLE_THRESHOLD: faint occluder edges count as occluder
COUNTS = ("faces", "faces_extended", "true_outside", "rec0", "rec1", "added", "added_true", "added_hair",
          "inter0", "union0", "inter1", "union1", "l1_0", "l1_1", "outside_px")


def evaluate(limit: int, size: int, batch: int, grid_faces: int = 0) -> tuple[dict, list]:
    from deocclude.data import UTKFaceFaces
    from deocclude.inpaint.classical import classical_inpaint
    from deocclude.pipeline import Deoccluder, DeoccluderConfig
    from deocclude.synth.protocols import iterate_protocol

    samples = list(iterate_protocol("mixed", UTKFaceFaces(split="test", size=size), limit=limit))
    without = Deoccluder(DeoccluderConfig(size=size, device="cpu", extend=False, batch_size=batch))
    with_ = Deoccluder(DeoccluderConfig(size=size, device="cpu", extend=True, batch_size=batch))
    if not without.can_remove_occlusions:
        raise SystemExit("S's weights are not installed")
    crops = [(s.occlusion.image * 255 + 0.5).astype(np.uint8) for s in samples]
    faces = without.run_aligned(crops)
    stats: dict[str, dict] = {}
    grid, seconds = [], 0.0
    for s, face, crop in zip(samples, faces, crops):
        valid = s.item["valid"][0].numpy() > 0.5
        region = face.face_region > 0.5
        aligned = dataclasses.replace(face.aligned, valid=valid.astype(np.float32))  # the real photo pixels
        m0 = (face.occlusion_mask > 0.5) & valid
        start = time.perf_counter()
        m1 = _grown_mask(with_, face, aligned) > 0.5
        seconds += time.perf_counter() - start
        truth = (s.occlusion.alpha > TRUTH_THRESHOLD) & valid
        t_out = truth & ~region
        hair = (s.item["hair_mask"][0].numpy() > 0.5) & ~truth
        added = m1 & ~m0
        clean = s.item["image"].permute(1, 2, 0).numpy()
        outside = ~region & valid
        r0 = classical_inpaint(crop, m0.astype(np.float32), "telea") / 255.0
        r1 = classical_inpaint(crop, m1.astype(np.float32), "telea") / 255.0
        c = stats.setdefault(s.occlusion.category, dict.fromkeys(COUNTS, 0.0))
        for key, value in (("faces", 1), ("faces_extended", added.any()), ("true_outside", t_out.sum()),
                           ("rec0", (m0 & t_out).sum()), ("rec1", (m1 & t_out).sum()), ("added", added.sum()),
                           ("added_true", (added & truth).sum()), ("added_hair", (added & hair).sum()),
                           ("inter0", (m0 & truth).sum()), ("union0", (m0 | truth).sum()),
                           ("inter1", (m1 & truth).sum()), ("union1", (m1 | truth).sum()),
                           ("l1_0", np.abs(r0 - clean).mean(axis=2)[outside].sum()),
                           ("l1_1", np.abs(r1 - clean).mean(axis=2)[outside].sum()), ("outside_px", outside.sum())):
            c[key] += float(value)
        if len(grid) < grid_faces and t_out.sum() > 30:
            grid.append((crop, m0, m1, (r0 * 255 + 0.5).astype(np.uint8), (r1 * 255 + 0.5).astype(np.uint8)))
    stats["all"] = {k: sum(c[k] for c in stats.values()) for k in COUNTS}
    results = {cat: _summary(c) for cat, c in sorted(stats.items(), key=lambda kv: (kv[0] == "all", kv[0]))}
    results["all"]["extension_ms_per_face"] = round(1000 * seconds / max(len(samples), 1), 2)
    results["clean faces"] = _clean_faces(samples, without, with_)
    return results, grid


def _grown_mask(deoccluder, face, aligned) -> np.ndarray:  # noqa: ANN001 - a Deoccluder and its FaceResult
    """M_O as the pipeline makes it with the extension on: the mask recipe, then a face mask's band beside and
    under the jaw (masks/frame.py; an aligned crop's is looked for in the crop)."""
    grown = dataclasses.replace(face, aligned=aligned)
    deoccluder._find_occlusion(grown)
    return grown.occlusion_mask


def _clean_faces(samples: list, without, with_) -> dict:  # noqa: ANN001 - two Deoccluders
    """The same faces without any synthetic occluder: every added pixel is a false alarm
    (unless the photo has a real occluder of its own)."""
    added = on_hair = extended = 0
    crops = [(s.item["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8) for s in samples]
    for s, face in zip(samples, without.run_aligned(crops)):
        valid = s.item["valid"][0].numpy() > 0.5
        aligned = dataclasses.replace(face.aligned, valid=valid.astype(np.float32))
        extra = (
            (_grown_mask(with_, face, aligned) > 0.5)
            & ~(face.occlusion_mask > 0.5)
            & valid
        )
        added += int(extra.sum())
        on_hair += int((extra & (s.item["hair_mask"][0].numpy() > 0.5)).sum())
        extended += bool(extra.any())
    return {
        "faces": len(samples),
        "faces_extended": extended,
        "added_px_per_face": round(added / max(len(samples), 1), 1),
        "added_on_hair": round(on_hair / added, 4) if added else None,
    }


def _summary(c: dict) -> dict:
    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "faces": int(c["faces"]), "faces_extended": int(c["faces_extended"]),
        "true_outside_px": int(c["true_outside"]), "added_px": int(c["added"]),
        "added_precision": ratio(c["added_true"], c["added"]), "added_on_hair": ratio(c["added_hair"], c["added"]),
        "without": {"recall_outside": ratio(c["rec0"], c["true_outside"]), "iou": ratio(c["inter0"], c["union0"]),
                    "l1_outside": ratio(c["l1_0"], c["outside_px"])},
        "with": {"recall_outside": ratio(c["rec1"], c["true_outside"]), "iou": ratio(c["inter1"], c["union1"]),
                 "l1_outside": ratio(c["l1_1"], c["outside_px"])},
    }


def markdown(results: dict) -> str:
    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    lines = ["| category | faces | occluder px past M_R | recall past M_R (without → with) | added px | "
             "precision of added | of which hair | IoU (without → with) | L1 past M_R (without → with) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cat, r in results.items():
        if cat == "clean faces":
            continue
        w, x = r["without"], r["with"]
        lines.append(f"| {cat} | {r['faces']} | {r['true_outside_px']} | {f(w['recall_outside'])} → "
                     f"{f(x['recall_outside'])} | {r['added_px']} | {f(r['added_precision'])} | "
                     f"{f(r['added_on_hair'])} | {f(w['iou'])} → {f(x['iou'])} | "
                     f"{f(w['l1_outside'])} → {f(x['l1_outside'])} |")
    clean = results["clean faces"]
    lines.append(
        f"\nClean faces (no synthetic occluder): the extension fired on {clean['faces_extended']} of "
        f"{clean['faces']}, adding {clean['added_px_per_face']} px per face ({f(clean['added_on_hair'])} on hair)."
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=240, help="faces of the mixed protocol (20 per category at 240)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "occlusion_extension.json")
    ap.add_argument("--grid", type=Path, default=None, help="also draw 8 faces (input, M_O, extended, results) here")
    args = ap.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    start = time.perf_counter()
    results, grid = evaluate(args.limit, args.size, args.batch, 8 if args.grid else 0)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    out = {"command": "PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/occlusion_extension.py "
                      f"--limit {args.limit} --size {args.size}",
           "commit": commit, "protocol": "mixed", "split": "test", "truth_threshold": TRUTH_THRESHOLD,
           "fill": "OpenCV telea", "seconds": round(time.perf_counter() - start, 1), "categories": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(results))
    print(f"→ {args.out}")
    if args.grid:
        from deocclude.imageio import write_image
        from deocclude.visualize import labelled_grid, overlay_mask

        rows = [
            [crop, overlay_mask(crop, m0), overlay_mask(overlay_mask(crop, m0), m1 & ~m0, (0, 200, 255), 0.7), r0, r1]
            for crop, m0, m1, r0, r1 in grid
        ]
        write_image(args.grid, labelled_grid(rows, ["input", "M_O (paper)", "extended (cyan: added)",
                                                    "result without", "result with"]))
        print(f"→ {args.grid}")


if __name__ == "__main__":
    main()

r"""Wild identity pairs (issue 16): does ``deocclude run`` over ordinary photos lower face verification?

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/wild_identity.py [--no-synthetic]

The product's rule is "do no harm". ``wild/deepface/pairs.csv`` labels 300 pairs (38 same
person, 262 different) of 25 real photos no one here made; most of them are clean, so this
measures harm, not removal. Every photo is kept twice: as read, and after the default
pipeline (``Deoccluder().run(photo).photo``). Each version's largest face goes through our
faces path (:class:`deocclude.faces.find.FaceFinder`: detection → mesh → canonical 128 crop)
and both identity networks (:class:`deocclude.evaluate.embeddings.Embedder`, dlib-ResNet and
the ArcFace-class network), as ``deocclude eval --protocol lfw`` embeds LFW. Rows:

* original vs original — the do-nothing baseline;
* de-occluded vs original — ``file_x`` after the pipeline, ``file_y`` as read (a gallery photo
  that was never processed);
* de-occluded vs de-occluded — both photos processed.

Per row and network: accuracy at the best threshold on these same pairs (optimistic: there
are no folds to hold a threshold out on; the threshold is reported), accuracy at the
do-nothing row's threshold (what a verifier deployed on unprocessed photos would use), and
the mean cosine of genuine and impostor pairs.

The synthetic row (skip with ``--no-synthetic``): ``file_x``'s canonical crop occluded by a
held-out synthetic occluder (:class:`deocclude.evaluate.occlude_photos.Occluder`, seeded by
the file name, as the LFW protocol does), restored by S + R + the default I_R blend, and by
Telea given the true hole; scored against ``file_y``'s un-occluded crop.

Writes ``benchmarks/results/wild_identity.json`` / ``.md`` (command and commit) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deocclude.errors import NoFaceError
from deocclude.evaluate.embeddings import IDENTITY_NETWORKS, Embedder, cosine
from deocclude.evaluate.lfw import best_threshold
from deocclude.imageio import read_image
from deocclude.paths import REPO_DIR, data_root

RESULTS = REPO_DIR / "benchmarks" / "results"
ORIGINAL, DEOCCLUDED = "original", "de-occluded"
ROWS = ((ORIGINAL, ORIGINAL), (DEOCCLUDED, ORIGINAL), (DEOCCLUDED, DEOCCLUDED))
"""(version of file_x, version of file_y) per row; the first is the do-nothing baseline."""
SYNTHETIC_TYPES = ("sunglasses", "mask", "mixed")
"""Held-out occluders of the LFW protocol that need no occluder bank beyond the synthesizer's (hands do)."""


@dataclass(frozen=True)
class WildPair:
    """One labelled pair of ``pairs.csv``."""

    first: str  # file_x
    second: str  # file_y
    same: bool


def read_wild_pairs(folder: Path) -> list[WildPair]:
    """The pairs of ``folder/pairs.csv`` (columns file_x, file_y, Decision Yes / No)."""
    with open(folder / "pairs.csv", newline="") as handle:
        return [WildPair(r["file_x"], r["file_y"], r["Decision"].strip().lower() == "yes")
                for r in csv.DictReader(handle)]


def photo_versions(folder: Path, names: list[str]) -> tuple[dict[str, dict[str, np.ndarray]], list[dict]]:
    """Each photo as read and after the default pipeline, in memory, and what the pipeline changed.

    Changed pixels are any channel differing at all (not the > 8 grey levels of do_no_harm.py):
    the rule is that a clean photo keeps its pixels, so any change is counted.
    """
    from deocclude.pipeline import Deoccluder

    deoccluder = Deoccluder()
    versions: dict[str, dict[str, np.ndarray]] = {}
    changes = []
    for name in names:
        photo = read_image(folder / name)
        start = time.perf_counter()
        result = deoccluder.run(photo)
        changed = (result.photo != photo).any(axis=2)
        versions[name] = {ORIGINAL: photo, DEOCCLUDED: result.photo}
        changes.append({"photo": name, "changed": bool(changed.any()), "changed_share": float(changed.mean()),
                        "faces": len(result.faces), "statuses": [f.status for f in result.faces],
                        "seconds": round(time.perf_counter() - start, 2)})
    return versions, changes


def largest_crops(versions: dict[str, dict[str, np.ndarray]]) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(photo, version) → (canonical 128 crop, crop-frame landmarks) of the largest face; absent when none is found.

    Each version is searched on its own, as a verifier given that photo would: an unchanged
    photo gets the very same crop, so only the pipeline's pixels can move its embedding.
    """
    from deocclude.faces.find import FaceFinder

    finder = FaceFinder(128)
    crops = {}
    for name, pair in versions.items():
        for version, photo in pair.items():
            try:
                face = finder.largest_face(photo)
            except NoFaceError:
                continue
            crops[(name, version)] = (face.aligned.crop, face.aligned.landmarks.astype(np.float32))
    return crops


def embed_versions(crops: dict, names: list[str], embedders: dict[str, Embedder]) -> dict[str, dict[str, dict]]:
    """network → version → photo → embedding of the largest face (photos without one are absent)."""
    embeddings: dict[str, dict[str, dict]] = {}
    for net, embed in embedders.items():
        embeddings[net] = {}
        for version in (ORIGINAL, DEOCCLUDED):
            found = [n for n in names if (n, version) in crops]
            embeddings[net][version] = dict(zip(found, embed(np.stack([crops[(n, version)][0] for n in found])))
                                            if found else {})
    return embeddings


def add_self_cosines(changes: list[dict], embeddings: dict[str, dict[str, dict]]) -> None:
    """Per photo and network, the cosine of its de-occluded face to its original face (1 when untouched).

    Needs no labels, so it also covers the folder's photos that no pair uses.
    """
    for change in changes:
        for net, per in embeddings.items():
            o, d = (per[v].get(change["photo"]) for v in (ORIGINAL, DEOCCLUDED))
            change[f"{net}_cos_to_original"] = None if o is None or d is None else float(cosine(o[None], d[None])[0])


def unpaired_changes(folder: Path, names: list[str]) -> list[dict]:
    """What the pipeline changes in the folder's photos that no pair uses, and how far it moves their faces."""
    versions, changes = photo_versions(folder, names)
    crops = largest_crops(versions)
    embedders = {net: Embedder("auto", 32, net) for net in IDENTITY_NETWORKS}
    add_self_cosines(changes, embed_versions(crops, names, embedders))
    return changes


def pair_cosines(first: dict[str, np.ndarray], second: dict[str, np.ndarray], pairs: list[WildPair]) -> np.ndarray:
    """Cosine of every pair: ``first[file_x]`` vs ``second[file_y]`` (name → embedding)."""
    a = np.stack([first[p.first] for p in pairs])
    b = np.stack([second[p.second] for p in pairs])
    return cosine(a, b)


def score_row(scores: np.ndarray, same: np.ndarray, baseline_threshold: float | None) -> dict:
    """Accuracy at the best threshold (and that threshold), at the baseline's threshold, and the mean cosines."""
    threshold, accuracy = best_threshold(scores, same)
    row = {"pairs": int(len(scores)), "accuracy": accuracy, "threshold": threshold,
           "genuine_cos_mean": float(scores[same].mean()) if same.any() else None,
           "impostor_cos_mean": float(scores[~same].mean()) if (~same).any() else None}
    if baseline_threshold is not None:
        row["accuracy_at_original_threshold"] = float(((scores >= baseline_threshold) == same).mean())
    return row


def synthetic_rows(pairs: list[WildPair], crops: dict, embeddings: dict[str, dict], embedders: dict[str, Embedder],
                   kinds: tuple[str, ...] = SYNTHETIC_TYPES) -> dict:
    """``file_x``'s crop occluded (held-out occluder, seeded by name) and restored, vs ``file_y``'s clean crop.

    Methods: the occluded crop itself (do nothing), S + R + I_R blend (``deocclude run``'s
    default fill), S + R + Telea, and Telea with the true hole (oracle mask). G is left out: it
    is not the default and costs most on a CPU.
    """
    from deocclude.evaluate.occlude_photos import Occluder, Restorer, mask_scores, oracle_hole

    firsts = sorted({p.first for p in pairs})
    restorer = Restorer(batch_size=16)
    restorer.g = None  # not the default fill; Restorer.methods then leaves its row out
    occluder = Occluder()
    same = np.array([p.same for p in pairs])
    out: dict = {}
    for kind in kinds:
        occluded, holes = [], []
        for name in firsts:
            crop, landmarks = crops[(name, ORIGINAL)]
            image, alpha = occluder(crop, landmarks, kind, zlib.crc32(name.encode()))
            occluded.append(image)
            holes.append(oracle_hole(alpha, landmarks))
        restored, found = restorer(np.stack(occluded), np.stack(holes))
        out[kind] = {"found_mask_vs_true_occlusion": mask_scores(found, np.stack(holes))}
        for net, embed in embedders.items():
            out[kind][net] = {}
            for method, images in restored.items():
                scores = pair_cosines(dict(zip(firsts, embed(images))), embeddings[net][ORIGINAL], pairs)
                out[kind][net][method] = score_row(scores, same, None)
    return out


def evaluate(folder: Path, pairs: list[WildPair], synthetic: bool = True) -> dict:
    """The whole benchmark on these pairs of photos in ``folder``: the report as a dict (see the module doc)."""
    start = time.perf_counter()
    names = sorted({p.first for p in pairs} | {p.second for p in pairs})
    versions, changes = photo_versions(folder, names)
    crops = largest_crops(versions)
    kept = [p for p in pairs if all((n, v) in crops for n in (p.first, p.second) for v in (ORIGINAL, DEOCCLUDED))]
    same = np.array([p.same for p in kept])
    embedders = {net: Embedder("auto", 32, net) for net in IDENTITY_NETWORKS}
    embeddings = embed_versions(crops, names, embedders)
    rows: dict = {}
    for net in IDENTITY_NETWORKS:
        rows[net] = {}
        baseline = None
        for x_version, y_version in ROWS:
            scores = pair_cosines(embeddings[net][x_version], embeddings[net][y_version], kept)
            row = score_row(scores, same, baseline)
            rows[net][f"{x_version} vs {y_version}"] = row
            if baseline is None:
                baseline = row["threshold"]
    add_self_cosines(changes, embeddings)
    changed = [c for c in changes if c["changed"]]
    summary: dict = {
        "pairs": len(pairs), "pairs_scored": len(kept), "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()), "photos": len(names),
        "photos_without_face": sorted({n for n in names for v in (ORIGINAL, DEOCCLUDED) if (n, v) not in crops}),
        "photos_changed": len(changed),
        "changed_share_mean_of_changed": float(np.mean([c["changed_share"] for c in changed])) if changed else 0.0,
        "changed_photos": [c["photo"] for c in changed],
        "rows": rows,
    }
    if synthetic:
        summary["synthetic"] = synthetic_rows(kept, crops, embeddings, embedders)
    summary["seconds"] = round(time.perf_counter() - start, 1)
    summary["per_photo"] = changes
    return summary


def _acc(row: dict, key: str = "accuracy") -> str:
    return "—" if key not in row else f"{100 * row[key]:.1f}"


def _change_lines(summary: dict) -> list[str]:
    """Every photo the pipeline changed (paired or not), with how far its own face embedding moved."""
    photos = [(True, c) for c in summary["per_photo"]] + [(False, c) for c in summary.get("unpaired_photos", [])]
    changed = [(paired, c) for paired, c in photos if c["changed"]]
    unpaired = summary.get("unpaired_photos", [])
    lines = ["", f"The folder's {len(unpaired)} photos that no pair uses (no labels, so no accuracy): the pipeline "
             f"changed {sum(c['changed'] for c in unpaired)}. Every changed photo, with the cosine of its "
             "de-occluded largest face to its original one (1.000 beside changed pixels: the change is on another face "
             "of the photo):", ""]
    if not changed:
        return lines + ["(none)"]
    lines += ["| photo | in a pair | changed pixels | faces: status | dlib cos | arcface cos |",
              "|---|---|---|---|---|---|"]
    for paired, c in sorted(changed, key=lambda item: -item[1]["changed_share"]):
        cos = [("—" if c[f"{net}_cos_to_original"] is None else f"{c[f'{net}_cos_to_original']:.3f}")
               for net in IDENTITY_NETWORKS]
        lines.append(f"| {c['photo']} | {'yes' if paired else 'no'} | {c['changed_share']:.2%} | "
                     f"{'; '.join(c['statuses'])} | {cos[0]} | {cos[1]} |")
    return lines


def markdown(summary: dict, command: str, commit: str) -> str:
    """The report: the three do-no-harm rows per network, what the pipeline changed, and the synthetic rows."""
    lines = [
        "# Wild identity pairs: does `deocclude run` lower face verification?",
        "",
        f"`{command}` at commit `{commit}`.",
        "",
        f"`wild/deepface/pairs.csv`: {summary['pairs_scored']} of {summary['pairs']} pairs scored "
        f"({summary['genuine_pairs']} same person, {summary['impostor_pairs']} different) over {summary['photos']} "
        "real photos. **Most of these photos are clean (no occluder on the face), so the first table measures harm, "
        "not removal.** Largest face of each version → our faces path (canonical 128 crop) → cosine of the "
        "identity embeddings. The best threshold is fit on these same pairs (optimistic; no folds); "
        "\"at original threshold\" scores a row with the do-nothing row's threshold.",
        "",
        f"The pipeline changed {summary['photos_changed']} of {summary['photos']} photos at all (any pixel, any "
        f"channel); mean changed-pixel share of those: {summary['changed_share_mean_of_changed']:.2%} of the photo"
        + (f" ({', '.join(summary['changed_photos'])})." if summary["changed_photos"] else "."),
        "",
        "| network | file_x vs file_y | accuracy % (best threshold) | threshold | at original threshold % "
        "| genuine cos | impostor cos |",
        "|---|---|---|---|---|---|---|",
    ]
    for net, rows in summary["rows"].items():
        for name, r in rows.items():
            lines.append(f"| {net} | {name} | {_acc(r)} | {r['threshold']:.3f} | "
                         f"{_acc(r, 'accuracy_at_original_threshold')} | {r['genuine_cos_mean']:.3f} | "
                         f"{r['impostor_cos_mean']:.3f} |")
    lines += _change_lines(summary)
    if "synthetic" in summary:
        lines += ["", "## Synthetic occlusion of file_x (held-out occluders) vs un-occluded file_y", "",
                  "file_x's canonical crop occluded (seeded by name), restored; file_y's crop as read.", "",
                  "| occluder | network | method | accuracy % (best threshold) | threshold | genuine cos "
                  "| impostor cos |", "|---|---|---|---|---|---|---|"]
        for kind, per in summary["synthetic"].items():
            for net in IDENTITY_NETWORKS:
                for method, r in per[net].items():
                    lines.append(f"| {kind} | {net} | {method} | {_acc(r)} | {r['threshold']:.3f} | "
                                 f"{r['genuine_cos_mean']:.3f} | {r['impostor_cos_mean']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-synthetic", action="store_true", help="skip the synthetic-occlusion rows")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    folder = data_root() / "wild" / "deepface"
    pairs = read_wild_pairs(folder)
    summary = evaluate(folder, pairs, synthetic=not args.no_synthetic)
    paired = {p.first for p in pairs} | {p.second for p in pairs}
    summary["unpaired_photos"] = unpaired_changes(folder, sorted(p.name for p in folder.glob("*.jpg")
                                                                 if p.name not in paired))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_DIR).stdout.strip()
    command = "PYTHONPATH=src python benchmarks/wild_identity.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "wild_identity.json").write_text(json.dumps({"command": command.strip(), "commit": commit,
                                                             **summary}, indent=1) + "\n")
    text = markdown(summary, command.strip(), commit)
    (args.out / "wild_identity.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

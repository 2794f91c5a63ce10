"""The paper's Figure-9 privacy analysis (``deocclude eval --protocol privacy``).

How much identity does de-occlusion give back? On UTKFace test faces (aligned 128 crops)
each occlusion type — sunglasses, face mask, both together — is drawn with held-out
synthetic occluders; we measure the dlib-ResNet cosine of (occluded, clean) and of
(de-occluded, clean) for every method, summarise each distribution (mean, p10, p50, p90)
and the share of faces at or above the same-identity threshold of the LFW protocol (the
threshold a verifier would use to say "same person"), and draw one histogram per type.
For scale, the cosine between two *different* people's clean faces is reported too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.evaluate.embeddings import Embedder, cosine
from deocclude.evaluate.figures import draw_histogram, example_rows, image_grid, markdown_table, mask_table, summarize
from deocclude.evaluate.occlude_photos import (
    METHODS,
    OCCLUDED,
    OURS_G,
    OURS_PRIOR,
    OURS_TELEA,
    Occluder,
    Restorer,
    add_common_options,
    add_option,
    chunks,
    mask_scores,
    oracle_hole,
    parse_types,
    progress,
    run_options,
)

PRIVACY_TYPES = ("sunglasses", "mask", "sunglasses+mask")
OTHER_PERSON = "other person (clean)"
DEFAULT_FACES = 500


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``--protocol privacy`` (shared ones are added once, by whichever module comes first)."""
    add_common_options(parser)
    add_option(parser, "--threshold", type=float, default=None,
               help="privacy: same-identity cosine threshold (default: the clean-pair threshold in eval_lfw.json)")
    add_option(parser, "--faces", type=int, default=DEFAULT_FACES,
               help=f"privacy: UTKFace test faces used (default {DEFAULT_FACES}; --limit N overrides)")


def lfw_threshold(results_dir: Path) -> float:
    """The mean of the clean-pair thresholds chosen by the LFW protocol (eval_lfw.json)."""
    path = results_dir / "eval_lfw.json"
    if not path.is_file():
        raise DeoccludeError(f"no same-identity threshold: run `deocclude eval --protocol lfw` first ({path}) "
                             "or pass --threshold")
    thresholds = json.loads(path.read_text())["results"]["clean"]["thresholds"]
    return float(np.mean(list(thresholds.values())))


def run(args: argparse.Namespace) -> dict:
    """Run the privacy analysis and return its report (``deocclude eval`` writes it); draws histograms and a grid."""
    import torch

    from deocclude.data import UTKFaceFaces
    from deocclude.imageio import write_image

    start = time.perf_counter()
    opts = run_options(args, "privacy")
    show, out_dir = opts["show"], opts["results"]
    kinds = parse_types(args.types, PRIVACY_TYPES, PRIVACY_TYPES)
    threshold = args.threshold if args.threshold is not None else lfw_threshold(out_dir)
    count = args.limit if args.limit is not None else args.faces
    if count is None or count < 2:
        raise DeoccludeError(f"the privacy analysis needs at least 2 faces, got {count}")
    faces = UTKFaceFaces(split="test", size=128, limit=count)
    n = len(faces)
    items = [faces[i] for i in range(n)]
    clean = np.stack([(it["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8) for it in items])
    landmarks = np.stack([it["landmarks"].numpy() for it in items])

    embed = Embedder(opts["device"], opts["batch_size"])
    restorer = Restorer(opts["device"], opts["batch_size"])
    occluder = Occluder(opts["seed"])
    methods = restorer.methods
    clean_emb = embed(clean)
    # a fixed derangement: each face against another person's clean face
    perm = np.random.default_rng(opts["seed"]).permutation(n)
    other = np.roll(perm, 1)[np.argsort(perm)]
    other_cos = cosine(clean_emb, clean_emb[other])
    results: dict = {OTHER_PERSON: summarize(other_cos, threshold)}
    masks: dict[str, dict] = {}
    grid_rows: list[list[np.ndarray]] = []
    plots: list[str] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        outputs = {m: np.zeros_like(clean) for m in methods}
        found_all = np.zeros(clean.shape[:3], bool)
        holes_all = np.zeros(clean.shape[:3], np.float32)
        step = 4 * restorer.batch_size
        for part in progress(list(chunks(n, step)), -(-n // step), f"privacy {kind}: occlude + restore", show):
            pairs = [occluder(clean[i], landmarks[i], kind, i) for i in range(part.start, part.stop)]
            holes = np.stack(
                [oracle_hole(alpha, landmarks[i]) for i, (_, alpha) in zip(range(part.start, part.stop), pairs)]
            )
            restored, found = restorer(np.stack([image for image, _ in pairs]), holes)
            for m in methods:
                outputs[m][part] = restored[m]
            found_all[part], holes_all[part] = found, holes
        masks[kind] = mask_scores(found_all, holes_all)
        cos = {}
        for m in progress(methods, len(methods), f"privacy {kind}: embeddings", show):
            cos[m] = cosine(embed(outputs[m]), clean_emb)
        results[kind] = {m: summarize(c, threshold) for m, c in cos.items()}
        for m in methods:
            if m != OCCLUDED:
                gain, below = cos[m] - cos[OCCLUDED], cos[OCCLUDED] < threshold
                results[kind][m]["gain_over_occluded"] = {
                    "mean": float(gain.mean()), "share_improved": float((gain > 0).mean()),
                    "share_rose_above_threshold": float((below & (cos[m] >= threshold)).mean()),
                    "share_fell_below_threshold": float((~below & (cos[m] < threshold)).mean())}
        shown = {m: cos[m] for m in (OCCLUDED, OURS_PRIOR, OURS_TELEA, OURS_G) if m in cos}
        shown[OTHER_PERSON] = other_cos
        plot = out_dir / f"eval_privacy_{kind.replace('+', '_')}.png"
        write_image(plot, draw_histogram(shown, f"{kind}: identity cosine to the clean face ({n} UTKFace test faces)",
                                         threshold))
        plots.append(plot.name)
        for i in example_rows(n, len(grid_rows), 2 * len(kinds)):
            grid_rows.append([clean[i]] + [outputs[m][i] for m in methods])
        del outputs
    summary = {
        "protocol": "privacy",
        "faces": n,
        "crop_size": 128,
        "seed": opts["seed"],
        "types": list(kinds),
        "methods": list(methods),
        "same_identity_threshold": threshold,
        "threshold_source": (
            "--threshold" if args.threshold is not None else "eval_lfw.json (mean clean-pair threshold)"
        ),
        "device": str(embed.device),
        "torch_threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
        "found_mask_vs_true_occlusion": masks,
        "histograms": plots,
        "notes": [
            "cosine of dlib-ResNet descriptors to the same face's clean crop; share_above_threshold = faces at or "
            "above the LFW same-identity threshold",
            f"'{OTHER_PERSON}': each clean face against another test face (a fixed derangement), for scale",
            "sunglasses uses the paper's sunglasses protocol (deocclude.synth.protocols), so its occlusions are "
            "those of `deocclude synth --protocol sunglasses`; sunglasses+mask = those sunglasses with the mask "
            "type's mask drawn over them",
        ],
    }
    if opts["grid"] is not None:
        opts["grid"].parent.mkdir(parents=True, exist_ok=True)
        write_image(opts["grid"], image_grid(grid_rows, ["clean"] + [m.replace("ours ", "") for m in methods]))
        summary["grid"] = str(opts["grid"])
    return summary


def markdown(s: dict) -> str:
    """The report as markdown (``deocclude eval`` puts the exact command above it)."""
    t = s["same_identity_threshold"]
    header = ["occlusion", "image compared with the clean face", "mean", "p10", "p50", "p90", f"share ≥ {t:.3f}",
              "rose above / fell below it (vs occluded)"]
    def cells(r: dict) -> list[str]:
        gain = r.get("gain_over_occluded")
        moved = (f"{100 * gain['share_rose_above_threshold']:.1f} % / {100 * gain['share_fell_below_threshold']:.1f} %"
                 if gain else "—")
        return [f"{r[k]:.3f}" for k in ("mean", "p10", "p50", "p90")] + [
            f"{100 * r['share_above_threshold']:.1f} %",
            moved,
        ]
    rows = []
    for kind in s["types"]:
        rows += [[kind, m, *cells(s["results"][kind][m])] for m in METHODS if m in s["results"][kind]]
    rows.append(["—", OTHER_PERSON, *cells(s["results"][OTHER_PERSON])])
    return "\n".join(
        [
            "# Privacy analysis (paper Figure 9): how much identity de-occlusion recovers",
            "",
            f"{s['faces']} UTKFace test faces (aligned {s['crop_size']} crops), held-out synthetic occluders (seed "
            f"{s['seed']}); dlib-ResNet cosine to the same face's clean crop. The same-identity threshold {t:.4f} is "
            f"{s['threshold_source']}. Device {s['device']}, {s['seconds']} s.",
            "",
            markdown_table(header, rows),
            "",
            f"*{OTHER_PERSON}*: each clean face against a different test face, for scale. Histograms: "
            + ", ".join(f"`{p}`" for p in s["histograms"])
            + f". Example grid (dataset faces, not committed): `{s.get('grid') or 'none drawn'}`.",
            "",
            mask_table(s["found_mask_vs_true_occlusion"]),
            "",
        ]
    )

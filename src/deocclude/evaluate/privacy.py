"""The paper's Figure-9 privacy analysis (``deocclude eval --protocol privacy``).

How much identity does de-occlusion give back? On UTKFace test faces (aligned 128 crops)
each occlusion type — sunglasses, face mask, both together — is drawn with held-out
synthetic occluders; we measure the cosine of (occluded, clean) and of (de-occluded, clean)
for every method, summarise each distribution (mean, p10, p50, p90) and the share of faces
at or above the same-identity threshold of the LFW protocol (the threshold a verifier would
use to say "same person"), and draw one histogram per type.

Both identity networks (:data:`~deocclude.evaluate.embeddings.IDENTITY_NETWORKS`) score
every row, each against its own LFW threshold: dlib-ResNet gives any two faces ≈ 0.85, so a
small gain can be copied pixels as much as identity; ArcFace puts strangers near 0. For
scale each table has floors: another person's clean face, the occluded input itself and the
clean face with the eyes or the mouth painted black.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from deocclude.errors import DeoccludeError
from deocclude.evaluate.embeddings import IDENTITY_NETWORKS, NETWORK_TITLES, Embedder, cosine, network_key
from deocclude.evaluate.figures import draw_histogram, example_rows, image_grid, markdown_table, mask_table, summarize
from deocclude.evaluate.metrics import FLOORS, black_out
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
THRESHOLD_OPTIONS = {"dlib": "threshold", "arcface": "arcface_threshold"}
"""Per identity network, the ``deocclude eval`` option (dest) that overrides its LFW threshold."""


def _flag(network: str) -> str:
    return "--" + THRESHOLD_OPTIONS[network].replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``--protocol privacy`` (shared ones are added once, by whichever module comes first)."""
    add_common_options(parser)
    add_option(parser, "--threshold", type=float, default=None,
               help="privacy: dlib-ResNet same-identity cosine threshold (default: the clean-pair threshold in "
                    "eval_lfw.json)")
    add_option(parser, "--arcface-threshold", type=float, default=None,
               help="privacy: ArcFace same-identity cosine threshold (default: the clean-pair threshold of "
                    "results_arcface in eval_lfw.json)")
    add_option(parser, "--faces", type=int, default=DEFAULT_FACES,
               help=f"privacy: UTKFace test faces used (default {DEFAULT_FACES}; --limit N overrides)")


def lfw_threshold(results_dir: Path, network: str = "dlib") -> float:
    """The mean of the clean-pair thresholds the LFW protocol chose for ``network`` (eval_lfw.json).

    The cut-off a verifier of that network would use to say "same person", so "share above"
    reads as "a face matcher would still name the owner". Each network needs its own: their
    cosines are on different scales (dlib ≈ 0.9, ArcFace ≈ 0.3).
    """
    path = results_dir / "eval_lfw.json"
    if not path.is_file():
        raise DeoccludeError(f"no same-identity threshold: run `deocclude eval --protocol lfw` first ({path}) "
                             f"or pass {_flag(network)}")
    results = json.loads(path.read_text()).get(network_key("results", network))
    if results is None:  # an eval_lfw.json from before that network was added
        raise DeoccludeError(f"no {network} same-identity threshold: {path} has no {network_key('results', network)}; "
                             f"rerun `deocclude eval --protocol lfw` or pass {_flag(network)}")
    return float(np.mean(list(results["clean"]["thresholds"].values())))


def thresholds(args: argparse.Namespace, results_dir: Path) -> dict[str, tuple[float, str]]:
    """(threshold, where it came from) per identity network: its option if given, else eval_lfw.json."""
    out = {}
    for net, dest in THRESHOLD_OPTIONS.items():
        given = getattr(args, dest, None)
        out[net] = ((float(given), _flag(net)) if given is not None
                    else (lfw_threshold(results_dir, net), "eval_lfw.json (mean clean-pair threshold)"))
    return out


def identity_rows(cos: dict[str, np.ndarray], threshold: float) -> dict[str, dict]:
    """Each method's cosine summary; a restoration's also says how it moved each face against the occluded input.

    Means can hide that a fill lifts some faces over the threshold and drops others under it;
    the rose / fell shares show both.
    """
    rows: dict[str, dict] = {m: summarize(c, threshold) for m, c in cos.items()}
    before = cos[OCCLUDED]
    below = before < threshold
    for m, after in cos.items():
        if m != OCCLUDED:
            gain = after - before
            rows[m]["gain_over_occluded"] = {
                "mean": float(gain.mean()), "share_improved": float((gain > 0).mean()),
                "share_rose_above_threshold": float((below & (after >= threshold)).mean()),
                "share_fell_below_threshold": float((~below & (after < threshold)).mean())}
    return rows


def run(args: argparse.Namespace) -> dict:
    """Run the privacy analysis and return its report (``deocclude eval`` writes it); draws histograms and a grid."""
    import torch

    from deocclude.data import UTKFaceFaces
    from deocclude.imageio import write_image

    start = time.perf_counter()
    opts = run_options(args, "privacy")
    show, out_dir = opts["show"], opts["results"]
    kinds = parse_types(args.types, PRIVACY_TYPES, PRIVACY_TYPES)
    cutoffs = thresholds(args, out_dir)
    count = args.limit if args.limit is not None else args.faces
    if count is None or count < 2:
        raise DeoccludeError(f"the privacy analysis needs at least 2 faces, got {count}")
    faces = UTKFaceFaces(split="test", size=128, limit=count)
    n = len(faces)
    items = [faces[i] for i in range(n)]
    clean = np.stack([(it["image"].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8) for it in items])
    landmarks = np.stack([it["landmarks"].numpy() for it in items])

    embedders = {net: Embedder(opts["device"], opts["batch_size"], net) for net in IDENTITY_NETWORKS}
    restorer = Restorer(opts["device"], opts["batch_size"])
    occluder = Occluder(opts["seed"])
    methods = restorer.methods
    clean_emb = {net: embed(clean) for net, embed in embedders.items()}
    # a fixed derangement: each face against another person's clean face
    perm = np.random.default_rng(opts["seed"]).permutation(n)
    other = np.roll(perm, 1)[np.argsort(perm)]
    other_cos = {net: cosine(e, e[other]) for net, e in clean_emb.items()}
    results: dict[str, dict] = {net: {OTHER_PERSON: summarize(other_cos[net], cutoffs[net][0])}
                                for net in IDENTITY_NETWORKS}
    for floor, parts in FLOORS.items():  # the clean face itself with a part painted black
        blacked = black_out(clean, landmarks, parts)
        for net, embed in embedders.items():
            results[net][floor] = summarize(cosine(embed(blacked), clean_emb[net]), cutoffs[net][0])
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
        panels = []  # one histogram per network, stacked in one figure per type
        for net, embed in embedders.items():
            cos = {m: cosine(embed(outputs[m]), clean_emb[net])
                   for m in progress(methods, len(methods), f"privacy {kind}: {net} embeddings", show)}
            results[net][kind] = identity_rows(cos, cutoffs[net][0])
            shown = {m: cos[m] for m in (OCCLUDED, OURS_PRIOR, OURS_TELEA, OURS_G) if m in cos}
            shown[OTHER_PERSON] = other_cos[net]
            panels.append(draw_histogram(shown, f"{kind}, {net}: cosine to the clean face ({n} faces)",
                                         cutoffs[net][0]))
        plot = out_dir / f"eval_privacy_{kind.replace('+', '_')}.png"
        write_image(plot, np.concatenate(panels))
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
        "identity_networks": list(IDENTITY_NETWORKS),
        **{network_key(key, net): value for net, (t, source) in cutoffs.items()
           for key, value in (("same_identity_threshold", t), ("threshold_source", source))},
        "device": str(embedders["dlib"].device),
        "torch_threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - start, 1),
        **{network_key("results", net): results[net] for net in IDENTITY_NETWORKS},
        "found_mask_vs_true_occlusion": masks,
        "histograms": plots,
        "notes": [
            "results: cosine of dlib-ResNet descriptors to the same face's clean crop; results_arcface: of the "
            "ArcFace-class network's; share_above_threshold = faces at or above that network's LFW same-identity "
            "threshold (same_identity_threshold, same_identity_threshold_arcface)",
            f"floors: '{OTHER_PERSON}' (each clean face against another test face, a fixed derangement), the "
            f"occluded input, and {', '.join(FLOORS)} (the clean face with that part painted black)",
            "histograms: one figure per type, dlib above, ArcFace below",
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


def _table(results: dict, types: list[str], t: float) -> str:
    """One network's rows: every type's methods, then the floors (reports from before the eyes / mouth floors
    have the other-person row only)."""
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
    for kind in types:
        rows += [[kind, m, *cells(results[kind][m])] for m in METHODS if m in results[kind]]
    rows += [["— (floor)", f, *cells(results[f])] for f in (OTHER_PERSON, *FLOORS) if f in results]
    return markdown_table(header, rows)


def markdown(s: dict) -> str:
    """The report as markdown (``deocclude eval`` puts the exact command above it)."""
    sections = []
    for net in IDENTITY_NETWORKS:  # reports from before ArcFace have dlib's only
        if network_key("results", net) in s:
            t = s[network_key("same_identity_threshold", net)]
            sections += [f"## {NETWORK_TITLES[net]}", "",
                         f"Same-identity threshold {t:.4f}: {s[network_key('threshold_source', net)]}.", "",
                         _table(s[network_key("results", net)], s["types"], t), ""]
    return "\n".join(
        [
            "# Privacy analysis (paper Figure 9): how much identity de-occlusion recovers",
            "",
            f"{s['faces']} UTKFace test faces (aligned {s['crop_size']} crops), held-out synthetic occluders (seed "
            f"{s['seed']}); cosine to the same face's clean crop, by each identity network, against that network's "
            f"same-identity threshold. Device {s['device']}, {s['seconds']} s.",
            "",
            *sections,
            f"Floors: *{OTHER_PERSON}* (each clean face against a different test face), the occluded input, and the "
            "clean face with the eyes or the mouth painted black: a restoration has given identity back only where "
            "it beats the occluded input, and a network can tell people apart only as far as the other-person row "
            "sits below the rest. Histograms (dlib above, ArcFace below): "
            + ", ".join(f"`{p}`" for p in s["histograms"])
            + f". Example grid (dataset faces, not committed): `{s.get('grid') or 'none drawn'}`.",
            "",
            mask_table(s["found_mask_vs_true_occlusion"]),
            "",
        ]
    )

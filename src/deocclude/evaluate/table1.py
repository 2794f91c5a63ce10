"""The paper's Table 1 protocol on our seeded synthetic sets: ``sunglasses``, ``mixed``, ``facemask``, ``eyeglasses``.

Per face of the protocol (UTKFace test split, held-out occluders), every method restores
the occluded crop and is scored inside the true occlusion T against the clean face:

- ``oracle`` rows get the true mask (the paper's mask-based baselines got a labelled one):
  OpenCV Telea, OpenCV Navier-Stokes, the I_R Poisson blend, and each G;
- ``automatic`` rows find the mask themselves, M_O = M_R ⊙ (1 − M_F) from S and R, exactly
  as ``deocclude run`` does: Telea, the I_R blend (the default fill) and each G on the same M_O;
- ``occluded input`` is the "no de-occlusion" reference;
- the mask rows say how well the automatic M_O matches T (IoU, precision, recall).

This module is the ``sunglasses`` / ``mixed`` / ``facemask`` / ``eyeglasses`` entry of
:data:`deocclude.evaluate.PROTOCOLS`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from deocclude.errors import DeoccludeError
from deocclude.masks import DEFAULT_DILATE
from deocclude.masks.outline import DEFAULT_OUTLINE_BAND

if TYPE_CHECKING:
    from deocclude.evaluate.config import Table1Config
    from deocclude.pipeline import DeoccluderConfig

ORACLE, AUTOMATIC, NONE = "oracle", "automatic (S + R)", "none"
INPUT_ROW = "occluded input (no de-occlusion)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the sunglasses, mixed, facemask and eyeglasses protocols (the shared ones are the command's)."""
    group = parser.add_argument_group("sunglasses / mixed / facemask / eyeglasses options")
    group.add_argument("--g-weights", action="append", metavar="LABEL=PATH",
                       help="a G to compare (repeat for several); default: the bundled G as 'G (bundled)'; "
                            "'none' for no G rows")
    group.add_argument("--size", type=int, default=128, metavar="N",
                       help="side of the aligned crops the faces are drawn, segmented, rendered and filled at "
                            "(default 128; 256 as `deocclude run --size 256`)")
    group.add_argument("--mask-threshold", type=float, default=0.5,
                       help="automatic rows: S probability below which a face pixel is occluded (default 0.5, as run)")
    group.add_argument("--dilate", type=int, default=DEFAULT_DILATE,
                       help=f"automatic rows: grow M_O by this many pixels (default {DEFAULT_DILATE}, as run)")
    group.add_argument("--outline-band", type=int, default=DEFAULT_OUTLINE_BAND,
                       help=f"automatic rows: M_O kept near the face outline only where it continues deeper "
                            f"occlusion, in this band (default {DEFAULT_OUTLINE_BAND}, as run; 0 = off)")
    group.add_argument("--set", action="append", default=[], dest="pipeline_overrides", metavar="FIELD=JSON",
                       help="automatic rows: any other field of the pipeline's DeoccluderConfig, e.g. "
                            "--set rim_depth=0 --set remove_hair=true (repeatable; the value is JSON)")
    group.add_argument("--grid", type=Path, default=None, metavar="PNG",
                       help="picture of 16 faces (default out/eval_<protocol>.png: it holds UTKFace pixels, "
                            "so it stays out of the repository)")
    group.add_argument("--no-grid", action="store_true", help="do not write the picture")


def run(args: argparse.Namespace) -> dict:
    """Evaluate ``args.protocol``; the report the command writes as JSON and markdown."""
    from deocclude.evaluate.config import Table1Config, parse_g_weights

    config = Table1Config(protocol=args.protocol, limit=300 if args.limit is None else args.limit,
                          seed=Table1Config.seed if args.seed is None else args.seed, size=args.size,
                          batch_size=args.batch_size,
                          device=_device(args.device), g_weights=parse_g_weights(args.g_weights),
                          mask_threshold=args.mask_threshold, dilate=args.dilate,
                          outline_band=args.outline_band, pipeline_overrides=tuple(args.pipeline_overrides))
    pipeline_config(config)  # a bad --set fails here, in one line, before any data is read
    grid = None if args.no_grid else (args.grid or Path("out") / f"eval_{args.protocol}.png")
    return evaluate(config, grid=grid, progress=not args.quiet)


def markdown(report: dict) -> str:
    from deocclude.evaluate.report import table1_markdown

    return table1_markdown(report)


def _device(name: str) -> str:
    from deocclude.device import resolve_device

    return str(resolve_device(name))


def pipeline_config(config: Table1Config) -> DeoccluderConfig:
    """The automatic rows' pipeline: ``deocclude run``'s defaults with the evaluation's mask settings."""
    from deocclude.config_codec import config_with_overrides
    from deocclude.pipeline import DeoccluderConfig as PipelineConfig

    base = PipelineConfig(size=config.size, device=config.device, batch_size=config.batch_size,
                            mask_threshold=config.mask_threshold, dilate=config.dilate,
                            outline_band=config.outline_band)
    try:
        return config_with_overrides(base, config.pipeline_overrides)
    except ValueError as exc:
        raise DeoccludeError(str(exc)) from None


def evaluate(config: Table1Config, grid: Path | None = None, progress: bool = True) -> dict:
    """Run every row over the protocol's faces, streaming batch by batch; returns the report."""
    import time

    import numpy as np
    import torch

    from deocclude.evaluate.fills import AutomaticPipeline, load_gs, to_tensor, usable
    from deocclude.evaluate.grid import GridCollector
    from deocclude.evaluate.masks import mask_agreement
    from deocclude.evaluate.metrics import FLOORS, IdentityScorer, MeanTable, black_out, pixel_scores, ring_around
    from deocclude.evaluate.report import build_report
    from deocclude.evaluate.samples import open_protocol
    from deocclude.face_batch import tensor_to_images
    from deocclude.fills import make_fill

    started = time.perf_counter()
    total, batches = open_protocol(config)
    gs = load_gs(config.g_weights, config.device)
    telea, blend = make_fill("telea"), make_fill("prior")
    oracle_fills = [telea, make_fill("navier-stokes"), blend, *gs]  # the paper's mask-based baselines, and ours
    automatic_fills = [telea, blend, *gs]
    pipeline = AutomaticPipeline(pipeline_config(config))
    identity = IdentityScorer(config.device)
    table, masks, by_category = MeanTable(), MeanTable(), MeanTable()
    collector = GridCollector(config.grid_faces)
    categories: dict[str, int] = {}
    failed, dropped = 0, 0
    methods: set[str] = set()

    def score(mask: str, method: str, restored: torch.Tensor, clean: torch.Tensor, region: torch.Tensor,
              ring: torch.Tensor) -> None:
        ring_l1 = {"ring_l1": pixel_scores(restored, clean, ring)["l1"]}
        table.add(f"{mask}|{method}", pixel_scores(restored, clean, region) | ring_l1 | identity.score(restored))

    with _progress(progress) as bar:
        task = bar.add_task(f"evaluating {config.protocol}", total=total)
        for batch in batches:
            if len(batch):
                clean, occluded = batch.clean, batch.occluded
                region = torch.from_numpy(batch.true.astype(np.float32))[:, None]
                ring = torch.from_numpy(ring_around(batch.true).astype(np.float32))[:, None]
                identity.set_reference(clean)
                score(NONE, INPUT_ROW, to_tensor(occluded), clean, region, ring)
                clean_crops = tensor_to_images(clean)
                for floor, parts in FLOORS.items():  # identity only: what is left with a face part blacked out
                    table.add(
                        f"{NONE}|floor: {floor}",
                        identity.score(to_tensor(black_out(clean_crops, batch.landmarks, parts))),
                    )
                auto = pipeline(occluded, seed=batch.indices[0])
                found, oracle = auto.batch, auto.batch.with_occlusion(batch.oracle)
                assert found.occlusion is not None  # face_batch stacks M_O for every face (zeros where one failed)
                for fill in usable(oracle_fills, oracle):
                    score(ORACLE, fill.label, fill(oracle), clean, region, ring)
                restored = {}
                for fill in usable(automatic_fills, found):
                    restored[fill] = fill(found)
                    score(AUTOMATIC, fill.label, restored[fill], clean, region, ring)
                agreement = mask_agreement(found.occlusion, batch.true, batch.own, batch.occluder, batch.tinted)
                masks.add("M_O", agreement)
                for i, cat in enumerate(batch.categories):
                    categories[cat] = categories.get(cat, 0) + 1
                    by_category.add(cat, {k: v[i:i + 1] for k, v in agreement.items()})
                failed += auto.failed
                methods.update(m for m in auto.method.split(", ") if m)
                collector.add(occluded, batch.true, found.occlusion, found.render, restored.get(blend), restored[telea],
                              restored.get(gs[0]) if gs else None, clean)
            dropped += batch.dropped
            bar.advance(task, len(batch) + batch.dropped)
    picture = collector.write(grid) if grid is not None else None
    return build_report(config, table.summary(), masks.summary(), by_category.summary(), gs,
                        faces=sum(categories.values()), categories=categories, skipped={"no_true_occlusion": dropped},
                        pipeline={"method": ", ".join(sorted(methods)), "failed_faces": failed},
                        grid=str(picture) if picture else None, seconds=time.perf_counter() - started)


def _progress(enabled: bool):  # noqa: ANN202 - a rich Progress (a context manager)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console, disable=not enabled,
                    transient=not console.is_terminal)

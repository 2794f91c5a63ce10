"""fp32 NCHW vs bf16 autocast + channels_last on this CPU: images/s of S, R and G (one train step
and inference, batch 16, 128 px, 1 and 2 threads), and the bundled S / G val metrics both ways.

Usage: DEOCCLUDE_DATA=/work/shared/data .venv/bin/python benchmarks/bf16.py [--repeats 3] [--val-limit 32]
Writes benchmarks/results/bf16.json and bf16.md (bf16_<size>.* for another --size) with the command, commit and
the load average, since the development machine is shared. The train step is the net's forward + an L1 loss +
backward + Adam (S: UNet, R: regressor, G: generator and, for G, the discriminator as well), the
inner part of every recipe's step; data loading and the recipes' extra losses are not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from deocclude import precision
from deocclude.paths import REPO_DIR

RESULTS = REPO_DIR / "benchmarks" / "results"


def _nets() -> dict[str, torch.nn.Module]:
    """The bundled S, R regressor and G (fp32), and G's discriminator (untrained: speed only)."""
    from deocclude.inpaint.api import G_FILE
    from deocclude.inpaint.config import DiscriminatorConfig
    from deocclude.inpaint.discriminator import Discriminator
    from deocclude.reconstruct.inference import R_FILE
    from deocclude.segment.inference import S_FILE

    s, _ = S_FILE.load()
    r, _ = R_FILE.load()
    g, _ = G_FILE.load()
    return {"S": s, "R": r, "G": g, "D": Discriminator(DiscriminatorConfig())}


def _input_channels(net: torch.nn.Module) -> int:
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    return first.in_channels


def _time(fn, repeats: int) -> float:  # noqa: ANN001 - the probe's timer: warm-up, then the best of ``repeats``
    return precision._time(fn, repeats)


def _speed(net: torch.nn.Module, mode: precision.Mode, batch: int, size: int, repeats: int) -> dict[str, float]:
    """images/s of inference and of one train step (forward, L1, backward, Adam)."""
    import copy

    bf16 = mode.bf16
    net = precision.channels_last(copy.deepcopy(net).float(), mode.channels_last)
    x = precision.as_channels_last(torch.rand(batch, _input_channels(net), size, size), mode.channels_last)
    net.eval()

    def infer() -> None:
        with torch.no_grad(), precision.autocast(bf16):
            net(x)

    opt = torch.optim.Adam(net.parameters(), lr=1e-6)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with precision.autocast(bf16):
            y = net(x)
        F.l1_loss(y.float(), torch.zeros_like(y, dtype=torch.float32)).backward()
        opt.step()

    t_inf = _time(infer, repeats)
    net.train()
    t_step = _time(step, repeats)
    return {"infer_img_s": batch / t_inf, "train_img_s": batch / t_step}


def _val_metrics(mode: precision.Mode, limit: int) -> dict[str, dict[str, float]]:
    """The bundled S and G through their tasks' val_step on the same val faces."""
    from deocclude.inpaint.api import G_FILE
    from deocclude.inpaint.config import InpaintTrainConfig
    from deocclude.inpaint.task import InpaintTask
    from deocclude.segment.config import SegmentTrainConfig
    from deocclude.segment.inference import S_FILE
    from deocclude.segment.task import SegmentTask
    from deocclude.train.loop import to_channels_last

    out = {}
    for name, task, models in (
        ("S", SegmentTask(SegmentTrainConfig(val_limit=limit)), {"net": S_FILE.load()[0]}),
        ("G", InpaintTask(InpaintTrainConfig(val_limit=limit)), {"generator": G_FILE.load()[0]}),
    ):
        models = {k: precision.channels_last(m, mode.channels_last).eval() for k, m in models.items()}
        data = task.val_dataset()
        sums: dict[str, torch.Tensor] = {}
        torch.manual_seed(0)
        for start in range(0, len(data), 16):
            batch = task.collate([data[i] for i in range(start, min(len(data), start + 16))])
            batch = to_channels_last(batch) if mode.channels_last else batch
            with torch.no_grad(), precision.autocast(mode.bf16):
                stats = task.val_step(models, batch)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0) + v.detach().double()
        out[name] = task.summarize(sums)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--val-limit", type=int, default=32)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-val", action="store_true")
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO_DIR).stdout.strip()
    load_before = os.getloadavg()
    probe = precision.probe()
    print("probe:", probe, flush=True)
    nets = _nets()
    # emulated bf16 (no native support) measured 13x slower than fp32 on a conv: not worth timing the nets
    modes = [precision.FP32, precision.Mode(True, False)] + ([precision.Mode(True, True)] if probe["native"] else [])
    speed: dict[str, dict] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, net in nets.items():
            for mode in modes:
                key = f"{name} {threads}t {mode}"
                speed[key] = _speed(net, mode, args.batch, args.size, args.repeats)
                print(key, {k: round(v, 1) for k, v in speed[key].items()}, flush=True)
    val = {}
    if not args.skip_val:
        torch.set_num_threads(max(args.threads))
        val = {str(m): _val_metrics(m, args.val_limit) for m in modes}
        for prec, nets_metrics in val.items():
            for name, m in nets_metrics.items():
                print(prec, name, {k: round(v, 4) for k, v in m.items()}, flush=True)
    result = {"command": "DEOCCLUDE_DATA=... " + " ".join([Path(sys.executable).name, *sys.argv]), "commit": commit,
              "torch": torch.__version__, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "probe": probe, "batch": args.batch, "size": args.size, "speed": speed, "val": val,
              "val_limit": args.val_limit}
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "bf16" if args.size == 128 else f"bf16_{args.size}"  # one results file per crop size
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# bf16 + channels_last vs fp32 NCHW on CPU (batch {args.batch}, {args.size} px)", "",
             f"`{result['command']}` at `{commit[:10]}`, torch {torch.__version__}; load average "
             f"{load_before[0]:.2f} before, {result['loadavg_after'][0]:.2f} after "
             "(2-core machine shared with other jobs: noisy).",
             f"Probe: {probe} (the mode the pipeline and `--fast-cpu` use: {probe['chosen']}; "
             "`best` is this run's timing, noisy on a shared machine).", "",
             "| net | threads | mode | infer img/s | x | train step img/s | x |", "|---|---|---|---|---|---|---|"]
    for threads in args.threads:
        for name in nets:
            a = speed[f"{name} {threads}t {precision.FP32}"]
            for mode in modes:
                b = speed[f"{name} {threads}t {mode}"]
                lines.append(f"| {name} | {threads} | {mode} | {b['infer_img_s']:.1f} "
                             f"| {b['infer_img_s'] / a['infer_img_s']:.2f} "
                             f"| {b['train_img_s']:.1f} | {b['train_img_s'] / a['train_img_s']:.2f} |")
    if val:
        ref = str(precision.FP32)
        lines += ["", "Val metrics of the bundled nets through their tasks' val_step, "
                  f"first {args.val_limit} val faces, same batches:", "",
                  "| net | metric | " + " | ".join(val) + " | max diff |", "|---|---|" + "---|" * (len(val) + 1)]
        for name in val[ref]:
            for k, v in val[ref][name].items():
                others = [val[m][name][k] for m in val]
                lines.append(
                    f"| {name} | {k} | "
                    + " | ".join(f"{o:.4f}" for o in others)
                    + f" | {max(abs(o - v) for o in others):.5f} |"
                )
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""How much of this CPU's conv throughput S, R and G reach (issue 19: achieved GFLOP/s against the measured peak).

    PYTHONPATH=src python benchmarks/network_flops.py [--sizes 128 256] [--batch 16] [--threads 2] [--repeats 5]

Per network and crop size: FLOPs per face (``torch.utils.flop_counter``: 2 × multiply-adds of convs and matmuls,
counted on one fp32 forward), the median wall time per face of the network's forward in the mode the pipeline
runs it in (:mod:`deocclude.precision`: bf16 channels_last where oneDNN has native bf16), and the GFLOP/s that
makes. The peak is measured in the same process and mode: a 3×3 conv, 64 → 64 channels at 64², batch 16, the
shape the networks spend most of their time in. R's render (rasterizer, SH shading: no convs) is timed on its
own. Writes ``benchmarks/results/network_flops.json`` / ``.md`` with the command, commit and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from deocclude import precision
from deocclude.paths import REPO_DIR

RESULTS = REPO_DIR / "benchmarks" / "results"


def flops(fn: Callable[[], object]) -> float:
    """FLOPs of one call (fp32, autocast off: the counter sees every conv and matmul)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return float(counter.get_total_flops())


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` after one warm-up call."""
    with torch.no_grad():
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def peak(mode: precision.Mode, repeats: int) -> float:
    """GFLOP/s of a 64 → 64 3×3 conv at 64², batch 16, in ``mode``."""
    conv = precision.channels_last(nn.Conv2d(64, 64, 3, padding=1).eval(), mode.channels_last)
    x = precision.as_channels_last(torch.randn(16, 64, 64, 64), mode.channels_last)
    work = 2.0 * 16 * 64 * 64 * 64 * 64 * 9

    def run() -> torch.Tensor:
        with precision.autocast(mode.bf16):
            return conv(x)

    return work / seconds(run, repeats) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from deocclude.inpaint.api import load_inpainter
    from deocclude.inpaint.generator import generator_input
    from deocclude.reconstruct.inference import Reconstructor
    from deocclude.segment.inference import Segmenter

    s, r, g = Segmenter(), Reconstructor(), load_inpainter()
    mode = s.mode
    load = os.getloadavg()
    top = peak(mode, args.repeats)
    rows = []
    for n in args.sizes:
        b = args.batch
        crops = torch.rand(b, 3, n, n)
        hole = (torch.rand(b, 1, n, n) > 0.7).float()
        r_in = torch.rand(b, 3, r.size, r.size)
        g_in = generator_input(crops, hole, crops)

        def forward(net: nn.Module, x: torch.Tensor, net_mode: precision.Mode) -> Callable[[], torch.Tensor]:
            x_mode = precision.as_channels_last(x, net_mode.channels_last)

            def run() -> torch.Tensor:
                with precision.autocast(net_mode.bf16):
                    return net(x_mode)
            return run

        nets = {"S (U-Net parser)": (s.net, crops, s.mode), "R (regressor)": (r.net, r_in, r.mode),
                "G (generator)": (g.net, g_in, g.mode)}
        for name, (net, x, net_mode) in nets.items():
            work = flops(lambda net=net, x=x: net.float()(x.contiguous())) / b
            net = precision.channels_last(net, net_mode.channels_last)
            t = seconds(forward(net, x, net_mode), args.repeats) / b
            rows.append({"network": name, "size": n, "batch": b, "mode": str(net_mode), "gflop_per_face": work / 1e9,
                         "ms_per_face": 1000 * t, "gflops": work / t / 1e9, "of_peak": work / t / 1e9 / top})
        x_coef = r(torch.rand(b, 3, n, n)).x
        render = seconds(lambda x_coef=x_coef, n=n: r.face_model.render(x_coef, n), args.repeats) / b
        rows.append({"network": "R render (no convs)", "size": n, "batch": b, "mode": "fp32", "gflop_per_face": None,
                     "ms_per_face": 1000 * render, "gflops": None, "of_peak": None})
        print(*(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for row in rows[-4:] for k, v in row.items()),
              flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True,
                            text=True).stdout.strip()
    command = "python benchmarks/network_flops.py " + " ".join(sys.argv[1:])
    result = {"command": command, "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "threads": args.threads, "load_average": load, "mode": str(mode), "peak_gflops": top,
              "probe": precision.probe(), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "network_flops.json").write_text(json.dumps(result, indent=1))
    lines = ["# Achieved GFLOP/s of S, R and G (issue 19)", "", f"```bash\n{command}\n```", "",
             f"Commit `{commit}`, {result['date']}, {args.threads} torch thread(s), load average at start "
             f"{[round(v, 2) for v in load]} (above 0: other jobs shared the CPU and every number is lower). "
             f"Peak: a 64 → 64 3×3 conv at 64², batch 16, in {mode}: **{top:.0f} GFLOP/s**.", "",
             "| network | N | batch | mode | GFLOP / face | ms / face | GFLOP/s | of peak |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['network']} | {row['size']} | {row['batch']} | {row['mode']} | "
                     + (f"{row['gflop_per_face']:.2f}" if row["gflop_per_face"] is not None else "–")
                     + f" | {row['ms_per_face']:.2f} | "
                     + (f"{row['gflops']:.0f} | {row['of_peak']:.0%}" if row["gflops"] is not None else "– | –") + " |")
    (args.out / "network_flops.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""G on the paper's Table 1 protocol beside OpenCV: now ``deocclude eval`` (this is a thin wrapper).

The oracle-mask comparison this script used to run (G vs OpenCV Telea / Navier-Stokes on
the true occlusion, scored inside it, plus identity) is folded into
:mod:`deocclude.evaluate.table1`, which also runs the full automatic pipeline beside it.
This wrapper runs ``deocclude eval`` for each protocol with one G:

    PYTHONPATH=src DEOCCLUDE_DATA=../shared/data python benchmarks/inpaint_eval.py \
        --protocols sunglasses mixed --limit 300 --weights src/deocclude/weights/inpaint_g.safetensors

and writes ``benchmarks/results/eval_<protocol>.json`` / ``.md``.
``benchmarks/results/inpaint.json`` (1,000 faces per protocol, G latency) was written by the
earlier version of this script at commit 6aafe40; G's latency now belongs to ``deocclude bench``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deocclude.cli import main as deocclude_main

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "src" / "deocclude" / "weights" / "inpaint_g.safetensors"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocols", nargs="+", default=["sunglasses"], choices=["sunglasses", "mixed"])
    p.add_argument("--limit", type=int, default=300, help="faces per protocol (the protocol has 1000)")
    p.add_argument("--weights", type=Path, default=BUNDLED, help="G's weights (default: the bundled G)")
    p.add_argument("--label", default="G (bundled)", help="the G rows' label")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    for protocol in args.protocols:
        code = deocclude_main(
            [
                "eval",
                "--protocol",
                protocol,
                "--limit",
                str(args.limit),
                "--threads",
                str(args.threads),
                "--g-weights",
                f"{args.label}={args.weights}",
                "--output-dir",
                str(REPO / "benchmarks" / "results"),
            ]
        )
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``deocclude eval``: the downstream evaluations (LFW verification under occlusion, Figure-9 privacy analysis)."""

from __future__ import annotations

import argparse

PROTOCOLS = {"lfw": "deocclude.evaluate.lfw", "privacy": "deocclude.evaluate.privacy"}

EXAMPLES = """\
examples:
  deocclude eval --protocol lfw                      LFW folds 1-2, one photo of each pair occluded
  deocclude eval --protocol lfw --folds 1,2,3,4,5 --types sunglasses
  deocclude eval --protocol privacy                  identity recovery per occlusion type (paper Figure 9)
  deocclude eval --protocol privacy --threshold 0.9 --limit 50

Results go to benchmarks/results/eval_<protocol>.json and .md; example grids (dataset faces:
never commit them) to out/eval/.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    import importlib

    p = subparsers.add_parser(
        "eval", help="evaluation protocols: LFW verification under occlusion, privacy analysis",
        description="Evaluate de-occlusion downstream: face verification on LFW when one photo of each pair is "
                    "occluded, and how much identity de-occlusion recovers per occlusion type.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocol", required=True, choices=tuple(PROTOCOLS), help="which evaluation to run")
    for module in PROTOCOLS.values():  # light modules: heavy imports happen inside run()
        importlib.import_module(module).add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib

    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 4))
    summary = importlib.import_module(PROTOCOLS[args.protocol]).run(args)
    print(f"wrote eval_{args.protocol}.json and .md ({summary['seconds']} s)")
    return 0

"""``deocclude eval``: run an evaluation protocol and write its JSON and markdown results.

The protocols live in :mod:`deocclude.evaluate` (:data:`~deocclude.evaluate.PROTOCOLS`);
this command owns only the shared options and the writing of the results, so a new
protocol is a new module, not a change here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shlex
from pathlib import Path

DESCRIPTION = """\
Measure how well faces are de-occluded, on seeded synthetic occlusions of the UTKFace test
split (needs the shared data folder: $DEOCCLUDE_DATA, default ../shared/data).

protocols:
  sunglasses   the paper's Table 1: one pair of sunglasses per face
  mixed        the 12 classic occluder categories (masks, hands, objects, hair, scarves...), held out
  facemask     real-world face masks: surgical (white / light blue) and KN95, with the band
               under the jaw, ear loops and the shadow along the top edge
  eyeglasses   thin real-looking eyeglasses with clear lenses (frames, temples, reflections):
               is the pair removed whole and are the eyes behind it kept
  lfw          LFW verification with one photo of each pair occluded
  privacy      identity recovered per occlusion type (the paper's Figure 9)

sunglasses / mixed / facemask rows, each scored inside the true occlusion T (occluder opacity > 0.5
on the face surface) against the clean face -- L1, SSIM, PSNR -- and by identity (cosine
and distance of dlib-ResNet descriptors of result and clean face):
  occluded input        the "no de-occlusion" reference
  oracle  + ...         given the true mask: OpenCV Telea, Navier-Stokes, each G
  automatic + ...       the mask M_O found by S and R, as `deocclude run` does: Telea, each G
and the agreement of M_O with T (IoU, precision, recall). The paper's own numbers are
printed beside ours, marked as different data.

Writes OUTPUT_DIR/eval_<protocol>.json and eval_<protocol>.md (which starts with the
command that produced it) and a picture of 16 faces (default out/eval_<protocol>.png)."""

EPILOG = """\
examples:
  deocclude eval --protocol sunglasses                       300 faces, bundled G, ~minutes on a CPU
  deocclude eval --protocol mixed --limit 1000 --device cuda
  deocclude eval --protocol sunglasses --g-weights new=runs/g/inpaint_g.safetensors \\
                 --g-weights 'G (bundled)=src/deocclude/weights/inpaint_g.safetensors'
  deocclude eval --protocol sunglasses --limit 8 --output-dir /tmp/eval --no-grid

exit status: 0 done, 2 bad arguments or missing data/weights."""

DEFAULT_OUTPUT_DIR = Path("benchmarks") / "results"
# the eval parser, for exact_command (kept out of args: args stay plain data)
_PARSER: list[argparse.ArgumentParser] = []


def _protocols() -> dict[str, str]:
    from deocclude.evaluate import PROTOCOLS

    return PROTOCOLS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluation protocols: sunglasses, mixed, facemask (paper Table 1), lfw, privacy",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    protocols = _protocols()
    p.add_argument("--protocol", required=True, choices=list(protocols), help="which evaluation to run")
    shared = p.add_argument_group("options of every protocol")
    shared.add_argument("--limit", type=int, default=None, metavar="N",
                        help="evaluate only the first N faces (default: the protocol's own; "
                             "sunglasses/mixed/facemask 300)")
    shared.add_argument("--seed", type=int, default=None, help="protocol seed (default: the published protocol's)")
    shared.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1 ... (default auto)")
    shared.add_argument("--batch-size", type=int, default=16, help="faces per network call (default 16)")
    shared.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    shared.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
                        help=f"where eval_<protocol>.json and .md go (default {DEFAULT_OUTPUT_DIR})")
    shared.add_argument("--quiet", action="store_true", help="no progress bar")
    for path in dict.fromkeys(protocols.values()):  # one call per module (sunglasses, mixed, facemask share one)
        if _installed(path):
            module = importlib.import_module(path)
            if hasattr(module, "add_arguments"):
                module.add_arguments(p)
    p.set_defaults(func=run)
    _PARSER[:] = [p]


def _installed(path: str) -> bool:
    """True when the protocol module exists; a missing one is reported when it is chosen, not here."""
    try:
        return importlib.util.find_spec(path) is not None
    except ImportError:
        return False


def run(args: argparse.Namespace) -> int:
    from deocclude.errors import DeoccludeError
    from deocclude.evaluate import protocol_module

    module = protocol_module(args.protocol)
    if args.limit is not None and args.limit < 1:
        raise DeoccludeError(f"--limit must be >= 1, got {args.limit}")
    if args.threads is not None:
        if args.threads < 1:
            raise DeoccludeError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    command = exact_command(_PARSER[0], args)
    report = module.run(args)
    report = {"command": command, **report}
    out_dir: Path = args.output_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = out_dir / f"eval_{args.protocol}.json"
        json_path.write_text(_json(report))
        md_path = out_dir / f"eval_{args.protocol}.md"
        body = module.markdown(report) if hasattr(module, "markdown") else f"```json\n{_json(report)}```\n"
        md_path.write_text(f"```bash\n{command}\n```\n\n{body}")
    except OSError as exc:
        raise DeoccludeError(f"cannot write the results to {out_dir}: {exc.strerror or exc}") from None
    if hasattr(module, "markdown"):
        print(body, end="")
    print(f"wrote {json_path} and {md_path}" + (f"; picture {report['grid']}" if report.get("grid") else ""))
    return 0


def exact_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The ``deocclude eval`` command line that reproduces ``args``: every option that differs from its default."""
    words = ["deocclude", "eval"]
    for action in parser._actions:  # noqa: SLF001 - argparse has no public list of its actions
        if not action.option_strings or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        if value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:
            words.append(flag)
        elif isinstance(value, list):
            for item in value:
                words += [flag, str(item)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def _json(report: dict) -> str:
    import json

    return json.dumps(report, indent=2, default=str) + "\n"

"""The ``deocclude`` command line.

Each sub-command lives in its own module under :mod:`deocclude.commands` and exposes
``register(subparsers)``; modules are discovered automatically, so adding a command never
touches this file. Errors the user can fix (:class:`DeoccludeError`) are printed as one
line and give exit status 2; nothing here prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from deocclude import __version__, commands
from deocclude.errors import DeoccludeError

EPILOG = """\
examples:
  deocclude run photo.jpg -o out/          de-occlude every face in a photo
  deocclude run photos/ '*.png' -o out/    folders and globs work too
  deocclude serve                          a local web page: drop a photo, see the mask and the result
  deocclude <command> --help               help for one command
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deocclude",
        description="Remove occlusions (sunglasses, masks, hands, objects, hair) from face photos, "
        "no mask drawn by hand.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deocclude {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DeoccludeError as exc:
        print(f"deocclude: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = " (to resume: the same command with --skip-existing)" if args.command == "run" else ""
        print(f"deocclude: interrupted{resume}", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for users, the traceback on request
        if os.environ.get("DEOCCLUDE_DEBUG"):
            raise
        print(f"deocclude: internal error: {type(exc).__name__}: {exc} (set DEOCCLUDE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 3

"""``deocclude serve``: a local web page to drop a photo on and see the mask and the result."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket

DESCRIPTION = """\
Start a web page on this computer: drop or pick a photo and see, side by side, the input, the
occlusion mask M_O the pipeline found (red, over the photo, with a box per detected face) and
the result, with a slider to compare it with the input, a download of the result and of the
mask (PNG), and each face's status as the manifest of `deocclude run` writes it (e.g.
"untouched: 57 % of the occlusion mask lies on the background ...").

It runs the same pipeline as `deocclude run`, with the same flags (below) as the page's
defaults; the page can switch fill, crop size, --extend and --remove-hair per photo. Nothing
leaves this computer: the page loads no external asset (its Content-Security-Policy forbids
any other origin) and nothing is sent anywhere. Photos are processed one at a time; uploads
are kept in memory and a temporary file only while they are read.

The page has no password: keep --host 127.0.0.1 (the default) unless you mean every machine
that can reach yours to use it."""

EPILOG = """\
examples:
  deocclude serve                              then open http://127.0.0.1:7860
  deocclude serve --port 8080 --fill g         the learned G as the default fill
  deocclude serve --port 0                     any free port (printed)
  deocclude serve --device cuda --size 256

Stop it with Ctrl-C. exit status: 0 stopped, 2 bad arguments (e.g. port in use)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from deocclude.commands.run import _add_config_flags

    p = subparsers.add_parser("serve", help="local web page: drop a photo, see the mask and the result",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 = every network)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860; 0 = any free port)")
    _add_config_flags(p)  # the same pipeline flags as `deocclude run`, one source of defaults
    p.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    import sys

    from deocclude.commands.run import config_from_args
    from deocclude.errors import DeoccludeError
    from deocclude.web import WebApp, make_server

    if not 0 <= args.port <= 65535:
        raise DeoccludeError(f"--port must lie in 0..65535, got {args.port}")
    app = WebApp(config_from_args(args))
    server = make_server(app, args.host, args.port)  # first: a port in use fails at once, before the models load
    try:
        deoccluder = app.deoccluder(app.config)  # load the weights now: the first photo is fast, bad flags fail here
    except BaseException:
        server.server_close()
        raise
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # an AF_INET / AF_INET6 address: (str, int, ...); bytes only for AF_UNIX
    shown = f"[{host}]" if ":" in str(host) else host
    if not _is_loopback(str(host)):
        print(f"warning: listening on {host}: anyone who can reach this machine can use the page (no password)",
              file=sys.stderr)
    if not deoccluder.can_remove_occlusions:
        print("note: no segmentation weights installed: the page will show photos unchanged", file=sys.stderr)
    print(f"deocclude serve: open http://{shown}:{port}/ (device {deoccluder.device}, fill {app.config.fill}; "
          "Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _stop)  # `kill`, a service manager or a test: stop as cleanly as on Ctrl-C
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("deocclude serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0

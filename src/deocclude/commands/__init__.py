"""CLI sub-commands, one module each; every module defines ``register(subparsers)``.

A module's ``register`` adds its parser and sets ``func`` (called with the parsed args,
returns an exit status). Keep heavy imports (torch, models) inside ``func`` so that
``deocclude --help`` stays fast.
"""

"""User-facing errors.

Anything raised as :class:`DeoccludeError` is shown to the user as one line (no traceback)
by the CLI. Use it for bad input and missing resources, never for programming errors.
"""


class DeoccludeError(Exception):
    """An error the user can fix; its message is printed as a single line."""


class ImageReadError(DeoccludeError):
    """An input file is missing, empty, truncated or not an image."""


class NoFaceError(DeoccludeError):
    """No face was found in an image."""


class WeightsNotFoundError(DeoccludeError, FileNotFoundError):
    """A weights file is missing: a user-fixable error, and a FileNotFoundError so that the
    pipeline can treat a learned stage as optional and fall back to the classical one."""

"""Errors a user can act on: each says what is wrong, where, and how to fix it, in one paragraph.

Every command's ``main`` is wrapped in :func:`exits_2_on_user_error`: it prints ``str(error)`` without a
traceback and exits with status 2.
"""

import functools
import sys


class OutfitError(ValueError):
    """Base class. ``what``: the problem; ``where``: file/line or config key; ``fix``: what to do."""

    def __init__(self, what, where=None, fix=None):
        self.what, self.where, self.fix = what, where, fix
        parts = [what.rstrip(".") + "."]
        if where:
            parts.insert(0, f"{where}:")
        if fix:
            parts.append(fix.rstrip(".") + ".")
        super().__init__(" ".join(parts))


class DataFormatError(OutfitError):
    """A raw Polyvore-U file or a converted atomic file does not have the documented format."""


class MissingImagesError(DataFormatError):
    """Garment images that outfits need are missing or cannot be decoded."""


class ConfigError(OutfitError):
    """A model name, dataset name or configuration value that cannot be used."""


def location(path, line=None):
    """``path`` or ``path, line N`` for error messages (``line`` is 1-based, as editors count)."""
    return f"{path}, line {line}" if line is not None else str(path)


EXIT_USER_ERROR = 2  # the status of a command stopped by an error the user can fix


def exits_2_on_user_error(main):
    """Decorate a command's ``main(argv=None) -> int``: an :class:`OutfitError` prints its one paragraph on
    stderr (no traceback) and the command returns :data:`EXIT_USER_ERROR`; anything else propagates."""

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except OutfitError as error:
            print(f"\nerror: {error}", file=sys.stderr)
            return EXIT_USER_ERROR

    return guarded

"""Output paths checked before the work that fills them: a file a command will write must be writable and not a
folder; a folder it will write into must exist (or be creatable) and be writable.

Each check raises :class:`~recbole_outfit.errors.ConfigError` naming the option the path came from, so that a run
stops at its start instead of after hours of training with the result lost.
"""

import os
import tempfile

from recbole_outfit.errors import ConfigError


def check_output_folder(folder, where, fix=None):
    """Make sure ``folder`` exists (creating it) and a file can be created in it; returns ``folder``."""
    folder = folder or "."
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{folder} is a file, not a folder", where=where,
                          fix=fix or f"give {where} a folder (or a path that does not exist yet)")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError(f"cannot write to {folder} ({error.strerror or error})", where=where,
                          fix=fix or f"give {where} a folder you can write to, or fix its permissions") from None
    return folder


def check_output_file(path, where, fix=None):
    """Make sure the file ``path`` can be (re)written: not a folder, its folder writable, an existing file not
    read-only. Creates the folder when missing; writes nothing else. Returns ``path``."""
    if os.path.isdir(path):
        raise ConfigError(f"{path} is a folder; a file is written there", where=where,
                          fix=fix or f"give {where} a file name (inside that folder, if you like)")
    check_output_folder(os.path.dirname(os.path.abspath(path)), where, fix=fix)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # replaced by a rename, which the folder allows; but a read-only file is the user's "keep this"
        raise ConfigError(f"{path} exists and is read-only", where=where,
                          fix=fix or f"make it writable, or give {where} another file name")
    return path


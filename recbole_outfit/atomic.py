"""Publishing files and folders so that a reader sees the old complete version or the new one, never half.

* :func:`atomic_write` - a file is written to a temporary sibling (``.<name>.tmp-<pid>-<random>``), flushed
  to disk (``fsync``) and renamed over the target with ``os.replace``.
* :func:`publish_folder` - a folder built under a temporary name is renamed into place; when another
  process publishes the same folder at the same moment, the loser uses the winner's folder if it is
  complete instead of failing.
* :func:`remove_stale_temp` - temporary files and folders whose name carries the id of a process that no
  longer runs (a killed run) are removed, each removal logged.

Temporary names carry the writer's process id, so a temporary file or folder of a *running* process is never
touched. The check is local: processes on other machines sharing the same folder (a network file system)
cannot be seen, so do not point runs on several machines at one output folder at the same time.
"""

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from logging import getLogger

import psutil

# the pid group of every temporary name this module (and the converter / generator) makes
TEMP_PID_PATTERN = r"\.(?:tmp|old)-(?P<pid>\d+)"


def pid_running(pid):
    """True while process ``pid`` exists on this machine and is not a zombie (killed but not yet reaped)."""
    pid = int(pid)
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, OverflowError, ValueError):  # gone, or a number no process can have
        return False
    except psutil.Error:  # exists but cannot be inspected (another user's process): count it as running
        return True


def temp_name(name, kind="tmp"):
    """``.<name>.<kind>-<pid>``: the hidden temporary sibling of ``name`` owned by this process."""
    return f".{name}.{kind}-{os.getpid()}"


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding=None, newline=None):
    """Open ``path`` for writing through a temporary file in the same folder; publish it on success.

    ``with atomic_write("results.json") as f: json.dump(data, f)``. On leaving the block without an error
    the file is flushed, ``fsync``-ed and renamed over ``path`` (``os.replace``: readers see the old file or
    the new one); on an error the temporary file is removed and ``path`` is left as it was.

    Args:
        path: the file to (re)write; its folder must exist.
        mode: ``"w"`` (text, UTF-8 unless ``encoding`` says otherwise) or ``"wb"`` (bytes).
        encoding: text encoding (text mode only).
        newline: as in :func:`open` (text mode only).
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    folder = os.path.dirname(os.path.abspath(path))
    # not tempfile.mkstemp: its files are private (0600); this one gets the permissions open() would give
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if "b" in mode:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish_folder(tmp, final, is_complete, attempts=5, wait=0.2):
    """Rename the finished folder ``tmp`` to ``final``, replacing an older ``final``, with renames only.

    The older folder is first renamed to ``<final>.old-<pid>`` and removed after the new one is in place.
    When another process publishes ``final`` at the same time, a rename here fails (the target appeared, or
    the older folder was already moved away); then, if ``is_complete(final)`` is true the other process's
    folder is used and ``tmp`` is removed, otherwise the rename is tried again (``attempts`` times,
    ``wait`` seconds apart) before the last ``OSError`` is raised.

    Args:
        tmp: the finished temporary folder (same parent as ``final``).
        final: where it goes.
        is_complete: ``callable(folder) -> bool``, true when ``folder`` is a complete, usable output
            (e.g. its manifest exists and matches this run's inputs).
    Returns:
        True when ``tmp`` became ``final``; False when another process's complete ``final`` was kept.
    """
    logger = getLogger()
    old = os.path.join(os.path.dirname(os.path.abspath(final)), temp_name(os.path.basename(final), "old"))
    error = None
    for attempt in range(attempts):
        moved_aside = False
        if os.path.lexists(old):
            shutil.rmtree(old, ignore_errors=True)  # our own older copy from a failed attempt
        try:
            if os.path.lexists(final):
                os.rename(final, old)
                moved_aside = True
            os.rename(tmp, final)
        except OSError as exc:
            if moved_aside and not os.path.lexists(final):
                with contextlib.suppress(OSError):
                    os.rename(old, final)  # put the older folder back while we look again
            if exc.errno not in (errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR) \
                    or not os.path.isdir(tmp):
                raise
            error = exc
            if os.path.isdir(final) and is_complete(final):
                logger.info(f"{final} was published by another process at the same time; using it")
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(old, ignore_errors=True)
                return False
            time.sleep(wait * (attempt + 1))
            continue
        shutil.rmtree(old, ignore_errors=True)
        return True
    raise error


def remove_stale_temp(parent, pattern=None):
    """Remove the entries of ``parent`` whose name matches ``pattern`` and whose process no longer runs.

    Args:
        parent: the folder to look in (nothing happens when it does not exist).
        pattern: a regular expression (``re.fullmatch`` on the entry name) with a group named ``pid``;
            default: any ``*.tmp-<pid>``, ``*.tmp-<pid>-<suffix>`` or ``*.old-<pid>`` name.
    Returns:
        The removed paths (each removal is logged as a warning, with its size).
    """
    if not os.path.isdir(parent):
        return []
    regex = re.compile(pattern or rf".+{TEMP_PID_PATTERN}(?:-[^/]*)?")
    if "pid" not in regex.groupindex:
        raise ValueError(f"pattern {regex.pattern!r} needs a group named 'pid'")
    removed = []
    for name in sorted(os.listdir(parent)):
        match = regex.fullmatch(name)
        if not match or pid_running(match.group("pid")):
            continue
        path = os.path.join(parent, name)
        size = _size(path)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            continue  # another run cleaned it at the same moment
        except OSError as exc:
            getLogger().warning(f"Could not remove the leftover {path} of stopped process {match.group('pid')}: "
                                f"{exc}; remove it by hand")
            continue
        getLogger().warning(f"Removed {path} ({size / 2**20:,.1f} MiB), left by process {match.group('pid')} "
                            f"that no longer runs (an interrupted run)")
        removed.append(path)
    return removed


def _size(path):
    """Bytes under ``path`` (a file or a folder tree); 0 when it vanished meanwhile."""
    if not os.path.isdir(path) or os.path.islink(path):
        with contextlib.suppress(OSError):
            return os.lstat(path).st_size
        return 0
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total

"""One process at a time builds an artifact; the others wait for it and reuse what it built.

Two runs started side by side often need the same expensive artifact: ``--model=FND`` and ``--model=FNDCL`` of
one seed need the same teacher stage, two comparisons spreading seeds over processes may share a run. Writes are
atomic anyway (``recbole_outfit.atomic``), so without a lock both would train it and the last one to finish
would replace the other's equal file: correct, but hours of duplicated work. With :func:`build_once` the
second process waits for the first and then finds the artifact built.

The lock is ``fcntl.flock`` on ``<artifact>.lock``, which its holder removes when done. The system releases a
lock when the holding process ends, killed or not, so a lock is never stale: a ``.lock`` file a killed process
left behind is locked and removed by the next builder. Where ``fcntl`` does not exist (Windows) there is no
lock and each process builds for itself, as before. Like the temporary names of ``recbole_outfit.atomic``, the
lock is local: runs on several machines sharing a network folder are not serialized.
"""

import contextlib
import os

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; every process builds for itself
    fcntl = None


def lock_holder(lock_file):
    """The process id written in ``lock_file`` by the process holding it, or None when unreadable."""
    try:
        with open(lock_file, "r", encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def one_builder(path, on_wait=None):
    """Hold the lock of the artifact ``path`` for the block (see the module docstring).

    Check for the cached artifact again inside the block: the process that held the lock before may have
    built it. ``on_wait(holder_pid or None)`` is called once when another process holds the lock, before
    waiting for it (to tell the user why nothing seems to happen).
    """
    if fcntl is None:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    lock_file = path + ".lock"
    handle = _locked(lock_file, on_wait)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):  # still holding it: a waiter on this file sees it gone
            os.unlink(lock_file)  # and locks a fresh one
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def build_once(path, is_built, build, on_wait=None):
    """Make sure the artifact ``path`` is built: nothing to do when ``is_built(path)``, else ``build()`` under
    :func:`one_builder`, after checking ``is_built(path)`` again (the process this one waited for may have built
    it meanwhile). Returns True when this process built it, False when it was built already."""
    if is_built(path):
        return False
    with one_builder(path, on_wait=on_wait):
        if is_built(path):
            return False
        build()
        return True


def _locked(lock_file, on_wait):
    """An open handle of ``lock_file`` holding its exclusive lock, the file still in place. A holder removes the
    file before it lets go, so a process that waited on the removed file tries again on the current one."""
    told = False
    while True:
        handle = open(lock_file, "a+", encoding="ascii")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None and not told:
                on_wait(lock_holder(lock_file))
                told = True
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.stat(lock_file).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # locked a file its holder had removed: lock the current one

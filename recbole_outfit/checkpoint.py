"""Checkpoints that cannot run code: plain data in, torch's weights-only loader out.

RecBole's checkpoints pickle the whole ``Config`` (its model class, a yaml loader class, enums, devices), so
on torch >= 2.6 they only load with ``weights_only=False``, which runs whatever code a file holds. The
plugin's ``Config`` pickles itself as plain data instead (:func:`plain` / :func:`restore`: strings, numbers,
lists, dicts, plus tagged devices and RecBole's enums) and is the one class added to torch's weights-only
allowlist, so every checkpoint the plugin writes (RecBole's models run through it included) loads with the
weights-only loader, RecBole's own ``torch.load`` calls and ``load_data_and_model`` too. Nothing switches
torch's protection off.

A file that still needs full unpickling (from an older version, or from someone else) is refused with a
message naming ``--trust_checkpoint=True``; only then is it loaded with ``weights_only=False``.

Damage is detected too: :func:`save_checkpoint` records a SHA-256 of every tensor the checkpoint holds (weights,
optimizer state, random states) under the key ``checksum``, and :func:`load_checkpoint` recomputes it after
loading and refuses a file whose tensors changed (a flipped byte in the weights loads without error otherwise).
The digest lives inside the file, so it is published with it by one rename and can never be out of step with
it. Files without the key (RecBole's own, or from an older version) load unverified. A full disk while saving
is one paragraph (:class:`DiskFullError`), the partial file removed.
"""

import enum
import errno
import hashlib
import os
import pickle
import pickletools
import sys
import zipfile

import torch
from recbole.utils import enum_type

from recbole_outfit.atomic import atomic_write
from recbole_outfit.errors import ConfigError, OutfitError

CHECKSUM_KEY = "checksum"
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class DiskFullError(OutfitError):
    """The disk filled up while a file was written (the partial file was removed)."""

_ENUMS = {cls.__name__: cls for cls in vars(enum_type).values()
          if isinstance(cls, type) and issubclass(cls, enum.Enum) and cls is not enum.Enum}


def plain(value):
    """``value`` with devices and RecBole enums replaced by tagged plain data (see :func:`restore`)."""
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, enum.Enum) and type(value).__name__ in _ENUMS:
        return {"__enum__": type(value).__name__, "name": value.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def restore(value):
    """The inverse of :func:`plain`: tagged devices and enums become objects again (only RecBole's enums)."""
    if isinstance(value, dict):
        if set(value) == {"__device__"}:
            return torch.device(value["__device__"])
        if set(value) == {"__enum__", "name"} and value["__enum__"] in _ENUMS:
            return _ENUMS[value["__enum__"]][value["name"]]
        return {key: restore(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(restore(v) for v in value)
    return value


RECBOLE_LOADER = ("recbole.quick_start.quick_start", "load_data_and_model")


def refuse_recbole_loader():
    """Raise ConfigError when RecBole's own ``recbole.quick_start.load_data_and_model`` is reading a plugin
    checkpoint (called while a plugin ``Config`` is unpickled), before it spends minutes on a dataset it cannot use.

    RecBole's function cannot rebuild a plugin run, and a plugin cannot make it without changing RecBole for
    every other caller: it finds the model class with ``recbole.utils.get_model``, which searches RecBole's own
    model packages only, and it builds the data with RecBole's ``create_dataset`` and ``data_preparation``, which
    build RecBole's ``Dataset``, not the plugin's outfit dataset (garments, image store, evaluation splits).
    """
    frame = sys._getframe(1)
    while frame is not None:
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) == RECBOLE_LOADER:
            raise ConfigError(
                "recbole.quick_start.load_data_and_model cannot load a recbole-outfit checkpoint: RecBole's function "
                "looks the model up with recbole.utils.get_model, which knows only RecBole's own models, and builds "
                "RecBole's Dataset, not the plugin's outfit dataset (garments, image store, evaluation splits); "
                "changing those would change RecBole for every other program", where="load_data_and_model",
                fix="call recbole_outfit.quick_start.load_data_and_model(path) instead: the same argument and the "
                    "same return tuple (config, model, dataset, train_data, valid_data, test_data)")
        frame = frame.f_back


def _is_pickle(path):
    """True when ``path`` holds a well-formed pickle stream (torch's zip format or a bare pickle), read without
    running it (``pickletools`` only parses the opcodes)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(name) if name else b""
        else:
            with open(path, "rb") as f:
                data = f.read()
        for _ in pickletools.genops(data):
            pass
        return bool(data)
    except Exception:  # noqa: BLE001 - any parse failure means: not a whole pickle
        return False


def tensor_digest(value):
    """SHA-256 (hex) of every tensor in ``value`` (nested dicts, lists and tuples), with its place, dtype and
    shape, and of the plain numbers and strings beside them; other objects (the saved Config) are left out."""
    digest = hashlib.sha256()

    def walk(item, place):
        if isinstance(item, torch.Tensor):
            tensor = item.detach().cpu().contiguous()
            digest.update(f"{place}|{tensor.dtype}|{tuple(tensor.shape)}|".encode("utf-8"))
            if tensor.numel():
                digest.update(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
        elif isinstance(item, dict):
            for key, sub in item.items():
                if not (place == "" and key == CHECKSUM_KEY):
                    walk(sub, f"{place}/{key}")
        elif isinstance(item, (list, tuple)):
            for index, sub in enumerate(item):
                walk(sub, f"{place}/{index}")
        elif item is None or isinstance(item, (bool, int, float, str)):
            digest.update(f"{place}={item!r};".encode("utf-8"))

    walk(value, "")
    return digest.hexdigest()


def is_disk_full(error):
    """True when ``error`` (or an exception it was raised from) says the disk or the user's quota is full."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            return True
        if isinstance(error, RuntimeError) and ("No space left" in str(error) or "Errno 28" in str(error)):
            return True
        error = error.__cause__ or error.__context__
    return False


def save_checkpoint(state, path, where="checkpoint_dir"):
    """Write the dict ``state`` to ``path`` atomically with its :func:`tensor_digest` under ``checksum``.

    A full disk raises :class:`DiskFullError` (one paragraph, exit 2); the temporary file is removed, and an
    older ``path`` is left as it was. ``where``: the setting that chose the folder, for the message.
    """
    state = {**state, CHECKSUM_KEY: {"sha256": tensor_digest(state), "of": "tensors"}}
    try:
        with atomic_write(path, "wb") as f:
            torch.save(state, f)  # the default protocol: the weights-only loader reads it
    except (OSError, RuntimeError) as error:
        if not is_disk_full(error):
            raise
        folder = os.path.dirname(os.path.abspath(path))
        raise DiskFullError(
            f"the disk holding {folder} is full: {os.path.basename(path)} could not be saved (the partial file "
            f"was removed; an older version of it, if any, is unchanged)", where=where,
            fix="free some space there, or point --checkpoint_dir at a disk with room, then run again "
                "(--resume=True continues from the last resume state that was saved)") from None
    return path


def verify_checksum(state, path, where="checkpoint"):
    """Refuse a loaded checkpoint whose tensors no longer match the digest recorded when it was saved."""
    if not isinstance(state, dict) or not isinstance(state.get(CHECKSUM_KEY), dict):
        return state  # RecBole's own files and older ones carry none: nothing to compare
    expected = state[CHECKSUM_KEY].get("sha256")
    if expected != tensor_digest(state):
        raise ConfigError(f"{path} is damaged: its weights do not match the checksum recorded when it was saved "
                          f"(the file was altered or corrupted on disk after it was written)", where=where,
                          fix="use another copy of it, or train the run that wrote it again")
    return state


def load_checkpoint(path, trust=False, map_location="cpu", where="checkpoint"):
    """Load a checkpoint with torch's weights-only loader; a file that needs full unpickling only with ``trust``.

    Raises ConfigError (one paragraph, exit 2 from the command line) for a missing, truncated or unreadable
    file, and for one that needs full unpickling when ``trust`` is false. ``where``: the config key or option
    the user gave the file with, for the message.
    """
    if not path or not os.path.isfile(path):
        raise ConfigError(f"checkpoint {path!r} does not exist", where=where,
                          fix="give a .pth file a run saved (its log and results JSON name it)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if not _is_pickle(path):  # not refused for what it holds: it is not a whole checkpoint at all
            raise ConfigError(f"{path} is not a readable checkpoint (its contents are not a whole pickle: a truncated or "
                              f"partly copied file looks like this)", where=where,
                              fix="give a complete .pth file a run saved; rerun the run that wrote it if it was "
                                  "cut short") from None
        if not trust:
            raise ConfigError(
                f"{path} holds objects that only full unpickling can rebuild, and full unpickling can run any code "
                f"the file carries ({str(error).splitlines()[0][:160]})", where=where,
                fix="load only files you trust; if you trust this one, add --trust_checkpoint=True (checkpoints "
                    "this version of recbole-outfit writes never need it)") from error
        try:
            state = torch.load(path, map_location=map_location, weights_only=False)
        except Exception as second:  # noqa: BLE001 - any failure of a trusted load is a bad file
            error = second
        else:
            return verify_checksum(state, path, where)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as failure:
        error = failure
    else:
        return verify_checksum(state, path, where)
    raise ConfigError(f"{path} is not a readable checkpoint: {type(error).__name__}: {str(error)[:200]} (a truncated "
                      f"or partly copied file looks like this)", where=where,
                      fix="give a complete .pth file a run saved; rerun the run that wrote it if it was cut short")

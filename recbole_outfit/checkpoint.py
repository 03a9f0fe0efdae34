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
"""

import enum
import os
import pickle
import pickletools
import sys
import zipfile

import torch
from recbole.utils import enum_type

from recbole_outfit.errors import ConfigError

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
        return torch.load(path, map_location=map_location, weights_only=True)
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
            return torch.load(path, map_location=map_location, weights_only=False)
        except Exception as second:  # noqa: BLE001 - any failure of a trusted load is a bad file
            error = second
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as failure:
        error = failure
    raise ConfigError(f"{path} is not a readable checkpoint: {type(error).__name__}: {str(error)[:200]} (a truncated "
                      f"or partly copied file looks like this)", where=where,
                      fix="give a complete .pth file a run saved; rerun the run that wrote it if it was cut short")

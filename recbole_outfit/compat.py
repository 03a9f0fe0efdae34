"""Every fix that RecBole 1.2.1 needs on today's numpy / pandas / torch, in one place.

Applied once, on ``import recbole_outfit`` (see DESIGN.md section 2 for how each was found):

* **numpy aliases.** RecBole's ``Config.compatibility_settings`` assigns ``np.float = np.float_`` and friends,
  and ``Dataset._fill_nan`` uses ``np.float``. ``np.float_`` is gone in numpy 2, so the assignment itself
  crashes there. We install the aliases from types that exist in every numpy and make RecBole's method do
  the same.
* **torch.load and weights_only.** Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``;
  RecBole's checkpoints pickle the whole ``Config``, so ``Trainer.evaluate(load_best_model=True)`` and
  ``Trainer.resume_checkpoint`` fail. We wrap exactly those two methods so that, while they run, checkpoint
  loading trusts the file (RecBole wrote it itself, in ``checkpoint_dir``). :func:`load_checkpoint` does the
  same for our own readers. Nothing else in the process is affected.
* **recbole.quick_start is never imported.** It imports ray, which needs ``pkg_resources`` (setuptools < 81)
  and ``np.bool8`` (numpy < 2). The plugin has its own quick start (as RecBole-GNN does).
* **pandas 3** makes RecBole's ``df[field].fillna(..., inplace=True)`` a no-op under copy-on-write; the
  package pins ``pandas<3`` (pyproject) rather than patching RecBole's loader.
* **one log file per run.** RecBole's ``init_logger`` installs its handlers with ``logging.basicConfig``, which
  does nothing once the root logger has handlers, so every later run of a process (a comparison, a stage)
  logged into the first run's file and left its own empty. :func:`init_run_logger` replaces the previous
  run's handlers first.
* **distributed on CPU.** RecBole hard-codes the ``nccl`` backend in ``Config._init_device``; see
  :func:`distributed_backend` (used by our Config).
"""

import contextlib
import functools
import logging
import os
import warnings

import numpy as np
import torch

_NUMPY_ALIASES = {
    "bool": np.bool_,
    "int": np.int64,
    "float": np.float64,
    "complex": np.complex128,
    "object": np.object_,
    "str": np.str_,
    "long": np.int64,
    "unicode": np.str_,
}


def install_numpy_aliases():
    """Set the removed numpy aliases RecBole 1.2.1 uses, from types every numpy version has."""
    for name, value in _NUMPY_ALIASES.items():
        setattr(np, name, value)


@contextlib.contextmanager
def trusted_checkpoint_loading():
    """Within this block ``torch.load`` unpickles full objects (``weights_only=False``) unless a caller asks
    otherwise. Use only around loads of files this library or RecBole wrote itself."""
    key = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
    previous = os.environ.get(key)
    os.environ[key] = "1"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD.*")
            yield
    finally:
        if previous is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = previous


def load_checkpoint(path, map_location="cpu"):
    """Load a RecBole / recbole-outfit checkpoint (a pickled dict holding the Config) on any torch version."""
    return torch.load(path, map_location=map_location, weights_only=False)


def distributed_backend(device_is_cuda):
    """The ``torch.distributed`` backend for a run: nccl on GPU, gloo on CPU (RecBole only knows nccl)."""
    return "nccl" if device_is_cuda else "gloo"


@contextlib.contextmanager
def as_single_process(config, when=True):
    """Within this block RecBole code sees ``single_spec = True``: for the two places where its distributed
    set-up is wrong for us (a CUDA-only DistributedDataParallel on CPU; sharded evaluation rows)."""
    if not when:
        yield
        return
    previous = config["single_spec"]
    config["single_spec"] = True
    try:
        yield
    finally:
        config["single_spec"] = previous


_RUN_LOG_HANDLERS = []  # the handlers RecBole's init_logger installed for the current run


def init_run_logger(config):
    """RecBole's ``init_logger`` for a new run of this process: its own ``log/<model>/...log`` file."""
    from recbole.utils import init_logger

    root = logging.getLogger()
    for handler in _RUN_LOG_HANDLERS:
        root.removeHandler(handler)
        handler.close()
    _RUN_LOG_HANDLERS.clear()
    before = set(root.handlers)
    init_logger(config)
    _RUN_LOG_HANDLERS.extend(h for h in root.handlers if h not in before)


def _trusting(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with trusted_checkpoint_loading():
            return method(*args, **kwargs)

    wrapper.__recbole_outfit_patched__ = True
    return wrapper


def apply():
    """Apply every fix; idempotent."""
    install_numpy_aliases()
    # RecBole's ``df[col].fillna(..., inplace=True)`` works on pandas < 3 but warns on every load
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"recbole\.data")
    # RecBole's trainer builds torch.cuda.amp.GradScaler (deprecated alias) every epoch
    warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.cuda\.amp\.GradScaler.*")

    from recbole.config.configurator import Config
    from recbole.trainer.trainer import Trainer

    Config.compatibility_settings = lambda self: install_numpy_aliases()
    for name in ("evaluate", "resume_checkpoint"):
        method = getattr(Trainer, name)
        if not getattr(method, "__recbole_outfit_patched__", False):
            setattr(Trainer, name, _trusting(method))


apply()

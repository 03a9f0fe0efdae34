"""Every fix that RecBole 1.2.1 needs on today's numpy / pandas / torch, in one place, and the ledger of the
RecBole internals the plugin overrides.

Nothing here changes RecBole for code that does not use the plugin: importing ``recbole_outfit`` patches no
RecBole class and sets no numpy alias. Each fix is as narrow as the breakage it fixes (each found by running
RecBole 1.2.1 on these packages):

* **numpy aliases.** RecBole's ``Config.compatibility_settings`` assigns ``np.float = np.float_`` and friends
  when a Config is built, and ``Dataset._fill_nan`` uses ``np.float``. ``np.float_`` is gone in numpy 2, so
  the assignment itself crashes there. The plugin's own ``config.Config`` overrides the method (as RecBole-GNN's
  Config does) with :func:`install_numpy_aliases`, from types every numpy has, at the moment RecBole would;
  RecBole's base ``Config`` is left as it is.
* **warnings.** No process-wide filter: pandas' warnings about RecBole's in-place ``fillna`` are silenced
  only while an ``OutfitDataset`` loads (``data/dataset.py``); every other warning reaches the user.
* **torch.load and weights_only.** Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, and a
  pickled RecBole ``Config`` needs full unpickling. The plugin's ``Config`` pickles as plain data instead and
  is allowlisted for the weights-only loader (``recbole_outfit/checkpoint.py``), so no switch is needed here.
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

Ledger: RecBole 1.2.1 internals (private methods, and ``compatibility_settings``) overridden in the plugin's
subclasses, and why. A RecBole upgrade must re-read each of these::

| where | overrides | why |
|---|---|---|
| ``config.Config`` | ``compatibility_settings`` | numpy aliases from types every numpy has (above) |
| | ``_build_yaml_loader`` | RecBole's yaml loader, refusing a key set twice (``settings.YamlLoader``) |
| | ``_convert_config_dict`` | text values converted by ``ast.literal_eval``, not ``eval`` |
| | ``_load_config_files`` | a missing or malformed yaml names its file and line (``ConfigError``) |
| | ``_update_internal_config_dict`` | a properties yaml's problem names file and line; the file is remembered |
| | ``_load_cmd_line`` | the ``command_line`` dict the Config was given, never ``sys.argv`` |
| | ``_init_device`` | gloo on CPU for distributed runs (RecBole knows only nccl); joins the group once |
| | ``_get_model_and_dataset`` | plugin models first, RecBole's as the fallback; clear error when none given |
| | ``_load_internal_config_dict`` | the plugin's yaml layers (overall, outfit, the model's lineage, dataset) |
| ``data.dataset.OutfitDataset`` | ``_init_alias`` | ``.garment``'s token fields remapped with the outfits' garments |
| | ``_data_processing`` | checks the tables first, builds the outfit tables after |
| | ``_remap_ID_all`` | checks references on the remapped ids, before RecBole adds rows |
| | ``_load_feat`` | pandas' C parser and whole-column sequence splitting (same frame, seconds not minutes) |
| | ``_concat_remaped_tokens`` | ``np.concatenate`` instead of ``Series.agg`` (same array; ``fast_loader``) |
| | ``_remap`` | sequence lengths in one pass (same ids; ``fast_loader``) |
| | ``_fill_nan`` | missing sequence rows found by ``isna`` (same filling; ``fast_loader``) |
| | ``_dataframe_to_interaction`` | ``token_seq`` padded in one array operation (same tensor; ``fast_loader``) |
| ``data.dataloader.OutfitTrainDataLoader`` | ``_init_batch_size_and_step`` | a batch is ``train_batch_size`` positives; their negatives come from the outfit sampler |
| ``model.autoencoder.GarmentDataLoader`` | ``_init_batch_size_and_step`` | batches of garments (``autoencoder_batch_size``), not interactions |
| ``trainer.checkpointing.CheckpointMixin`` | ``_save_checkpoint`` | the best checkpoint published atomically, with resume state |
| ``trainer.mixed_precision.MixedPrecisionMixin`` | ``_train_epoch`` | the loss under the device's autocast dtype (bfloat16 / float16 + scaler) |
| ``trainer.mean_loss.MeanLossMixin`` | ``_train_epoch`` | each loss part's mean per batch kept; RecBole's GradScaler warning silenced |
| | ``_generate_train_loss_output`` | the epoch line's loss as the mean per batch, each part by name |
| | ``_add_train_loss_to_tensorboard`` | TensorBoard's loss as the same mean per batch |
| ``trainer.trainer.OutfitTrainerMixin`` | ``_train_epoch`` | the next batch's images read ahead |
| | ``_valid_epoch`` | validation metrics kept per epoch (the run's history) |
| | ``_build_optimizer`` | SGD with ``momentum`` (RecBole's SGD has none) |

Used without overriding: ``recbole.trainer.hyper_tuning._parameters`` (``experiments/hyper.py``).
"""

import contextlib
import logging
import os

import numpy as np

from recbole_outfit.run_id import run_file_name


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
    log_dir = os.path.join("log", config["model"])  # RecBole's init_logger: ./log/<model>/
    files_before = set(os.listdir(log_dir)) if os.path.isdir(log_dir) else set()
    init_logger(config)
    new = [_named_by_run_id(root, h, config) for h in list(root.handlers) if h not in before]
    _RUN_LOG_HANDLERS.extend(new)
    if not any(isinstance(h, logging.FileHandler) for h in new):
        # basicConfig installed nothing (the root logger already had handlers, e.g. a host program's): RecBole's
        # file stays empty; it still gets the run's name
        for name in set(os.listdir(log_dir)) - files_before:
            if name.endswith(".log") and os.path.getsize(os.path.join(log_dir, name)) == 0:
                os.replace(os.path.join(log_dir, name), os.path.join(log_dir, run_file_name(config, ".log")))


def _named_by_run_id(root, handler, config):
    """RecBole names the log file by its own timestamp and a hash of the config; the run's files share one id
    (``recbole_outfit.run_id``), so the file handler is replaced by one writing
    ``log/<model>/<model>-<dataset>-<id>.log``
    (same level, format and filters; RecBole's file, still empty, is removed). Other handlers pass through."""
    if not isinstance(handler, logging.FileHandler):
        return handler
    path = os.path.join(os.path.dirname(handler.baseFilename), run_file_name(config, ".log"))
    renamed = logging.FileHandler(path)
    renamed.setLevel(handler.level)
    renamed.setFormatter(handler.formatter)
    for log_filter in handler.filters:
        renamed.addFilter(log_filter)
    root.removeHandler(handler)
    handler.close()
    if os.path.isfile(handler.baseFilename) and os.path.getsize(handler.baseFilename) == 0:
        os.remove(handler.baseFilename)
    root.addHandler(renamed)
    return renamed

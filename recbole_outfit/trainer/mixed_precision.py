"""Mixed precision for RecBole trainers: ``enable_amp: True`` as it should work on each device.

RecBole 1.2.1's ``Trainer`` wraps each training loss in ``torch.autocast(device_type, enabled=enable_amp)``,
which means float16 on CUDA (with a ``GradScaler`` only if ``enable_scaler`` is also set, else float16
gradients can underflow to zero) and bfloat16 on CPU (slower than float32 there), and evaluates in float32.
:class:`MixedPrecisionMixin` replaces that policy:

* CUDA with bfloat16 support (Ampere and later): bfloat16 autocast, no loss scaling (bfloat16 has float32's
  exponent range, so gradients do not underflow);
* older CUDA devices: float16 autocast with a ``GradScaler`` (loss scaling is needed there);
* CPU: ignored, with one log line; the run trains and evaluates in float32.

Autocast covers training steps and evaluation passes (scoring); scores and losses compute in float32 inside
it (:mod:`recbole_outfit.model.float32_numerics`).
"""

import contextlib
import functools

import torch


def amp_dtype(config, device, logger=None):
    """The autocast dtype ``enable_amp`` asks for on ``device``: ``torch.bfloat16``, ``torch.float16``, or None
    (mixed precision off or not used on this device; a log line says why)."""
    if not config["enable_amp"]:
        return None
    device = torch.device(device)
    if device.type != "cuda":
        if logger is not None:
            logger.warning(f"enable_amp: True is ignored on {device.type.upper()}: mixed precision pays on CUDA "
                           "devices only, so this run trains and evaluates in float32")
        return None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if logger is not None:
        how = "no loss scaling" if dtype == torch.bfloat16 else "with loss scaling (GradScaler)"
        logger.info(f"Mixed precision on {torch.cuda.get_device_name(device)}: {dtype} autocast, {how}; "
                    "scores and losses in float32")
    return dtype


def autocast(device, dtype):
    """``torch.autocast`` for ``dtype`` on ``device``, or a context that does nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


class MixedPrecisionMixin:
    """RecBole trainer mixin: ``enable_amp`` / ``enable_scaler`` with the policy of the module docstring.

    Attributes: ``amp_dtype`` (None = float32). RecBole's own ``enable_amp`` is switched off (its autocast
    would pick float16 on CUDA) and the loss function is wrapped in this dtype's autocast instead;
    ``enable_scaler`` is True exactly for float16.
    """

    def __init__(self, config, model):
        super().__init__(config, model)
        self.amp_dtype = amp_dtype(config, self.device, self.logger)
        if config["enable_amp"]:
            if config["enable_scaler"] and self.amp_dtype == torch.bfloat16:
                self.logger.info("enable_scaler is ignored: bfloat16 autocast needs no loss scaling")
            self.enable_scaler = self.amp_dtype == torch.float16
        self.enable_amp = False  # RecBole's autocast stays off; _train_epoch applies ours

    def _autocast_loss(self, loss_func):
        @functools.wraps(loss_func)
        def loss_in_autocast(interaction):
            with autocast(self.device, self.amp_dtype):
                return loss_func(interaction)

        return loss_in_autocast

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        loss_func = loss_func or self.model.calculate_loss
        if self.amp_dtype is not None:
            loss_func = self._autocast_loss(loss_func)
        return super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        with autocast(self.device, self.amp_dtype):
            return super().evaluate(eval_data, load_best_model=load_best_model, model_file=model_file,
                                    show_progress=show_progress)

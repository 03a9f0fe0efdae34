"""The training loss as a mean per batch, in the log and TensorBoard, as the history and the curve show it.

RecBole's Trainer logs ``train loss`` as the sum over the epoch's batches (``train_loss1``, ``train_loss2`` for
the parts of a tuple). :class:`MeanLossMixin` keeps each part's mean per batch (``_epoch_losses``) and logs those,
each part by its name (a model's ``loss_part_names``). It also silences, around RecBole's training loop only, the
FutureWarning torch raises for the ``torch.cuda.amp.GradScaler`` RecBole 1.2.1 builds on every epoch.
"""

import warnings

from recbole.utils import set_color


class MeanLossMixin:
    """Mixed in before a RecBole trainer (see the module docstring)."""

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        self.__dict__.setdefault("_epoch_losses", {})  # epoch -> [mean loss per batch of each part]
        with warnings.catch_warnings():  # RecBole 1.2.1 builds torch.cuda.amp.GradScaler, deprecated in torch 2.4
            warnings.filterwarnings("ignore", message=r".*torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated",
                                    category=FutureWarning)
            total = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        parts = list(total) if isinstance(total, tuple) else [total]
        batches = max(len(train_data), 1)
        self._epoch_losses[epoch_idx] = [float(p) / batches for p in parts]
        return total

    def _loss_part_names(self, count):
        names = list(getattr(self.model, "loss_part_names", ()) or ())
        if len(names) != count:
            names = ["loss"] if count == 1 else [f"loss part {i + 1}" for i in range(count)]
        return names

    def _generate_train_loss_output(self, epoch_idx, s_time, e_time, losses):
        """RecBole's epoch line with the loss as the mean per batch (RecBole logs the sum over batches), each part
        by name: the figures the history and the training curve show."""
        means = getattr(self, "_epoch_losses", {}).get(epoch_idx)
        if means is None:
            return super()._generate_train_loss_output(epoch_idx, s_time, e_time, losses)
        places = self.config["loss_decimal_place"] or 4
        parts = ", ".join(f"{name} {value:.{places}f}" for name, value in zip(self._loss_part_names(len(means)), means))
        return (set_color(f"epoch {epoch_idx} training", "green") + " [" + set_color("time", "blue")
                + f": {e_time - s_time:.2f}s, " + set_color("train loss, mean per batch", "blue") + f": {parts}]")

    def _add_train_loss_to_tensorboard(self, epoch_idx, losses, tag="Loss/Train"):
        """TensorBoard gets the same mean per batch as the log and the curve."""
        means = getattr(self, "_epoch_losses", {}).get(epoch_idx)
        if means is None:
            return super()._add_train_loss_to_tensorboard(epoch_idx, losses, tag)
        return super()._add_train_loss_to_tensorboard(epoch_idx, tuple(means) if len(means) > 1 else means[0], tag)


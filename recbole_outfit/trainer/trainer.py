"""Trainers: RecBole's ``Trainer`` with what every model run through recbole-outfit needs.

:class:`OutfitTrainerMixin` adds, to any RecBole trainer class:

* the per-user ``Collector`` that the ``user_auc`` / ``user_ndcg`` metrics need;
* SGD with momentum (``learner: sgd`` + ``momentum``; the paper trains every model this way), since
  RecBole's ``sgd`` has no momentum;
* checkpoint names that cannot collide (RecBole names them by model and second, so two runs started in the
  same second overwrite each other): ``<model>-<dataset>-<time>-<random>.pth``;
* a per-epoch history (each loss part, as a mean per batch, and every validation metric; RecBole keeps only
  the summed loss): :meth:`OutfitTrainerMixin.history`. With ``plot: True`` the end of ``fit`` writes it
  beside the checkpoint as ``<checkpoint>-history.json`` and ``<checkpoint>-curve.png``;
* on the host image-store path, the next training batch's images read while the current one trains
  (:mod:`recbole_outfit.trainer.lookahead`, ``image_prefetch``);
* ``enable_amp`` as it should work on each device (bfloat16 autocast on CUDA, float16 with loss scaling where
  bfloat16 is missing, ignored with a log line on CPU): :mod:`recbole_outfit.trainer.mixed_precision`.
"""

import os

import torch
import torch.distributed as dist
from recbole.trainer import Trainer
from torch.nn.parallel import DistributedDataParallel

from recbole_outfit.compat import as_single_process
from recbole_outfit.evaluator.collector import PerUserCollector
from recbole_outfit.plots.draw import require_matplotlib, training_curve
from recbole_outfit.report import write_json_atomic
from recbole_outfit.run_id import run_file_name
from recbole_outfit.trainer.checkpointing import CheckpointMixin
from recbole_outfit.trainer.lookahead import Lookahead
from recbole_outfit.trainer.mean_loss import MeanLossMixin
from recbole_outfit.trainer.mixed_precision import MixedPrecisionMixin


class OutfitTrainerMixin(MeanLossMixin, MixedPrecisionMixin, CheckpointMixin):
    def __init__(self, config, model):
        distributed_cpu = not config["single_spec"] and config["device"].type == "cpu"
        with as_single_process(config, when=distributed_cpu):  # RecBole's DDP wrapper is CUDA-only
            super().__init__(config, model)
        if distributed_cpu:
            self.distributed_model = DistributedDataParallel(self.model)
        self.eval_collector = PerUserCollector(config)
        name = [run_file_name(config, ".pth")]  # the run's id, shared with its log and results JSON
        if not config["single_spec"]:  # every process must load the file the first one saves
            dist.broadcast_object_list(name, src=0)
        self.saved_model_file = os.path.join(self.checkpoint_dir, name[0])
        self._epoch_losses = {}  # epoch -> [mean loss per batch of each part]
        self._epoch_valid = {}  # epoch -> {metric: value}
        self.curve_file = None  # the PNG written by fit when config["plot"] is set

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        prefetch = getattr(self.model, "prefetch_batch", None)
        if prefetch is not None and self.model.reads_images_ahead():  # the next batch's images, meanwhile
            train_data = Lookahead(train_data, lambda batch: prefetch(batch.to(self.device)))
        return super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)

    def _valid_epoch(self, valid_data, show_progress=False):
        score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
        if self._epoch_losses:
            self._epoch_valid[max(self._epoch_losses)] = {k: float(v) for k, v in result.items()}
        return score, result

    def history(self):
        """Per-epoch training history: ``{"epochs": [...], "loss": {part: [mean per batch]}, "valid": {metric:
        [value or None]}, "valid_metric", "best_epoch"}`` (loss part names from the model's ``loss_part_names``
        when it has them; a single loss is ``loss``)."""
        epochs = sorted(self._epoch_losses)
        count = max((len(v) for v in self._epoch_losses.values()), default=0)
        names = self._loss_part_names(count)
        losses = {name: [self._epoch_losses[e][i] if i < len(self._epoch_losses[e]) else None for e in epochs]
                  for i, name in enumerate(names)}
        metrics = sorted({m for v in self._epoch_valid.values() for m in v})
        valid = {m: [self._epoch_valid.get(e, {}).get(m) for e in epochs] for m in metrics}
        key = self.config["valid_metric"].lower() if self.config["valid_metric"] else None
        scored = [(v[key], e) for e, v in self._epoch_valid.items() if key in v]
        best = None
        if scored:
            best = (max(scored) if self.config["valid_metric_bigger"] else min(scored))[1]
        return {"model": self.config["model"], "dataset": self.config["dataset"], "epochs": epochs, "loss": losses,
                "loss_unit": "mean per batch",
                "valid": valid, "valid_metric": key, "best_epoch": best}

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        if self.config["plot"]:
            require_matplotlib()  # a missing matplotlib is reported before training, not after
        result = super().fit(train_data, valid_data, verbose=verbose, saved=saved, show_progress=show_progress,
                             callback_fn=callback_fn)
        if self.config["plot"] and not self.config["local_rank"]:
            self.write_curve()
        return result

    def write_curve(self):
        """Write :meth:`history` as ``<checkpoint>-history.json`` and its picture as ``<checkpoint>-curve.png``
        (matplotlib, the ``plot`` extra); returns the PNG path."""
        stem = os.path.splitext(self.saved_model_file)[0]
        os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
        history = self.history()
        write_json_atomic(stem + "-history.json", history)
        self.curve_file = training_curve(history, stem + "-curve.png",
                                         title=f"{history['model']} on {history['dataset']}")
        self.logger.info(f"Training curve written to {self.curve_file}")
        return self.curve_file

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model and not self.config["single_spec"]:
            dist.barrier()  # the first process has written the best checkpoint
        return super().evaluate(eval_data, load_best_model=load_best_model, model_file=model_file,
                                show_progress=show_progress)

    def _build_optimizer(self, **kwargs):
        learner = kwargs.get("learner", self.learner)
        momentum = self.config["momentum"] or 0.0
        if learner.lower() == "sgd" and momentum > 0:
            params = kwargs.pop("params", self.model.parameters())
            return torch.optim.SGD(params, lr=kwargs.get("learning_rate", self.learning_rate), momentum=momentum,
                                   weight_decay=kwargs.get("weight_decay", self.weight_decay))
        return super()._build_optimizer(**kwargs)


def with_outfit_evaluation(trainer_class):
    """``trainer_class`` (a RecBole trainer) with :class:`OutfitTrainerMixin` mixed in."""
    if issubclass(trainer_class, OutfitTrainerMixin):
        return trainer_class
    return type(f"Outfit{trainer_class.__name__}", (OutfitTrainerMixin, trainer_class), {})


class OutfitTrainer(OutfitTrainerMixin, Trainer):
    """The trainer of the plugin's models."""

"""Trainers: RecBole's ``Trainer`` with what every model run through recbole-outfit needs.

:class:`OutfitTrainerMixin` adds, to any RecBole trainer class:

* the per-user ``Collector`` that the ``user_auc`` / ``user_ndcg`` metrics need;
* SGD with momentum (``learner: sgd`` + ``momentum``; the paper trains every model this way), since
  RecBole's ``sgd`` has no momentum;
* checkpoint names that cannot collide (RecBole names them by model and second, so two runs started in the
  same second overwrite each other): ``<model>-<dataset>-<time>-<random>.pth``;
* ``enable_amp`` as it should work on each device (bfloat16 autocast on CUDA, float16 with loss scaling where
  bfloat16 is missing, ignored with a log line on CPU): :mod:`recbole_outfit.trainer.precision`.
"""

import os
import uuid

import torch
import torch.distributed as dist
from recbole.trainer import Trainer
from recbole.utils import get_local_time
from torch.nn.parallel import DistributedDataParallel

from recbole_outfit.compat import as_single_process
from recbole_outfit.evaluator.collector import PerUserCollector
from recbole_outfit.trainer.precision import MixedPrecisionMixin


class OutfitTrainerMixin(MixedPrecisionMixin):
    def __init__(self, config, model):
        distributed_cpu = not config["single_spec"] and config["device"].type == "cpu"
        with as_single_process(config, when=distributed_cpu):  # RecBole's DDP wrapper is CUDA-only
            super().__init__(config, model)
        if distributed_cpu:
            self.distributed_model = DistributedDataParallel(self.model)
        self.eval_collector = PerUserCollector(config)
        name = [f"{config['model']}-{config['dataset']}-{get_local_time()}-{uuid.uuid4().hex[:6]}.pth"]
        if not config["single_spec"]:  # every process must load the file the first one saves
            dist.broadcast_object_list(name, src=0)
        self.saved_model_file = os.path.join(self.checkpoint_dir, name[0])

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

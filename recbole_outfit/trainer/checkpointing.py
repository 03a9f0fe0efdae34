"""A trainer's checkpoints: written atomically, read with torch's weights-only loader, and resumable.

:class:`CheckpointMixin` (part of every plugin trainer) adds to RecBole's ``Trainer``:

* the best checkpoint is published atomically (a killed run never leaves a half-written best model), with a
  checksum of its tensors that every load verifies (:func:`recbole_outfit.checkpoint.save_checkpoint`; a full
  disk stops the run with one paragraph and exit 2, the partial file removed), and loaded back for testing through :func:`recbole_outfit.checkpoint.load_checkpoint` (weights-only; a file
  that needs full unpickling only with ``trust_checkpoint: True``);
* with :attr:`resume_file` set (the pipeline sets it per run configuration), after every validation the
  whole training state is written there: weights, optimizer, epoch, early-stopping state (``cur_step``,
  best score and result), the best checkpoint's path, and every random state the next epoch draws from
  (torch, numpy, Python, the training loader's shuffling generator and the negative sampler's generator);
* :meth:`resume_checkpoint` (RecBole's name) loads such a state, so :meth:`fit` continues with the next
  epoch exactly as the uninterrupted run would have.
"""

import random
import time

import numpy as np
import torch

from recbole_outfit.checkpoint import load_checkpoint, save_checkpoint


def random_state(train_data):
    """Every random state the next training epoch draws from, as tensors and plain data."""
    numpy_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
             "loader": train_data.generator.get_state() if getattr(train_data, "generator", None) else None,
             "sampler": None}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    sampler_rng = getattr(getattr(train_data, "_sampler", None), "rng", None)
    if isinstance(sampler_rng, np.random.Generator):
        state["sampler"] = sampler_rng.bit_generator.state
    return state


def set_random_state(state, train_data):
    """Restore what :func:`random_state` captured."""
    torch.set_rng_state(state["torch"])
    random.setstate((state["python"][0], tuple(state["python"][1]), state["python"][2]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if state["loader"] is not None:
        train_data.generator.set_state(state["loader"])
    if state["sampler"] is not None:
        train_data._sampler.rng.bit_generator.state = state["sampler"]


class CheckpointMixin:
    """See the module docstring. Mixed into RecBole trainers before ``Trainer``."""

    resume_file = None  # where the resume state goes after each validation; None = not kept
    _pending_random_state = None  # restored when fit starts (the loader it belongs to arrives there)

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        """RecBole's best checkpoint, published atomically."""
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        path = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {"config": self.config, "epoch": epoch, "cur_step": self.cur_step,
                 "best_valid_score": self.best_valid_score, "state_dict": self.model.state_dict(),
                 "other_parameter": self.model.other_parameter(), "optimizer": self.optimizer.state_dict()}
        save_checkpoint(state, path)  # atomic, checksummed; a full disk is one paragraph
        if verbose:
            self.logger.info(f"Saving current: {path}")

    def _save_resume_state(self, epoch, train_data):
        state = {"config": self.config, "epoch": epoch, "cur_step": self.cur_step,
                 "best_valid_score": self.best_valid_score,
                 "best_valid_result": dict(self.best_valid_result or {}), "saved_model_file": self.saved_model_file,
                 "state_dict": self.model.state_dict(), "other_parameter": self.model.other_parameter(),
                 "optimizer": self.optimizer.state_dict(), "train_loss_dict": dict(self.train_loss_dict),
                 "random_state": random_state(train_data)}
        save_checkpoint(state, self.resume_file)

    def resume_checkpoint(self, resume_file):
        """Continue from a resume state (see the module docstring); ``fit`` then starts at the next epoch."""
        state = load_checkpoint(resume_file, trust=self.config["trust_checkpoint"], map_location=self.device,
                                where="resume")
        self.start_epoch = state["epoch"] + 1
        self.cur_step = state["cur_step"]
        self.best_valid_score = state["best_valid_score"]
        self.best_valid_result = state["best_valid_result"] or None
        self.saved_model_file = state["saved_model_file"]
        self.train_loss_dict = {int(k): v for k, v in state["train_loss_dict"].items()}
        self.model.load_state_dict(state["state_dict"])
        self.model.load_other_parameter(state.get("other_parameter"))
        self.optimizer.load_state_dict(state["optimizer"])
        self._pending_random_state = state["random_state"]
        self.logger.info(f"Resuming from {resume_file}: epoch {self.start_epoch} is next (best "
                         f"{self.config['valid_metric']} so far {self.best_valid_score:.4f})")

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        if self._pending_random_state is not None:
            set_random_state(self._pending_random_state, train_data)
            self._pending_random_state = None

        started, first_epoch = time.time(), self.start_epoch

        def after_validation(epoch, valid_score):
            if epoch == first_epoch and self.epochs - epoch - 1 > 0:  # how long the rest of this run (or stage) takes
                seconds = time.time() - started
                left = (self.epochs - epoch - 1) * seconds
                self.logger.info(f"{self.config['model']}: epoch {epoch} took {seconds:.0f} s (validation included); "
                                 f"the remaining {self.epochs - epoch - 1} epochs take up to {left / 60:.1f} min "
                                 f"(early stopping may end sooner)")
            if self.resume_file and (self.config["single_spec"] or not self.config["local_rank"]):
                self._save_resume_state(epoch, train_data)
            if callback_fn is not None:
                callback_fn(epoch, valid_score)

        return super().fit(train_data, valid_data, verbose=verbose, saved=saved, show_progress=show_progress,
                           callback_fn=after_validation)

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        """RecBole's evaluate; the best checkpoint is read with the weights-only loader first."""
        if load_best_model:
            path = model_file or self.saved_model_file
            checkpoint = load_checkpoint(path, trust=self.config["trust_checkpoint"], map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {path}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

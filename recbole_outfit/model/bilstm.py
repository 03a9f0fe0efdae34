"""Bi-LSTM: an outfit as a sequence, forward and backward next-garment prediction, non-personalized.

Han, Wu, Jiang, Davis, "Learning Fashion Compatibility with Bidirectional LSTMs", ACM MM 2017 (a baseline of
the FND-CL paper, Table 2 and 3); public code xthan/polyvore (``polyvore_model_bi.py``,
``fashion_compatibility.py``) and its PyTorch port in WangXin93/fashion_compatibility_mcn
(``baselines/bilstm``).

What it follows:

* the outfit as a sequence in the dataset's slot order, top to bottom as the paper's: the top (Polyvore-519's
  second top next to the first, where there is one), bottom, shoes (padding slots skipped); the item encoder's
  features ``f(x_t)`` are the LSTM inputs;
* a forward LSTM reads ``x_1..x_{t}`` and predicts ``x_{t+1}``, a backward LSTM reads the reversed sequence and
  predicts ``x_{t-1}`` (two one-directional LSTMs of ``embedding_size`` units, dropout ``bilstm_dropout`` on
  their inputs and outputs, the reference's keep probability 0.7), each output mapped by a linear layer into
  the feature space (the reference's ``f_logits`` / ``b_logits``);
* training: the softmax cross-entropy of each prediction among in-batch candidates (the reference's
  "softmax loss over all items in this minibatch"), mean over positions, forward plus backward;
* score of an outfit = minus the sum of the two directions' mean cross-entropy, the candidates being every
  garment of the dataset the model scores (``run_compatibility_inference`` takes the loss against the whole
  test set); a cold-start dataset's own garments when the model is pointed at it.

Departures: Polyvore-U's tuples carry no text, so the visual-semantic embedding loss is left out; an outfit of
N garments gives N - 1 predictions per direction, as in the PyTorch port (xthan's reference adds an N-th, a
zero-vector END target after the last garment, in training and in the score); the candidates in training are
every distinct garment of the batch, the sampled negatives' too (``bilstm_negative_candidates``; False = the
positives' garments only, nearer the reference, whose candidates are each direction's targets), and one garment
that two outfits of the batch share is one candidate (the reference counts each occurrence); at test time every
garment of the dataset (train and test) is a candidate, not the test split's only. The FND-CL paper "for a more fair
comparison" applies temperature scaling to its cross-entropy baselines: the logits are ``cos(p, f(x)) / tau``
(``bilstm_cosine: True``, ``tau`` the shared temperature key); ``bilstm_cosine: False`` with ``tau: 1`` is the
reference's plain dot product. The plugin's optimiser, batch and image size for every baseline (the
reference: SGD 0.2, gradient clipping 5, Inception-v3).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS
from recbole_outfit.model.compatibility import CompatibilityRecommender


def compact(garments, x):
    """Move each outfit's garments to the front, in slot order: garments ``[M, L]``, x ``[M, L, d]`` ->
    (garments, x, lengths ``[M]``)."""
    order = torch.argsort((garments <= 0).to(torch.int8), dim=1, stable=True)  # [M, L]
    return garments.gather(1, order), x.gather(1, order.unsqueeze(-1).expand_as(x)), (garments > 0).sum(1)


def reverse(values, lengths):
    """Reverse each row's first ``lengths`` entries of ``values [M, L, ...]``, padding left in place."""
    length = values.shape[1]
    steps = torch.arange(length, device=values.device).unsqueeze(0)  # [1, L]
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)  # [M, L]
    index = index.view(index.shape + (1,) * (values.dim() - 2)).expand_as(values)
    return values.gather(1, index)


class NextGarmentLSTMs(nn.Module):
    """Forward and backward LSTMs predicting an outfit's next (previous) garment among candidates."""

    def __init__(self, dim, dropout=0.3, cosine=True, tau=0.1):
        super().__init__()
        self.cosine, self.tau = cosine, tau
        self.forward_lstm = nn.LSTM(dim, dim, batch_first=True)
        self.backward_lstm = nn.LSTM(dim, dim, batch_first=True)
        self.forward_out = nn.Linear(dim, dim)
        self.backward_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def predictions(self, lstm, out, x):
        """Predicted next features for every position but the last: x ``[M, L, d]`` -> ``[M, L - 1, d]``."""
        outputs, _ = lstm(self.dropout(x[:, :-1]))
        return out(self.dropout(outputs))

    def logits(self, predicted, candidates):
        """``[..., d]`` x candidates ``[G, d]`` -> ``[..., G]``: ``cos / tau`` (or ``dot / tau``)."""
        if self.cosine:
            predicted, candidates = F.normalize(predicted, dim=-1), F.normalize(candidates, dim=-1)
        return predicted @ candidates.t() / self.tau

    def forward(self, x, targets, lengths, candidates, chunk=256):
        """Cross-entropy of each direction's predictions.

        Args:
            x: ``[M, L, d]`` compacted sequences (:func:`compact`); targets ``[M, L]`` each slot's index in
                ``candidates`` (any value in padding); lengths ``[M]`` (at least 2); candidates ``[G, d]``.
            chunk: outfits per logits block (bounds the ``[chunk, L - 1, G]`` memory).
        Returns:
            ``(forward [M, L - 1], backward [M, L - 1], valid [M, L - 1])``: per-position losses and their mask.
        """
        valid = torch.arange(1, x.shape[1], device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # [M, L-1]
        directions = []
        for lstm, out, seq, tgt in ((self.forward_lstm, self.forward_out, x, targets),
                                    (self.backward_lstm, self.backward_out, reverse(x, lengths), reverse(targets, lengths))):
            predicted = self.predictions(lstm, out, seq)  # [M, L-1, d]
            target = tgt[:, 1:].clamp_min(0)  # [M, L-1]
            losses = [F.cross_entropy(self.logits(p, candidates).flatten(0, 1), t.flatten(), reduction="none")
                      for p, t in zip(predicted.split(chunk), target.split(chunk))]
            directions.append(torch.cat(losses).view(target.shape) * valid)
        return directions[0], directions[1], valid

    def outfit_scores(self, x, targets, lengths, candidates):
        """Minus the sum of the two directions' mean cross-entropy per outfit -> ``[M]``."""
        forward, backward, valid = self(x, targets, lengths, candidates)
        count = valid.sum(1).clamp_min(1)
        return -(forward.sum(1) / count + backward.sum(1) / count)


class BiLSTM(CompatibilityRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.negative_candidates = config["bilstm_negative_candidates"]

        # define layers and loss
        self.lstms = NextGarmentLSTMs(self.embedding_size, config["bilstm_dropout"], config["bilstm_cosine"],
                                      config["tau"])

    def compatibility(self, x, mask, garments):
        """Against every garment of the dataset (ids 1 .. n - 1; each encoded once per evaluation pass)."""
        candidate_ids = torch.arange(1, self.n_garments, device=garments.device)
        candidates = self.encode_garments(candidate_ids)  # [G, d]
        ids, x, lengths = compact(garments, x)
        return self.lstms.outfit_scores(x, ids - 1, lengths, candidates)  # [M]

    def calculate_loss(self, interaction):
        positives = interaction[GARMENTS]  # [B, L]
        pool = torch.cat([positives.flatten(), interaction[NEG_GARMENTS].flatten()]) if self.negative_candidates \
            else positives.flatten()
        candidate_ids = torch.unique(pool[pool > 0])  # [G], sorted
        candidates = self.encode_garments(candidate_ids)  # [G, d]
        ids, _, lengths = compact(positives, positives.unsqueeze(-1))
        targets = torch.searchsorted(candidate_ids, ids)  # [B, L] index of each garment among the candidates
        x = candidates[targets.clamp_max(len(candidate_ids) - 1)] * (ids > 0).unsqueeze(-1)  # [B, L, d]
        forward, backward, valid = self.lstms(x, targets, lengths, candidates)
        count = valid.sum().clamp_min(1)
        return forward.sum() / count, backward.sum() / count

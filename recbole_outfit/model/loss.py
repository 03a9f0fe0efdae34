"""Losses of the paper, by equation number.

All take scores that are cosine similarities ``r`` and return a scalar mean over the batch. ``neg_mask``
(``[B, N]`` bool, True = use) drops entries of a shared negative pool that must not count for a row
(e.g. a user's own positive when other users' positives serve as negatives). Every loss computes in float32,
also inside an autocast region (``enable_amp``): see :mod:`recbole_outfit.model.float32_numerics`.
"""

import torch
import torch.nn.functional as F

from recbole_outfit.model.float32_numerics import float32


@float32
def npair_loss(pos, neg, tau, neg_mask=None):
    """Eq. 10: ``-1/B sum log( e^{r_ij/tau} / (e^{r_ij/tau} + sum_k e^{r_ijk/tau}) )``.

    pos ``[B]``, neg ``[B, N]`` -> scalar.
    """
    logits = torch.cat([pos.unsqueeze(1), neg], dim=1) / tau  # [B, 1 + N]
    if neg_mask is not None:
        keep = torch.cat([torch.ones_like(neg_mask[:, :1]), neg_mask], dim=1)
        logits = logits.masked_fill(~keep, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - pos / tau).mean()


@float32
def fnd_loss(pos, neg, d, tau, neg_mask=None):
    """Eq. 13-14: the N-pair loss with each negative's term ``exp(d_ijk * r_ijk / tau)``.

    pos ``[B]``, neg ``[B, N]``, d ``[B, N]`` (Eq. 12, constant) -> scalar. With every d = 1 this is
    :func:`npair_loss`; d_ijk < 0 pulls the negative towards the user (Eq. 16).
    """
    return npair_loss(pos, d * neg, tau, neg_mask)


@float32
def nt_xent(z1, z2, tau):
    """Eq. 17-18: NT-Xent over 2N views; ``z1[n]`` and ``z2[n]`` are the two views of outfit n.

    z1, z2 ``[N, k]`` projection outputs (cosine similarities are taken here) -> scalar
    ``1/2N sum_n [l(2n-1, 2n) + l(2n, 2n-1)]``.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # [2N, k]
    similarity = z @ z.t() / tau  # s_{n,m} / tau
    similarity = similarity.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


@float32
def bpr_loss(pos, neg, tau=1.0, neg_mask=None):
    """BPR with temperature (the paper's fair baseline setting, section 4.1.3):
    ``-mean log sigmoid((r_ij - r_ijk) / tau)`` over every (row, negative) pair."""
    losses = -F.logsigmoid((pos.unsqueeze(1) - neg) / tau)  # [B, N]
    if neg_mask is None:
        return losses.mean()
    return (losses * neg_mask).sum() / neg_mask.sum().clamp_min(1)

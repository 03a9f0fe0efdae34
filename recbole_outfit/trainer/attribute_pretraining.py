"""Training the :class:`~recbole_outfit.model.attribute_classifier.AttributeClassifier` on a garment pool.

A plain loop (the pool is an array of images, not a RecBole dataset): Adam over shuffled batches of the
training part of the pool, one RecBole-style log line per epoch (time, loss, the held-out part's accuracy per
attribute) and a tqdm bar per epoch when ``show_progress`` is on. The held-out part (the last
:data:`HELD_OUT_SHARE` of the pool) is never trained on; its accuracy says how well the features see.
"""

import time
from logging import getLogger

import torch
from recbole.utils import set_color
from tqdm import tqdm

HELD_OUT_SHARE = 0.1  # share of the pool kept for measuring attribute accuracy


def _batch(pool, rows, device):
    """uint8 images ``[b, 3, S, S]`` and ``{attribute: int64 [b]}`` of pool rows ``rows`` (a LongTensor)."""
    index = rows.numpy()
    images = torch.from_numpy(pool.images[index]).to(device)
    labels = {name: torch.from_numpy(values[index]).to(device) for name, values in pool.labels.items()}
    return images, labels


def held_out_accuracy(model, pool, rows, batch_size, device):
    """``{attribute: accuracy}`` of ``model`` on pool rows ``rows`` (eval mode)."""
    model.eval()
    correct = dict.fromkeys(model.heads, 0)
    for part in rows.split(batch_size):
        for name, count in model.correct(*_batch(pool, part, device)).items():
            correct[name] += count
    return {name: round(count / max(len(rows), 1), 4) for name, count in correct.items()}


def pretrain_features(model, pool, epochs, learning_rate, batch_size, device, show_progress=True):
    """Train ``model`` (an ``AttributeClassifier``, on ``device``) on ``pool`` for ``epochs`` epochs; returns
    ``{"epochs": [{"epoch", "seconds", "loss", "accuracy"}], "held_out": n, "trained_on": n}``. Shuffling draws
    from torch's global generator (seed it first)."""
    logger = getLogger()
    held_out = max(1, int(round(len(pool) * HELD_OUT_SHARE)))
    train_rows, test_rows = torch.arange(len(pool) - held_out), torch.arange(len(pool) - held_out, len(pool))
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = []
    for epoch in range(epochs):
        model.train()
        started, total, batches = time.time(), 0.0, 0
        order = train_rows[torch.randperm(len(train_rows))]
        parts = order.split(batch_size)
        for part in tqdm(parts, desc=f"Pretrain {epoch:>3}", disable=not show_progress, ncols=100):
            loss = model.loss(*_batch(pool, part, device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        accuracy = held_out_accuracy(model, pool, test_rows, batch_size, device)
        seconds = time.time() - started
        history.append({"epoch": epoch, "seconds": round(seconds, 2), "loss": round(total / max(batches, 1), 4),
                        "accuracy": accuracy})
        logger.info(set_color(f"epoch {epoch} pretraining", "green")
                    + f" [time: {seconds:.2f}s, train loss: {total / max(batches, 1):.4f}, held-out accuracy: "
                    + ", ".join(f"{name} {value:.3f}" for name, value in accuracy.items()) + "]")
    return {"epochs": history, "held_out": held_out, "trained_on": len(train_rows)}
